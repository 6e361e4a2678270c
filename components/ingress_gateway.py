"""Ingress edge: Istio ingress gateway behind a static public IP, TLS only, 80 -> 443, JWT origin auth.

What it builds (all in ``cfg.ingress.namespace``, default ``istio-ingress``):

- a Standard, Static Azure public IP in the *platform* resource group (not the AKS node resource
  group: that group is deleted with the cluster, and the address and its DNS records must survive a
  cluster rebuild), protected in prod, plus ``Network Contributor`` for the cluster identity on that
  one IP so the cloud provider may attach it to the load balancer;
- the official ``gateway`` Helm chart (release ``istio-ingressgateway``, pod label
  ``istio: ingressgateway``) with ``externalTrafficPolicy: Local`` so applications see client IPs;
- the operator's wildcard certificate as the ``kubernetes.io/tls`` Secret ``ingress-wildcard-tls``,
  synced from Key Vault by the AKS secrets-provider add-on (``tlsSource: keyVault``) or made from
  secret config (``tlsSource: config``);
- a ``Gateway`` with a port-443 HTTPS server (SIMPLE TLS, TLS 1.2..1.3) and a port-80 server that only
  answers 301 to HTTPS;
- per JWT issuer a ``RequestAuthentication`` and a DENY ``AuthorizationPolicy`` (no token, or a
  missing required claim, on a protected host/path is rejected; other hosts keep working);
- NetworkPolicies for the gateway namespace.

The helpers at the bottom (namespace and baseline NetworkPolicies) are shared with ``EgressGateway``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Optional, Sequence

import pulumi
import pulumi_kubernetes as k8s
from pulumi_azure_native import authorization, network

from stack_config import (
    INGRESS_TLS_CERT_KEY,
    INGRESS_TLS_KEY_KEY,
    ConfigError,
    JwtIssuerConfig,
    PlatformConfig,
)

ISTIO_CHART_REPO = "https://istio-release.storage.googleapis.com/charts"
GATEWAY_CHART = "gateway"
RELEASE_NAME = "istio-ingressgateway"  # also the service account and the `app` label
GATEWAY_SELECTOR = {"istio": "ingressgateway"}
GATEWAY_NAME = "platform-ingress"  # app VirtualServices bind to "<namespace>/platform-ingress"
TLS_SECRET_NAME = "ingress-wildcard-tls"
SECRET_PROVIDER_CLASS_NAME = "ingress-wildcard-tls"
CSI_VOLUME_NAME = "ingress-tls-csi"
CSI_MOUNT_PATH = "/mnt/secrets-store/ingress-tls"

# Gateway chart (1.30): the pod binds 80/443 itself (net.ipv4.ip_unprivileged_port_start=0), so the
# Service targetPorts are 80/443, not the 8080/8443 of the old operator-installed gateways.
HTTP_PORT = 80
HTTPS_PORT = 443
# Envoy metrics (15090) and istio-agent merged metrics (15020), for Prometheus only.
METRICS_PORTS = (15020, 15090)
ISTIOD_XDS_PORT = 15012

# Built-in Azure role definition IDs (identical in every tenant).
NETWORK_CONTRIBUTOR_ROLE = "4d97b98b-1d4f-4787-a291-c67834d212e7"
KEY_VAULT_SECRETS_USER_ROLE = "4633458b-17de-408a-b874-0445c86b69e6"

# TLS 1.2 suites with forward secrecy and AEAD only (TLS 1.3 suites are not configurable and all strong).
TLS12_CIPHER_SUITES = (
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-CHACHA20-POLY1305",
    "ECDHE-RSA-CHACHA20-POLY1305",
)


@dataclass(frozen=True)
class IngressGatewayArgs:
    config: PlatformConfig
    revision: str  # IstioMesh.revision: the gateway pods are injected by that istiod
    resource_group_name: pulumi.Input[str]  # platform RG (PlatformBase.resource_group_name): holds the public IP
    cluster_identity_principal_id: pulumi.Input[str]  # AKS control-plane identity: attaches the IP to the LB
    depends_on: Sequence[pulumi.Resource] = ()  # IstioMesh.ready: CRDs and istiod before any Istio object
    istiod_namespace: str = "istio-system"
    # tlsSource keyVault: where the wildcard certificate lives and who may read it.
    key_vault_name: Optional[pulumi.Input[str]] = None
    tenant_id: Optional[pulumi.Input[str]] = None
    secrets_provider_client_id: Optional[pulumi.Input[str]] = None  # add-on identity (azureKeyvaultSecretsProvider)
    # Optional: grant the add-on identity read access to this one certificate's secret only.
    key_vault_id: Optional[pulumi.Input[str]] = None
    secrets_provider_object_id: Optional[pulumi.Input[str]] = None


class IngressGateway(pulumi.ComponentResource):
    """The public edge of the mesh: TLS-only Istio ingress gateway with JWT origin authentication."""

    public_ip_address: pulumi.Output[str]
    hostnames: list[str]
    namespace: str
    gateway_ref: str
    release: k8s.helm.v3.Release

    def __init__(self, name: str, args: IngressGatewayArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("platform:istio:IngressGateway", name, None, opts)
        cfg = args.config
        ing = cfg.ingress
        ns_name = ing.namespace
        child = pulumi.ResourceOptions(parent=self)
        if ing.tls_source == "keyVault" and not (
            args.key_vault_name and args.tenant_id and args.secrets_provider_client_id
        ):
            raise ConfigError([
                "ingress.tlsSource: keyVault needs the environment Key Vault name, the tenant id and the "
                "secrets-provider add-on identity client id (IngressGatewayArgs.key_vault_name, tenant_id, "
                "secrets_provider_client_id)"
            ])

        # ---------------------------------------------------------------- Azure: static public IP
        pip_name = f"{cfg.resource_prefix}-{name}-pip"
        zones = list(cfg.cluster.user_pool.availability_zones) if cfg.is_prod else []
        pip = network.PublicIPAddress(
            f"{name}-pip",
            public_ip_address_name=pip_name,
            resource_group_name=args.resource_group_name,
            location=cfg.location,
            sku=network.PublicIPAddressSkuArgs(
                name=network.PublicIPAddressSkuName.STANDARD, tier=network.PublicIPAddressSkuTier.REGIONAL
            ),
            public_ip_allocation_method=network.IPAllocationMethod.STATIC,
            public_ip_address_version=network.IPVersion.I_PV4,
            # Zone-redundant in prod: losing a zone must not take the public address with it.
            zones=zones or None,
            tags={**cfg.tags, "platform-role": "ingress"},
            # A deleted IP is gone for good and every DNS record pointing at it breaks: prod must not lose it.
            opts=pulumi.ResourceOptions(parent=self, protect=cfg.is_prod),
        )
        # Scope is the IP's resource group, not the IP: for `azure-pip-name` the AKS cloud provider LISTS the
        # public IPs of that group (cloud-provider-azure findMatchedPIP -> ListByResourceGroup), which a grant
        # on the IP alone refuses (403), so the Service would never get its address. This is the scope AKS
        # documents for a static IP outside the node resource group.
        network_role = authorization.RoleAssignment(
            f"{name}-pip-network-contributor",
            principal_id=args.cluster_identity_principal_id,
            principal_type=authorization.PrincipalType.SERVICE_PRINCIPAL,
            role_definition_id=pip.id.apply(lambda i: _role_definition_id(i, NETWORK_CONTRIBUTOR_ROLE)),
            scope=pip.id.apply(_resource_group_id),
            description="AKS cloud provider attaches the ingress public IP to the cluster load balancer",
            opts=child,
        )

        # ---------------------------------------------------------------- namespace + certificate
        namespace = gateway_namespace(f"{name}-namespace", ns_name, args.revision, self)
        after_ns = pulumi.ResourceOptions(parent=self, depends_on=[namespace])

        volumes: list[dict] = []
        volume_mounts: list[dict] = []
        cert_dependencies: list[pulumi.Resource] = []
        if ing.tls_source == "config":
            if ing.tls_certificate_pem is None or ing.tls_private_key_pem is None:
                raise ConfigError([f"{INGRESS_TLS_CERT_KEY}, {INGRESS_TLS_KEY_KEY}: ingress.tlsSource is config but "
                                   "the secret values were not read (stack_config.load_config reads them)"])
            tls_secret = k8s.core.v1.Secret(
                f"{name}-tls",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=TLS_SECRET_NAME, namespace=ns_name),
                type="kubernetes.io/tls",
                string_data={"tls.crt": ing.tls_certificate_pem, "tls.key": ing.tls_private_key_pem},
                opts=pulumi.ResourceOptions.merge(
                    after_ns, pulumi.ResourceOptions(additional_secret_outputs=["data", "stringData"])
                ),
            )
            cert_dependencies.append(tls_secret)
        else:
            spc = k8s.apiextensions.CustomResource(
                f"{name}-tls-provider",
                api_version="secrets-store.csi.x-k8s.io/v1",
                kind="SecretProviderClass",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=SECRET_PROVIDER_CLASS_NAME, namespace=ns_name),
                spec=secret_provider_class_spec(
                    ing.tls_key_vault_certificate_name, args.key_vault_name, args.tenant_id,
                    args.secrets_provider_client_id,
                ),
                opts=after_ns,
            )
            cert_dependencies.append(spc)
            # The CSI driver creates (and keeps in sync) the TLS Secret only while a pod mounts the volume.
            volumes = [{"name": CSI_VOLUME_NAME, "csi": {
                "driver": "secrets-store.csi.k8s.io", "readOnly": True,
                "volumeAttributes": {"secretProviderClass": SECRET_PROVIDER_CLASS_NAME},
            }}]
            volume_mounts = [{"name": CSI_VOLUME_NAME, "mountPath": CSI_MOUNT_PATH, "readOnly": True}]
            if args.key_vault_id is not None and args.secrets_provider_object_id is not None:
                # Scope: this certificate's secret only, so the add-on identity cannot read the rest of the vault.
                # The chart waits for it: a gateway pod mounting the CSI volume before the grant exists cannot
                # start, and Helm's wait then fails the release.
                secret_reader = authorization.RoleAssignment(
                    f"{name}-tls-secret-reader",
                    principal_id=args.secrets_provider_object_id,
                    principal_type=authorization.PrincipalType.SERVICE_PRINCIPAL,
                    role_definition_id=pulumi.Output.from_input(args.key_vault_id).apply(
                        lambda i: _role_definition_id(i, KEY_VAULT_SECRETS_USER_ROLE)
                    ),
                    scope=pulumi.Output.concat(args.key_vault_id, "/secrets/", ing.tls_key_vault_certificate_name),
                    description="AKS secrets provider reads the ingress wildcard certificate",
                    opts=child,
                )
                cert_dependencies.append(secret_reader)

        # ---------------------------------------------------------------- the gateway chart
        values: dict[str, Any] = {
            "revision": args.revision,
            "autoscaling": {"enabled": True, "minReplicas": ing.replicas, "maxReplicas": max(ing.replicas * 3, 5)},
            "service": {
                "type": "LoadBalancer",
                # Keep the client source IP (no SNAT through another node); Azure then probes the
                # healthCheckNodePort's /healthz, so only nodes with a ready gateway pod get traffic.
                "externalTrafficPolicy": "Local",
                "annotations": {
                    "service.beta.kubernetes.io/azure-pip-name": pip_name,
                    "service.beta.kubernetes.io/azure-load-balancer-resource-group": args.resource_group_name,
                },
                # Only 80 and 443 are public: the status port (15021) stays off the load balancer.
                "ports": [
                    {"name": "http2", "port": HTTP_PORT, "protocol": "TCP", "targetPort": HTTP_PORT},
                    {"name": "https", "port": HTTPS_PORT, "protocol": "TCP", "targetPort": HTTPS_PORT},
                ],
            },
        }
        if ing.replicas > 1:
            # Node drains during upgrades must never take every ingress pod at once.
            values["podDisruptionBudget"] = {"minAvailable": 1}
        if cfg.is_prod:
            values["topologySpreadConstraints"] = [zone_spread(GATEWAY_SELECTOR)]
        if volumes:
            values["volumes"] = volumes
            values["volumeMounts"] = volume_mounts
        self.release = k8s.helm.v3.Release(
            f"{name}-release",
            name=RELEASE_NAME,
            chart=GATEWAY_CHART,
            version=cfg.istio.version,
            namespace=ns_name,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=ISTIO_CHART_REPO),
            create_namespace=False,
            values=values,
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[namespace, pip, network_role, *cert_dependencies, *args.depends_on],
            ),
        )

        # ---------------------------------------------------------------- Istio objects
        istio_opts = pulumi.ResourceOptions(parent=self, depends_on=[namespace, *args.depends_on])
        k8s.apiextensions.CustomResource(
            f"{name}-gateway",
            api_version="networking.istio.io/v1",
            kind="Gateway",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=GATEWAY_NAME, namespace=ns_name),
            spec=gateway_spec(ing.hosts, ing.min_tls_version, ing.max_tls_version),
            opts=istio_opts,
        )
        for issuer in ing.jwt_issuers:
            suffix = _short_hash(issuer.issuer)
            k8s.apiextensions.CustomResource(
                f"{name}-jwt-{suffix}",
                api_version="security.istio.io/v1",
                kind="RequestAuthentication",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=f"jwt-{suffix}", namespace=ns_name),
                spec=request_authentication_spec(issuer),
                opts=istio_opts,
            )
            k8s.apiextensions.CustomResource(
                f"{name}-require-jwt-{suffix}",
                api_version="security.istio.io/v1",
                kind="AuthorizationPolicy",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=f"require-jwt-{suffix}", namespace=ns_name),
                spec=require_jwt_policy_spec(issuer, ing.hosts),
                opts=istio_opts,
            )

        # ---------------------------------------------------------------- NetworkPolicies
        ingress_apps = [a.name for a in cfg.app_namespaces if a.allow_from_ingress]
        np_opts = after_ns
        baseline_network_policies(name, ns_name, args.istiod_namespace, cfg.prometheus_namespace, np_opts)
        network_policy(
            f"{name}-np-allow-public", ns_name, "allow-public-http-https", GATEWAY_SELECTOR,
            ingress=[k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                # No `from`: the internet (the load balancer keeps client IPs, so any source address).
                ports=[tcp(HTTP_PORT), tcp(HTTPS_PORT)],
            )],
            opts=np_opts,
        )
        if ingress_apps:
            network_policy(
                f"{name}-np-to-apps", ns_name, "allow-to-app-namespaces", GATEWAY_SELECTOR,
                egress=[k8s.networking.v1.NetworkPolicyEgressRuleArgs(to=[namespaces_peer(ingress_apps)])],
                opts=np_opts,
            )

        self.public_ip_address = pip.ip_address.apply(lambda ip: ip or "")
        self.hostnames = list(ing.hosts)
        self.namespace = ns_name
        self.gateway_ref = f"{ns_name}/{GATEWAY_NAME}"
        self.register_outputs({
            "public_ip_address": self.public_ip_address,
            "hostnames": self.hostnames,
            "namespace": self.namespace,
            "gateway_ref": self.gateway_ref,
        })


# --------------------------------------------------------------------------- Istio specs (pure functions)


def gateway_spec(hosts: Sequence[str], min_tls: str, max_tls: str) -> dict:
    return {
        "selector": dict(GATEWAY_SELECTOR),
        "servers": [
            {
                "port": {"number": HTTPS_PORT, "name": "https", "protocol": "HTTPS"},
                "hosts": list(hosts),
                "tls": {
                    "mode": "SIMPLE",
                    "credentialName": TLS_SECRET_NAME,
                    "minProtocolVersion": min_tls,
                    "maxProtocolVersion": max_tls,
                    "cipherSuites": list(TLS12_CIPHER_SUITES),
                },
            },
            {
                # Plain HTTP only ever answers 301 to https://: no request is routed in cleartext.
                "port": {"number": HTTP_PORT, "name": "http", "protocol": "HTTP"},
                "hosts": list(hosts),
                "tls": {"httpsRedirect": True},
            },
        ],
    }


def request_authentication_spec(issuer: JwtIssuerConfig) -> dict:
    return {
        "selector": {"matchLabels": dict(GATEWAY_SELECTOR)},
        "jwtRules": [{
            "issuer": issuer.issuer,
            "jwksUri": issuer.jwks_uri,
            "audiences": list(issuer.audiences),
            "forwardOriginalToken": issuer.forward_original_token,
            # Header only: tokens in query strings end up in access logs and browser history.
            "fromHeaders": [{"name": "Authorization", "prefix": "Bearer "}],
        }],
    }


def _with_ports(hosts: Sequence[str]) -> list[str]:
    """Host patterns plus their ``host:port`` forms (an exact ``hosts`` match misses ``Host: a.com:443``)."""
    out: list[str] = []
    for h in hosts:
        out.append(h)
        if not h.startswith("*"):
            out.append(f"{h}:*")
    return out


def protected_operations(issuer: JwtIssuerConfig, ingress_hosts: Sequence[str]) -> list[dict]:
    """The ``to`` clauses covering an issuer's protected hosts/paths, failing closed on odd Host headers.

    Two operations, OR-ed: the protected hosts (and their ``:port`` forms), and every host that is not
    explicitly unprotected, so ``Host: app.example.com:443`` on a wildcard cannot slip past.
    """
    paths = {"paths": list(issuer.paths)} if issuer.paths else {}
    protected = list(issuer.hosts) if issuer.hosts else list(ingress_hosts)
    unprotected = [h for h in ingress_hosts if h not in protected]
    if not unprotected:
        return [{"operation": dict(paths)}] if paths else []
    return [
        {"operation": {"hosts": _with_ports(protected), **paths}},
        {"operation": {"notHosts": _with_ports(unprotected), **paths}},
    ]


def require_jwt_policy_spec(issuer: JwtIssuerConfig, ingress_hosts: Sequence[str]) -> dict:
    """DENY policy: on the issuer's hosts/paths, no valid token from it, or a required claim missing.

    Only DENY rules: an ALLOW policy on the gateway would deny every request it does not list,
    including the unprotected hosts and the port-80 redirect.
    """
    # Port 80 is exempt: its server only answers the 301 to HTTPS (nothing is routed), and a DENY there
    # would turn every redirect on a protected host into a 403. notPorts fails closed on any other port.
    exempt = {"notPorts": [str(HTTP_PORT)]}
    to = [{"operation": {**t["operation"], **exempt}} for t in protected_operations(issuer, ingress_hosts)]
    scope = {"to": to or [{"operation": exempt}]}
    rules: list[dict] = [{
        "from": [{"source": {"notRequestPrincipals": [f"{issuer.issuer}/*"]}}],
        **scope,
    }]
    for claim, allowed in issuer.required_claims:
        # One rule a claim (rules are OR-ed): any claim without an allowed value denies the request.
        rules.append({**scope, "when": [{"key": f"request.auth.claims[{claim}]", "notValues": list(allowed)}]})
    return {"selector": {"matchLabels": dict(GATEWAY_SELECTOR)}, "action": "DENY", "rules": rules}


def secret_provider_class_spec(
    certificate_name: str,
    key_vault_name: pulumi.Input[str],
    tenant_id: pulumi.Input[str],
    client_id: pulumi.Input[str],
) -> dict:
    # objectType secret on a certificate returns the PEM chain *and* private key (objectType cert has no key).
    objects = f"array:\n  - |\n    objectName: {certificate_name}\n    objectType: secret\n"
    return {
        "provider": "azure",
        "secretObjects": [{
            "secretName": TLS_SECRET_NAME,
            "type": "kubernetes.io/tls",
            "data": [
                {"objectName": certificate_name, "key": "tls.key"},
                {"objectName": certificate_name, "key": "tls.crt"},
            ],
        }],
        "parameters": {
            "usePodIdentity": "false",
            "useVMManagedIdentity": "true",
            "userAssignedIdentityID": client_id,
            "keyvaultName": key_vault_name,
            "tenantId": tenant_id,
            "objects": objects,
        },
    }


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def _resource_group_id(resource_id: str) -> str:
    """``/subscriptions/<s>/resourceGroups/<rg>`` of an ARM resource ID."""
    parts = resource_id.split("/")
    if len(parts) < 5 or parts[1].lower() != "subscriptions" or parts[3].lower() != "resourcegroups":
        raise ValueError(f"not a resource-group-scoped ARM resource ID: {resource_id!r}")
    return "/".join(parts[:5])


def _role_definition_id(resource_id: str, role_guid: str) -> str:
    subscription = resource_id.split("/")[2] if resource_id and resource_id.startswith("/subscriptions/") else ""
    return f"/subscriptions/{subscription}/providers/Microsoft.Authorization/roleDefinitions/{role_guid}"


# --------------------------------------------------------------------------- shared with EgressGateway


PRIVATE_RANGES = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16")


def gateway_namespace(resource_name: str, namespace: str, revision: str, parent: pulumi.Resource) -> k8s.core.v1.Namespace:
    """A gateway namespace: injected by the mesh revision, Pod Security baseline enforced."""
    return k8s.core.v1.Namespace(
        resource_name,
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name=namespace,
            labels={
                "istio.io/rev": revision,
                # Gateway pods need only the safe unprivileged-port sysctl: anything more privileged is refused.
                "pod-security.kubernetes.io/enforce": "baseline",
                "pod-security.kubernetes.io/warn": "restricted",
                "pod-security.kubernetes.io/audit": "restricted",
            },
        ),
        opts=pulumi.ResourceOptions(parent=parent),
    )


def tcp(port: int) -> k8s.networking.v1.NetworkPolicyPortArgs:
    return k8s.networking.v1.NetworkPolicyPortArgs(protocol="TCP", port=port)


def namespaces_peer(names: Sequence[str], pod_labels: Optional[dict] = None) -> k8s.networking.v1.NetworkPolicyPeerArgs:
    return k8s.networking.v1.NetworkPolicyPeerArgs(
        namespace_selector=k8s.meta.v1.LabelSelectorArgs(match_expressions=[
            k8s.meta.v1.LabelSelectorRequirementArgs(
                key="kubernetes.io/metadata.name", operator="In", values=sorted(names)
            )
        ]),
        pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=pod_labels) if pod_labels else None,
    )


def zone_spread(selector: dict) -> dict:
    return {
        "maxSkew": 1,
        "topologyKey": "topology.kubernetes.io/zone",
        "whenUnsatisfiable": "ScheduleAnyway",
        "labelSelector": {"matchLabels": dict(selector)},
    }


def network_policy(
    resource_name: str,
    namespace: str,
    policy_name: str,
    pod_labels: Optional[dict],
    *,
    ingress: Optional[list] = None,
    egress: Optional[list] = None,
    opts: pulumi.ResourceOptions,
) -> k8s.networking.v1.NetworkPolicy:
    types = (["Ingress"] if ingress is not None else []) + (["Egress"] if egress is not None else [])
    return k8s.networking.v1.NetworkPolicy(
        resource_name,
        metadata=k8s.meta.v1.ObjectMetaArgs(name=policy_name, namespace=namespace),
        spec=k8s.networking.v1.NetworkPolicySpecArgs(
            pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=pod_labels) if pod_labels else k8s.meta.v1.LabelSelectorArgs(),
            policy_types=types,
            ingress=ingress,
            egress=egress,
        ),
        opts=opts,
    )


def baseline_network_policies(
    prefix: str,
    namespace: str,
    istiod_namespace: str,
    prometheus_namespace: Optional[str],
    opts: pulumi.ResourceOptions,
) -> None:
    """Default deny both ways, then DNS and istiod for every pod, and Prometheus scraping if configured."""
    network_policy(f"{prefix}-np-default-deny", namespace, "default-deny", None, ingress=[], egress=[], opts=opts)
    network_policy(
        f"{prefix}-np-allow-dns", namespace, "allow-dns", None,
        egress=[k8s.networking.v1.NetworkPolicyEgressRuleArgs(
            to=[namespaces_peer(["kube-system"], {"k8s-app": "kube-dns"})],
            ports=[k8s.networking.v1.NetworkPolicyPortArgs(protocol="UDP", port=53), tcp(53)],
        )],
        opts=opts,
    )
    network_policy(
        f"{prefix}-np-allow-istiod", namespace, "allow-istiod", None,
        # xDS configuration, certificates and SDS secrets all come from istiod on 15012.
        egress=[k8s.networking.v1.NetworkPolicyEgressRuleArgs(
            to=[namespaces_peer([istiod_namespace], {"app": "istiod"})], ports=[tcp(ISTIOD_XDS_PORT)],
        )],
        opts=opts,
    )
    if prometheus_namespace:
        network_policy(
            f"{prefix}-np-allow-prometheus", namespace, "allow-prometheus-scrape", None,
            ingress=[k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                from_=[namespaces_peer([prometheus_namespace])], ports=[tcp(p) for p in METRICS_PORTS],
            )],
            opts=opts,
        )
