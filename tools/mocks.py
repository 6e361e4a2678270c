"""Pulumi mocks for this platform: what Azure, the providers and StackReferences would answer.

``PlatformMocks`` implements ``pulumi.runtime.Mocks``: ``new_resource`` gives each resource type the
outputs its real provider returns and the program reads back (ARM ids, cluster FQDN, OIDC issuer, kubelet
and add-on identities, vault URI, secret URIs, workspace customer id, public IP, TLS keys and
certificates), ``call`` answers the invokes (client config, cluster user credentials). The key material
is fake: PEM-shaped, unique per seed, never a real key (tests must not carry real key material).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Any

import yaml
from pulumi.runtime.mocks import MockCallArgs, MockResourceArgs, Mocks

from tools import wire

SUBSCRIPTION_ID = "8c3f5d2a-1b4e-4f6a-9d7c-2e5b8a1c4f90"
TENANT_ID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
DEPLOYER_OBJECT_ID = "3d9a7c1e-5f2b-4a8d-b6e4-9c0f1a2b3c4d"
DEPLOYER_CLIENT_ID = "a1b2c3d4-e5f6-4789-abcd-ef0123456789"


# --------------------------------------------------------------------------- fake key material


def fake_pem(label: str, seed: str, lines: int = 12) -> str:
    """A PEM-shaped blob, unique per seed; never a real key (tests must not carry real key material)."""
    body = b"".join(hashlib.sha512(f"{seed}:{i}".encode()).digest() for i in range(lines))
    text = base64.b64encode(body).decode()
    wrapped = "\n".join(text[i : i + 64] for i in range(0, len(text), 64))
    return f"-----BEGIN {label}-----\n{wrapped}\n-----END {label}-----\n"


def fake_private_key(seed: str) -> str:
    return fake_pem("RSA " + "PRIVATE KEY", seed, 48)


def fake_certificate(seed: str) -> str:
    return fake_pem("CERTIFICATE", seed, 20)


def fake_kubeconfig(cluster: str, fqdn: str) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": cluster,
                    "cluster": {
                        "server": f"https://{fqdn}:443",
                        "certificate-authority-data": base64.b64encode(fake_certificate(cluster).encode()).decode(),
                    },
                }
            ],
            "contexts": [{"name": cluster, "context": {"cluster": cluster, "user": f"clusterUser_{cluster}"}}],
            "current-context": cluster,
            "users": [
                {
                    "name": f"clusterUser_{cluster}",
                    "user": {
                        "exec": {
                            "apiVersion": "client.authentication.k8s.io/v1beta1",
                            "command": "kubelogin",
                            "args": [
                                "get-token",
                                "--login",
                                "azurecli",
                                "--server-id",
                                "6dae42f8-4368-4678-94ff-3960e28e3630",
                            ],
                        }
                    },
                }
            ],
        },
        sort_keys=False,
    )


def shared_key_owner_outputs(stack_name: str) -> dict[str, Any]:
    """What the non-prod key-owner stack exports, as a StackReference reads it."""
    key = fake_private_key(f"{stack_name}:sealing-key-1")
    cert = fake_certificate(f"{stack_name}:sealing-key-1")
    return {
        "contractVersion": "1.0",
        "environment": stack_name.rsplit("/", 1)[-1],
        "environmentClass": "nonprod",
        "sealingCertificatePem": cert,
        "sealingKeys": [{"generation": 1, "privateKeyPem": key, "certificatePem": cert}],
        "keyVaultName": "plat-nonprod-keys-kv",
        "keyVaultUri": "https://plat-nonprod-keys-kv.vault.azure.net/",
    }


# --------------------------------------------------------------------------- mocks


def _arm_id(rg: str, provider: str, name: str) -> str:
    return f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/{rg}/providers/{provider}/{name}"


def _placed(args: MockResourceArgs, name_input: str) -> tuple[str, str]:
    """(resource group, name) of an ARM resource: its inputs, or the Pulumi name when the program lets Azure name it."""
    return args.inputs.get("resourceGroupName", "rg"), args.inputs.get(name_input, args.name)


def _seed(m: PlatformMocks, *parts: str) -> str:
    """Stable per stack and resource: the same program gives the same ids on every run."""
    return hashlib.sha1(":".join((m.stack, *parts)).encode()).hexdigest()


def _guid(head: str, digit: str, tail: str) -> str:
    """A GUID-shaped id (version 4, variant 8) whose middle groups repeat ``digit``, to tell the ids apart."""
    return f"{head}-{digit * 4}-4{digit * 3}-8{digit * 3}-{tail}"


class PlatformMocks(Mocks):
    """Answers the engine's questions with values shaped like Azure's and the providers' real ones."""

    def __init__(self, stack: str, stack_references: Mapping[str, Mapping[str, Any]] | None = None):
        self.stack = stack
        self.stack_references = dict(stack_references or {})

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict]:
        handler = _RESOURCE_OUTPUTS.get(args.typ)
        state = dict(args.inputs)
        rid = f"{args.name}-id"
        if handler is not None:
            rid, extra = handler(self, args)
            state.update(extra)
        elif args.typ.startswith("azure-native:"):
            rg = args.inputs.get("resourceGroupName", "rg")
            provider_path = args.typ.split(":")[1]
            rid = _arm_id(rg, f"Microsoft.{provider_path}", args.inputs.get("name", args.name))
            state.setdefault("name", args.name)
        return rid, state

    def call(self, args: MockCallArgs) -> tuple[dict, list[tuple[str, str]] | None]:
        handler = _CALL_OUTPUTS.get(args.token)
        if handler is None:
            return {}, []
        # No check failures: an empty list (pulumi's MockMonitor iterates it).
        return handler(self, args), []


def _resource_group(m: PlatformMocks, args: MockResourceArgs) -> tuple[str, dict]:
    name = args.inputs.get("resourceGroupName", args.name)
    return f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/{name}", {"name": name}


def _addon_identity(m: PlatformMocks, rg: str, cluster: str, addon: str) -> dict:
    seed = _seed(m, cluster, addon)
    return {
        "clientId": _guid(seed[:8], "3", seed[-12:]),
        "objectId": _guid(seed[8:16], "4", seed[:12]),
        "resourceId": _arm_id(
            f"MC_{rg}_{cluster}", "Microsoft.ManagedIdentity", f"userAssignedIdentities/{addon.lower()}-{cluster}"
        ),
    }


def _managed_cluster(m: PlatformMocks, args: MockResourceArgs) -> tuple[str, dict]:
    rg, name = _placed(args, "resourceName")
    fqdn = f"{args.inputs.get('dnsPrefix', name)}-a1b2c3d4.hcp.{args.inputs.get('location', 'westeurope')}.azmk8s.io"
    seed = _seed(m, name)
    kubelet_id = _arm_id(f"MC_{rg}_{name}", "Microsoft.ManagedIdentity", f"userAssignedIdentities/{name}-agentpool")
    return _arm_id(rg, "Microsoft.ContainerService", f"managedClusters/{name}"), {
        "name": name,
        "fqdn": fqdn,
        "nodeResourceGroup": args.inputs.get(
            "nodeResourceGroup", f"MC_{rg}_{name}_{args.inputs.get('location', 'westeurope')}"
        ),
        "oidcIssuerProfile": {
            **(args.inputs.get("oidcIssuerProfile") or {}),
            "issuerURL": f"https://westeurope.oic.prod-aks.azure.com/{TENANT_ID}/{seed[:8]}-{seed[8:12]}-{seed[12:16]}-{seed[16:20]}-{seed[20:32]}/",
        },
        "identityProfile": {
            "kubeletidentity": {
                "clientId": _guid(seed[:8], "0", seed[-12:]),
                "objectId": _guid(seed[8:16], "1", seed[:12]),
                "resourceId": kubelet_id,
            }
        },
        "identity": {
            **(args.inputs.get("identity") or {}),
            "principalId": _guid(seed[16:24], "2", seed[4:16]),
            "tenantId": TENANT_ID,
        },
        # AKS gives each enabled add-on its own managed identity in the node resource group.
        "addonProfiles": {
            addon: {**profile, "identity": _addon_identity(m, rg, name, addon)} if profile.get("enabled") else profile
            for addon, profile in (args.inputs.get("addonProfiles") or {}).items()
        },
        "provisioningState": "Succeeded",
        "powerState": {"code": "Running"},
        "currentKubernetesVersion": args.inputs.get("kubernetesVersion") or "1.33.2",
    }


def _vault(m: PlatformMocks, args: MockResourceArgs) -> tuple[str, dict]:
    rg, name = _placed(args, "vaultName")
    props = dict(args.inputs.get("properties") or {})
    props["vaultUri"] = f"https://{name}.vault.azure.net/"
    return _arm_id(rg, "Microsoft.KeyVault", f"vaults/{name}"), {"name": name, "properties": props}


def _vault_secret(m: PlatformMocks, args: MockResourceArgs) -> tuple[str, dict]:
    rg, name = _placed(args, "secretName")
    vault = args.inputs.get("vaultName", "vault")
    props = args.inputs.get("properties") or {}
    if wire.is_secret(props):
        props = props.get("value") or {}  # the whole object is secret when its value is (the SDK lifts it)
    props = dict(props)
    props.pop("value", None)  # ARM never returns a secret's value
    props["secretUri"] = f"https://{vault}.vault.azure.net/secrets/{name}"
    props["secretUriWithVersion"] = f"https://{vault}.vault.azure.net/secrets/{name}/0123456789abcdef0123456789abcdef"
    return _arm_id(rg, "Microsoft.KeyVault", f"vaults/{vault}/secrets/{name}"), {"name": name, "properties": props}


def _workspace(m: PlatformMocks, args: MockResourceArgs) -> tuple[str, dict]:
    rg, name = _placed(args, "workspaceName")
    seed = _seed(m, name)
    return _arm_id(rg, "Microsoft.OperationalInsights", f"workspaces/{name}"), {
        "name": name,
        "customerId": f"{seed[:8]}-{seed[8:12]}-4{seed[13:16]}-8{seed[17:20]}-{seed[20:32]}",
    }


def _public_ip(m: PlatformMocks, args: MockResourceArgs) -> tuple[str, dict]:
    rg, name = _placed(args, "publicIpAddressName")
    digest = hashlib.sha1(f"{m.stack}:{name}".encode()).digest()
    ip = f"20.{50 + digest[0] % 100}.{digest[1]}.{max(digest[2], 1)}"
    state: dict[str, Any] = {"name": name, "ipAddress": ip}
    dns = args.inputs.get("dnsSettings")
    if isinstance(dns, Mapping) and dns.get("domainNameLabel"):
        state["dnsSettings"] = {
            **dns,
            "fqdn": f"{dns['domainNameLabel']}.{args.inputs.get('location', 'westeurope')}.cloudapp.azure.com",
        }
    return _arm_id(rg, "Microsoft.Network", f"publicIPAddresses/{name}"), state


def _virtual_network(m: PlatformMocks, args: MockResourceArgs) -> tuple[str, dict]:
    rg, name = _placed(args, "virtualNetworkName")
    return _arm_id(rg, "Microsoft.Network", f"virtualNetworks/{name}"), {"name": name}


def _subnet(m: PlatformMocks, args: MockResourceArgs) -> tuple[str, dict]:
    rg, name = _placed(args, "subnetName")
    vnet = args.inputs.get("virtualNetworkName", "vnet")
    return _arm_id(rg, "Microsoft.Network", f"virtualNetworks/{vnet}/subnets/{name}"), {"name": name}


def _user_assigned_identity(m: PlatformMocks, args: MockResourceArgs) -> tuple[str, dict]:
    rg, name = _placed(args, "resourceName")
    seed = _seed(m, name)
    return _arm_id(rg, "Microsoft.ManagedIdentity", f"userAssignedIdentities/{name}"), {
        "name": name,
        "clientId": _guid(seed[:8], "a", seed[-12:]),
        "principalId": _guid(seed[8:16], "b", seed[:12]),
        "tenantId": TENANT_ID,
    }


def _tls_private_key(m: PlatformMocks, args: MockResourceArgs) -> tuple[str, dict]:
    seed = f"{m.stack}:{args.name}"
    pem = fake_private_key(seed)
    return hashlib.sha1(seed.encode()).hexdigest(), {
        "privateKeyPem": pem,
        "privateKeyPemPkcs8": pem,
        "privateKeyOpenssh": pem,
        "publicKeyPem": fake_pem("PUBLIC KEY", seed, 8),
        "publicKeyOpenssh": "ssh-rsa " + base64.b64encode(hashlib.sha512(seed.encode()).digest()).decode(),
        "publicKeyFingerprintSha256": "SHA256:" + base64.b64encode(hashlib.sha256(seed.encode()).digest()).decode(),
    }


def _tls_self_signed_cert(m: PlatformMocks, args: MockResourceArgs) -> tuple[str, dict]:
    # The certificate follows from the key and subject, so the same key gives the same certificate.
    seed = f"{args.inputs.get('privateKeyPem', '')}:{json.dumps(args.inputs.get('subject'), sort_keys=True)}"
    hours = int(args.inputs.get("validityPeriodHours") or 0)
    return hashlib.sha1(seed.encode()).hexdigest(), {
        "certPem": fake_certificate(seed),
        "validityStartTime": "2026-11-26T00:00:00Z",
        "validityEndTime": f"+{hours}h from 2026-11-26T00:00:00Z",
        "readyForRenewal": False,
    }


def _stack_reference(m: PlatformMocks, args: MockResourceArgs) -> tuple[str, dict]:
    name = args.inputs.get("name", args.name)
    if name in m.stack_references:
        outputs = dict(m.stack_references[name])
    elif name.endswith("/nonprod-keys"):
        outputs = shared_key_owner_outputs(name)
    else:
        outputs = {}
    secret_names = [k for k in ("sealingKeys", "kubeconfig") if k in outputs]
    return name, {"name": name, "outputs": outputs, "secretOutputNames": secret_names}


_RESOURCE_OUTPUTS: dict[str, Callable[[PlatformMocks, MockResourceArgs], tuple[str, dict]]] = {
    "azure-native:resources:ResourceGroup": _resource_group,
    "azure-native:containerservice:ManagedCluster": _managed_cluster,
    "azure-native:keyvault:Vault": _vault,
    "azure-native:keyvault:Secret": _vault_secret,
    "azure-native:operationalinsights:Workspace": _workspace,
    "azure-native:network:PublicIPAddress": _public_ip,
    "azure-native:managedidentity:UserAssignedIdentity": _user_assigned_identity,
    "azure-native:network:VirtualNetwork": _virtual_network,
    "azure-native:network:Subnet": _subnet,
    "tls:index/privateKey:PrivateKey": _tls_private_key,
    "tls:index/selfSignedCert:SelfSignedCert": _tls_self_signed_cert,
    "pulumi:pulumi:StackReference": _stack_reference,
}


def _client_config(m: PlatformMocks, args: MockCallArgs) -> dict:
    return {
        "clientId": DEPLOYER_CLIENT_ID,
        "objectId": DEPLOYER_OBJECT_ID,
        "subscriptionId": SUBSCRIPTION_ID,
        "tenantId": TENANT_ID,
    }


def _user_credentials(m: PlatformMocks, args: MockCallArgs) -> dict:
    name = args.args.get("resourceName", "aks")
    fqdn = f"{name}-a1b2c3d4.hcp.westeurope.azmk8s.io"
    return {
        "kubeconfigs": [
            {"name": "clusterUser", "value": base64.b64encode(fake_kubeconfig(name, fqdn).encode()).decode()}
        ]
    }


_CALL_OUTPUTS: dict[str, Callable[[PlatformMocks, MockCallArgs], dict]] = {
    "azure-native:authorization:getClientConfig": _client_config,
    "azure-native:containerservice:listManagedClusterUserCredentials": _user_credentials,
}
