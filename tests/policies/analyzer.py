"""Drive the policy pack through pulumi-policy's analyzer servicer, as the engine does (in-process).

The pack's own ``policies/__main__.py`` is executed with ``PolicyPack`` swapped for a recorder, so the
servicer is built from exactly the arguments the real pack passes. Then, like the CLI:
``GetAnalyzerInfo`` -> reconcile the ``--policy-pack-config`` file with the schema defaults ("all" first,
then per policy) and validate it (``tools/policy_config.py``, the offline preview's merge) -> ``Configure``
-> ``Analyze`` / ``AnalyzeStack`` with real ``analyzer_pb2`` requests whose properties are
``google.protobuf.Struct``s (``tools/wire.py``).

    diags = analyze(Azure.VAULT, valid_vault(), config="prod")  # the type tokens: tests/resource_types.py
    assert names(diags) == []
"""

from __future__ import annotations

import copy
import json
import runpy
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

from google.protobuf import struct_pb2
from pulumi.runtime.proto import analyzer_pb2

from policies.k8s_versions import default_minor
from tools import wire
from tools.analyzer_host import analyzer_info, configure_request
from tools.policy_config import PolicyConfig, parse_policy_config, reconcile

ROOT = Path(__file__).resolve().parents[2]
POLICIES_DIR = ROOT / "policies"
CONFIG_DIR = POLICIES_DIR / "config"

if str(POLICIES_DIR) not in sys.path:
    sys.path.append(str(POLICIES_DIR))  # the pack imports its rules as the top-level package `rules`

import pulumi_policy  # noqa: E402
from pulumi_policy.policy import _PolicyAnalyzerServicer  # noqa: E402

import rules  # noqa: E402  (the same module objects the pack's __main__ uses)
from rules.common import RULES  # noqa: E402

UNKNOWN = wire.UNKNOWN  # what the engine sends for a value it cannot know during preview


# --------------------------------------------------------------------------- the pack


@lru_cache(maxsize=1)
def pack_arguments() -> dict[str, Any]:
    """Run ``policies/__main__.py`` and capture what it passes to ``PolicyPack`` (no gRPC server)."""
    captured: dict[str, Any] = {}

    class Recorder:
        def __init__(self, **kwargs: Any) -> None:
            captured.update(kwargs)

    real = pulumi_policy.PolicyPack
    pulumi_policy.PolicyPack = Recorder  # type: ignore[misc, assignment]
    try:
        runpy.run_path(str(POLICIES_DIR / "__main__.py"), run_name="__main__")
    finally:
        pulumi_policy.PolicyPack = real  # type: ignore[misc]
    assert captured, "policies/__main__.py did not construct a PolicyPack"
    return captured


def new_servicer() -> _PolicyAnalyzerServicer:
    a = pack_arguments()
    return _PolicyAnalyzerServicer(
        a["name"],
        "0.0.1",
        a["policies"],
        a.get("enforcement_level") or pulumi_policy.EnforcementLevel.ADVISORY,
        a.get("initial_config"),
        a.get("description"),
        a.get("display_name"),
        a.get("readme"),
        a.get("provider"),
        a.get("tags"),
        a.get("repository"),
    )


def load_config(config: str | Mapping[str, Any] | None) -> dict[str, Any]:
    if config is None:
        return {}
    if isinstance(config, str):
        return json.loads((CONFIG_DIR / f"{config}.json").read_text())
    return copy.deepcopy(dict(config))


@dataclass
class Analyzer:
    servicer: _PolicyAnalyzerServicer
    info: analyzer_pb2.AnalyzerInfo
    effective: dict[str, PolicyConfig]


@lru_cache(maxsize=8)
def _configured(config_key: str) -> Analyzer:
    return configured(json.loads(config_key))


def configured(config: str | Mapping[str, Any] | None) -> Analyzer:
    """A servicer configured as the CLI would with ``--policy-pack-config`` (a name under policies/config or a dict).

    The config is merged by ``tools/policy_config.py`` in strict mode: an entry naming no policy or a property a
    policy does not declare is a typo, and raises ``PolicyConfigError``.
    """
    if isinstance(config, str):
        return _configured(json.dumps(load_config(config), sort_keys=True))
    servicer = new_servicer()
    info = servicer.GetAnalyzerInfo(None, None)
    pack = analyzer_info(info, info.version)
    effective = reconcile(
        pack.policies, parse_policy_config(load_config(config)), initial=pack.initial_config, strict=True
    )
    servicer.Configure(configure_request(effective), None)
    return Analyzer(servicer, info, effective)


# --------------------------------------------------------------------------- requests


@dataclass
class Diag:
    policy: str
    level: str  # mandatory | advisory | ...
    message: str
    urn: str = ""
    severity: int = 0

    @property
    def cannot_check(self) -> bool:
        return "during preview" in self.message

    def __str__(self) -> str:
        where = f" [{self.urn}]" if self.urn else ""
        return f"{self.level.upper()} {self.policy}{where}: {self.message.splitlines()[-1]}"


def _struct(props: Mapping[str, Any]) -> struct_pb2.Struct:
    # Through JSON first: what a test builds (tuples, odd values) reaches the pack as the engine would send it.
    return wire.to_struct(json.loads(json.dumps(props, default=str)))


def _diags(response: analyzer_pb2.AnalyzeResponse) -> list[Diag]:
    return [
        Diag(d.policyName, analyzer_pb2.EnforcementLevel.Name(d.enforcementLevel).lower(), d.message, d.urn, d.severity)
        for d in response.diagnostics
    ]


def urn_for(resource_type: str, name: str, stack: str = "test") -> str:
    return f"urn:pulumi:{stack}::platform::{resource_type}::{name}"


def analyze(
    resource_type: str,
    props: Mapping[str, Any],
    config: str | Mapping[str, Any] | None = "prod",
    *,
    name: str = "test",
    urn: str | None = None,
    protect: bool = False,
    parent: str = "",
) -> list[Diag]:
    """Run every resource policy against one resource (an ``AnalyzeRequest``) and return the diagnostics."""
    analyzer = configured(config)
    request = analyzer_pb2.AnalyzeRequest(
        type=resource_type,
        properties=_struct(props),
        urn=urn or urn_for(resource_type, name),
        name=name,
        options=analyzer_pb2.AnalyzerResourceOptions(protect=protect, parent=parent),
    )
    return _diags(analyzer.servicer.Analyze(request, None))


@dataclass
class StackResource:
    type: str
    name: str
    props: dict
    protect: bool = False
    parent: str = ""
    dependencies: list[str] = field(default_factory=list)
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)
    urn: str = ""

    def __post_init__(self) -> None:
        self.urn = self.urn or urn_for(self.type, self.name)


def analyze_stack(
    resources: Iterable[Any], config: str | Mapping[str, Any] | None = "prod", *, with_resources: bool = True
) -> list[Diag]:
    """Run the stack policies (``AnalyzeStack``) and, unless told not to, every resource policy on each resource.

    ``resources`` are ``StackResource``s or ``tools.program_runner.RecordedResource``s.
    """
    analyzer = configured(config)
    request = analyzer_pb2.AnalyzeStackRequest()
    diags: list[Diag] = []
    for r in resources:
        props = r.props if hasattr(r, "props") else r.inputs
        deps = r.property_dependencies
        msg = analyzer_pb2.AnalyzerResource(
            type=r.type,
            properties=_struct(props),
            urn=r.urn,
            name=r.name,
            options=analyzer_pb2.AnalyzerResourceOptions(protect=bool(r.protect), parent=r.parent or ""),
            parent=r.parent or "",
            dependencies=list(r.dependencies),
        )
        for key, urns in deps.items():
            msg.propertyDependencies[key].urns.extend(urns)
        request.resources.append(msg)
        if with_resources:
            diags.extend(
                _diags(
                    analyzer.servicer.Analyze(
                        analyzer_pb2.AnalyzeRequest(
                            type=r.type, properties=msg.properties, urn=r.urn, name=r.name, options=msg.options
                        ),
                        None,
                    )
                )
            )
    diags.extend(_diags(analyzer.servicer.AnalyzeStack(request, None)))
    return diags


def names(diags: Iterable[Diag], level: str | None = None) -> list[str]:
    return sorted({d.policy for d in diags if level is None or d.level == level})


def violations(diags: Iterable[Diag]) -> list[Diag]:
    """Real findings (not the 'cannot check yet during preview' advisories)."""
    return [d for d in diags if not d.cannot_check]


def report(diags: Iterable[Diag]) -> str:
    return "\n".join(str(d) for d in diags) or "(none)"


# --------------------------------------------------------------------------- valid resources
# Each builder returns the wire inputs (camelCase) of a resource that passes every rule; tests change one field.


def valid_cluster(name: str = "plat-prod-aks") -> dict:
    return {
        "resourceName": name,
        "resourceGroupName": "plat-prod-rg",
        "location": "westeurope",
        "dnsPrefix": name,
        "sku": {"name": "Base", "tier": "Standard"},
        # Always a supported minor: the one the program defaults to today.
        "kubernetesVersion": default_minor(date.today()),
        "enableRBAC": True,
        "disableLocalAccounts": True,
        "aadProfile": {
            "managed": True,
            "enableAzureRBAC": True,
            "adminGroupObjectIds": ["0b9e5f2c-7d1a-4c3b-8e6f-2a4b6c8d0e1f"],
        },
        "apiServerAccessProfile": {
            "authorizedIPRanges": ["198.51.100.16/28"],
            "disableRunCommand": True,
            # KMS with a private vault (below) needs API Server VNet Integration.
            "enableVnetIntegration": True,
            "subnetId": "/subscriptions/8c3f5d2a-1b4e-4f6a-9d7c-2e5b8a1c4f90/resourceGroups/plat-prod-rg/providers/"
            "Microsoft.Network/virtualNetworks/plat-prod-vnet/subnets/api-server",
        },
        "autoUpgradeProfile": {"nodeOSUpgradeChannel": "NodeImage", "upgradeChannel": "patch"},
        "networkProfile": {
            "networkPlugin": "azure",
            "networkPluginMode": "overlay",
            "networkPolicy": "cilium",
            "networkDataplane": "cilium",
            "outboundType": "userDefinedRouting",
        },
        "oidcIssuerProfile": {"enabled": True},
        "identity": {
            "type": "UserAssigned",
            "userAssignedIdentities": [
                "/subscriptions/8c3f5d2a-1b4e-4f6a-9d7c-2e5b8a1c4f90/resourceGroups/plat-prod-rg/providers/"
                "Microsoft.ManagedIdentity/userAssignedIdentities/plat-prod-etcd-kms"
            ],
        },
        "securityProfile": {
            "workloadIdentity": {"enabled": True},
            "azureKeyVaultKms": {
                "enabled": True,
                "keyId": "https://plat-prod-kv.vault.azure.net/keys/aks-etcd-kms/0123456789abcdef0123456789abcdef",
                "keyVaultNetworkAccess": "Private",
                "keyVaultResourceId": "/subscriptions/8c3f5d2a-1b4e-4f6a-9d7c-2e5b8a1c4f90/resourceGroups/"
                "plat-prod-rg/providers/Microsoft.KeyVault/vaults/plat-prod-kv",
            },
        },
        "agentPoolProfiles": [
            {
                "name": "system",
                "mode": "System",
                "count": 3,
                "vmSize": "Standard_D4ds_v5",
                "availabilityZones": ["1", "2", "3"],
            },
            {
                "name": "user",
                "mode": "User",
                "enableAutoScaling": True,
                "minCount": 3,
                "maxCount": 12,
                "vmSize": "Standard_D8ds_v5",
                "availabilityZones": ["1", "2", "3"],
            },
        ],
    }


VAULT_REF = {"vaultName": "plat-prod-kv", "resourceGroupName": "plat-prod-rg"}  # the vault and its secrets name it


def valid_vault() -> dict:
    return {
        **VAULT_REF,
        "location": "westeurope",
        "properties": {
            "tenantId": "72f988bf-86f1-41af-91ab-2d7cd011db47",
            "sku": {"family": "A", "name": "premium"},
            "enableRbacAuthorization": True,
            "enableSoftDelete": True,
            "softDeleteRetentionInDays": 90,
            "enablePurgeProtection": True,
            "publicNetworkAccess": "Disabled",
            "networkAcls": {
                "defaultAction": "Deny",
                "bypass": "AzureServices",
                "ipRules": [{"value": "198.51.100.16/28"}],
            },
        },
    }


def k8s(api_version: str, kind: str, name: str, namespace: str | None, spec: Any = None, **extra: Any) -> dict:
    meta: dict[str, Any] = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    obj: dict[str, Any] = {"apiVersion": api_version, "kind": kind, "metadata": meta}
    if spec is not None:
        obj["spec"] = spec
    obj.update(extra)
    return obj


def valid_peer_authentication(namespace: str = "istio-system", name: str = "default") -> dict:
    return k8s("security.istio.io/v1", "PeerAuthentication", name, namespace, {"mtls": {"mode": "STRICT"}})


def valid_authorization_policy(namespace: str = "shop") -> dict:
    from_ingress = {"source": {"principals": ["cluster.local/ns/istio-ingress/sa/istio-ingressgateway"]}}
    spec = {"action": "ALLOW", "rules": [{"from": [from_ingress], "to": [{"operation": {"methods": ["GET", "POST"]}}]}]}
    return k8s("security.istio.io/v1", "AuthorizationPolicy", "allow-from-ingress", namespace, spec)


def default_deny(namespace: str = "shop") -> dict:
    return k8s("security.istio.io/v1", "AuthorizationPolicy", "allow-nothing", namespace, {})


def istio_gateway(name: str, namespace: str, selector: dict, *servers: dict) -> dict:
    return k8s("networking.istio.io/v1", "Gateway", name, namespace, {"selector": selector, "servers": list(servers)})


def gateway_server(protocol: str, number: int, port_name: str, hosts: list[str], tls: dict) -> dict:
    return {"port": {"number": number, "name": port_name, "protocol": protocol}, "hosts": hosts, "tls": tls}


def valid_gateway() -> dict:
    # Each public host scoped to the namespace that owns it (istio-ingress-gateway-namespace-hosts).
    hosts = ["shop/shop.apps.example.com", "api/api.example.com"]
    terminate = {
        "mode": "SIMPLE",
        "credentialName": "ingress-wildcard",
        "minProtocolVersion": "TLSV1_2",
        "maxProtocolVersion": "TLSV1_3",
    }
    return istio_gateway(
        "public",
        "istio-ingress",
        {"istio": "ingressgateway"},
        gateway_server("HTTPS", 443, "https", hosts, terminate),
        gateway_server("HTTP", 80, "http", hosts, {"httpsRedirect": True}),
    )


def valid_service_entry() -> dict:
    return k8s(
        "networking.istio.io/v1",
        "ServiceEntry",
        "graph-microsoft-com",
        "istio-egress",
        {
            "hosts": ["graph.microsoft.com"],
            "location": "MESH_EXTERNAL",
            "resolution": "DNS",
            "ports": [{"number": 443, "name": "tls", "protocol": "TLS"}],
        },
    )


def valid_node_subnet() -> dict:
    return {
        "subnetName": "nodes",
        "virtualNetworkName": "plat-prod-core-vnet",
        "resourceGroupName": "plat-prod-core-rg",
        "addressPrefix": "10.40.0.0/22",
        "networkSecurityGroup": {
            "id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/nodes-nsg"
        },
    }


def mesh_rule_collection_group(*hosts: str) -> dict:
    """The firewall's mesh-egress group as EgressFirewall builds it, admitting ``hosts``."""
    return {
        "ruleCollectionGroupName": "mesh-egress",
        "firewallPolicyName": "plat-prod-egress-fw-policy",
        "resourceGroupName": "plat-prod-core-rg",
        "priority": 300,
        "ruleCollections": [
            {
                "ruleCollectionType": "FirewallPolicyFilterRuleCollection",
                "name": "mesh-egress",
                "priority": 300,
                "action": {"type": "Allow"},
                "rules": [
                    {
                        "ruleType": "ApplicationRule",
                        "name": "mesh-egress-allow-list",
                        "sourceAddresses": ["10.40.0.0/22"],
                        "protocols": [{"protocolType": "Https", "port": 443}],
                        "targetFqdns": list(hosts),
                    }
                ],
            }
        ],
    }


def helm_release(name: str, chart: str, version: str, namespace: str, repo: str, values: dict) -> dict:
    """A ``helm.sh/v3:Release``'s inputs."""
    return {
        "name": name,
        "chart": chart,
        "version": version,
        "namespace": namespace,
        "repositoryOpts": {"repo": repo},
        "values": values,
    }


def valid_istiod_release() -> dict:
    mesh_config = {
        "outboundTrafficPolicy": {"mode": "REGISTRY_ONLY"},
        "accessLogFile": "/dev/stdout",
        "accessLogEncoding": "JSON",
    }
    cert_ttl = {"DEFAULT_WORKLOAD_CERT_TTL": "12h", "MAX_WORKLOAD_CERT_TTL": "24h0m0s"}
    values = {"revision": "1-30-3", "meshConfig": mesh_config, "pilot": {"env": cert_ttl}}
    repo = "https://istio-release.storage.googleapis.com/charts"
    return helm_release("istiod", "istiod", "1.30.3", "istio-system", repo, values)


def valid_sealed_secrets_release() -> dict:
    values = {"fullnameOverride": "sealed-secrets-controller", "keyrenewperiod": "0"}
    repo = "https://bitnami.github.io/sealed-secrets"
    return helm_release("sealed-secrets-controller", "sealed-secrets", "2.17.3", "sealed-secrets", repo, values)


def valid_vault_secret() -> dict:
    return {
        **VAULT_REF,
        "secretName": "sealed-secrets-key-1",
        "properties": {
            "value": UNKNOWN,
            "contentType": "application/x-pem-file",
            "attributes": {"enabled": True, "expires": 1827273600},
        },
    }


def valid_sealing_cert() -> dict:
    return {
        "privateKeyPem": UNKNOWN,
        "subject": {"commonName": "sealed-secret", "organization": "plat-prod"},
        "validityPeriodHours": 365 * 24,
        "allowedUses": ["key_encipherment", "digital_signature"],
    }


def valid_sealing_key_secret() -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/tls",
        "metadata": {
            "name": "sealed-secrets-key-1",
            "namespace": "sealed-secrets",
            "labels": {"sealedsecrets.bitnami.com/sealed-secrets-key": "active"},
        },
        "data": {"tls.crt": "Y2VydA==", "tls.key": "a2V5"},
    }


def valid_pod_spec() -> dict:
    return {
        "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [
            {
                "name": "app",
                "image": "ghcr.io/example/app:1.0.0",
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "readOnlyRootFilesystem": True,
                    "privileged": False,
                    "capabilities": {"drop": ["ALL"]},
                },
                "resources": {
                    "requests": {"cpu": "100m", "memory": "128Mi"},
                    "limits": {"cpu": "500m", "memory": "256Mi"},
                },
            }
        ],
    }


def valid_deployment(namespace: str = "shop") -> dict:
    template = {"metadata": {"labels": {"app": "storefront"}}, "spec": valid_pod_spec()}
    spec = {"replicas": 2, "selector": {"matchLabels": {"app": "storefront"}}, "template": template}
    return k8s("apps/v1", "Deployment", "storefront", namespace, spec)


def set_path(obj: Any, dotted: str, value: Any) -> Any:
    """A deep copy of ``obj`` with ``a.b.0.c`` set (``DELETE`` removes the key)."""
    out = copy.deepcopy(obj)
    parts = dotted.split(".")
    cur = out
    for part in parts[:-1]:
        cur = cur[int(part)] if isinstance(cur, list) else cur.setdefault(part, {})
    last = parts[-1]
    if isinstance(cur, list):
        cur[int(last)] = value
    elif value is DELETE:
        cur.pop(last, None)
    else:
        cur[last] = value
    return out


DELETE = object()
ALL_RULES = RULES
DEV_RELAXED = rules.DEV_RELAXED
ALWAYS_ADVISORY = rules.ALWAYS_ADVISORY
