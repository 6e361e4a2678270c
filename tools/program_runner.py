"""Run the real ``__main__.py`` in-process under Pulumi mocks and record everything it registers.

Shared by the unit tests (``tests/conftest.py``) and the offline preview (``tools/preview.py``):
both need the same thing, a stack's config file in, every resource with its inputs and
options out, plus the stack outputs with their secrecy.

Nothing here talks to a cloud: the mocks answer with realistic values for what the program
reads back (cluster credentials and OIDC issuer, vault URI, client config, TLS keys,
StackReference outputs).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import runpy
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Optional

import yaml

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "platform"
ORGANIZATION = "contoso"
SUBSCRIPTION_ID = "8c3f5d2a-1b4e-4f6a-9d7c-2e5b8a1c4f90"
TENANT_ID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
DEPLOYER_OBJECT_ID = "3d9a7c1e-5f2b-4a8d-b6e4-9c0f1a2b3c4d"
DEPLOYER_CLIENT_ID = "a1b2c3d4-e5f6-4789-abcd-ef0123456789"

SECRET_PLACEHOLDER = "[placeholder for secure value of {key}]"

_SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d"
_SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
_RESOURCE_SIG = "5cf8f73096256a8f31e491e813e4eb8e"
_UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


# --------------------------------------------------------------------------- records


@dataclass
class RecordedResource:
    """One ``RegisterResource`` call as the engine would see it."""

    urn: str
    type: str
    name: str
    custom: bool
    parent: str
    provider: str
    providers: dict[str, str]
    inputs: dict[str, Any]
    secret_paths: list[str]
    protect: bool
    ignore_changes: list[str]
    dependencies: list[str]
    property_dependencies: dict[str, list[str]]
    additional_secret_outputs: list[str]
    replace_on_changes: list[str]
    delete_before_replace: bool
    retain_on_delete: bool
    version: str
    id: Optional[str] = None
    outputs: dict[str, Any] = field(default_factory=dict)

    def get(self, dotted: str, default: Any = None) -> Any:
        """Read a nested input by dotted path, e.g. ``autoUpgradeProfile.nodeOSUpgradeChannel``."""
        return dig(self.inputs, dotted, default)

    def is_secret(self, dotted: str) -> bool:
        return any(dotted == p or dotted.startswith(p + ".") for p in self.secret_paths)


@dataclass
class ProgramRun:
    stack: str
    config: dict[str, str]
    secret_keys: list[str]
    resources: list[RecordedResource]
    outputs: dict[str, Any]
    secret_outputs: set[str]
    log_errors: list[str]

    def of_type(self, type_token: str) -> list[RecordedResource]:
        return [r for r in self.resources if r.type == type_token]

    def one(self, type_token: str, name: Optional[str] = None) -> RecordedResource:
        found = [r for r in self.of_type(type_token) if name is None or r.name == name]
        if len(found) != 1:
            names = [r.name for r in self.of_type(type_token)]
            raise AssertionError(f"expected one {type_token} named {name!r}, found {len(found)} among {names}")
        return found[0]

    def by_urn(self, urn: str) -> RecordedResource:
        for r in self.resources:
            if r.urn == urn:
                return r
        raise KeyError(urn)

    def children_of(self, parent: RecordedResource) -> list[RecordedResource]:
        return [r for r in self.resources if r.parent == parent.urn]

    def k8s_objects(self, kind: str) -> list[RecordedResource]:
        """Kubernetes resources of a kind (``PeerAuthentication``), any apiVersion."""
        return [r for r in self.resources if r.type.startswith("kubernetes:") and r.type.rsplit(":", 1)[-1] == kind]


def dig(obj: Any, dotted: str, default: Any = None) -> Any:
    cur = obj
    for part in dotted.split("."):
        if isinstance(cur, Mapping) and part in cur:
            cur = cur[part]
        elif isinstance(cur, list) and part.isdigit() and int(part) < len(cur):
            cur = cur[int(part)]
        else:
            return default
    return cur


def _plain(value: Any, path: str, secrets: list[str]) -> Any:
    """Unwrap the wire encoding: record secret paths, show references by URN, unknowns as None."""
    if isinstance(value, dict):
        sig = value.get(_SECRET_SIG_KEY)
        if sig == _SECRET_SIG:
            secrets.append(path)
            return _plain(value.get("value"), path, secrets)
        if sig == _RESOURCE_SIG:
            return value.get("urn")
        return {k: _plain(v, f"{path}.{k}" if path else k, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v, f"{path}.{i}" if path else str(i), secrets) for i, v in enumerate(value)]
    if value == _UNKNOWN:
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


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
            "clusters": [{"name": cluster, "cluster": {"server": f"https://{fqdn}:443",
                                                         "certificate-authority-data": base64.b64encode(fake_certificate(cluster).encode()).decode()}}],
            "contexts": [{"name": cluster, "context": {"cluster": cluster, "user": f"clusterUser_{cluster}"}}],
            "current-context": cluster,
            "users": [{"name": f"clusterUser_{cluster}", "user": {"exec": {
                "apiVersion": "client.authentication.k8s.io/v1beta1",
                "command": "kubelogin",
                "args": ["get-token", "--login", "azurecli", "--server-id", "6dae42f8-4368-4678-94ff-3960e28e3630"],
            }}}],
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


class PlatformMocks:
    """Answers the engine's questions with values shaped like Azure's and the providers' real ones."""

    def __init__(self, stack: str, stack_references: Optional[Mapping[str, Mapping[str, Any]]] = None):
        self.stack = stack
        self.stack_references = dict(stack_references or {})

    # pulumi.runtime.Mocks protocol -------------------------------------------------
    def new_resource(self, args) -> tuple[Optional[str], dict]:
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

    def call(self, args) -> tuple[dict, Optional[list]]:
        handler = _CALL_OUTPUTS.get(args.token)
        if handler is None:
            return {}, []
        # No check failures: an empty list (pulumi's MockMonitor iterates it).
        return handler(self, args), []

    def register_transform(self, transform) -> None:  # pragma: no cover - protocol hook
        pass

    def register_invoke_transform(self, transform) -> None:  # pragma: no cover - protocol hook
        pass


def _resource_group(m: PlatformMocks, args) -> tuple[str, dict]:
    name = args.inputs.get("resourceGroupName", args.name)
    return f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/{name}", {"name": name}


def _addon_identity(m: PlatformMocks, rg: str, cluster: str, addon: str) -> dict:
    seed = hashlib.sha1(f"{m.stack}:{cluster}:{addon}".encode()).hexdigest()
    return {
        "clientId": f"{seed[:8]}-3333-4333-8333-{seed[-12:]}",
        "objectId": f"{seed[8:16]}-4444-4444-8444-{seed[:12]}",
        "resourceId": _arm_id(f"MC_{rg}_{cluster}", "Microsoft.ManagedIdentity",
                              f"userAssignedIdentities/{addon.lower()}-{cluster}"),
    }


def _managed_cluster(m: PlatformMocks, args) -> tuple[str, dict]:
    rg = args.inputs.get("resourceGroupName", "rg")
    name = args.inputs.get("resourceName", args.name)
    fqdn = f"{args.inputs.get('dnsPrefix', name)}-a1b2c3d4.hcp.{args.inputs.get('location', 'westeurope')}.azmk8s.io"
    seed = hashlib.sha1(f"{m.stack}:{name}".encode()).hexdigest()
    kubelet_id = _arm_id(f"MC_{rg}_{name}", "Microsoft.ManagedIdentity", f"userAssignedIdentities/{name}-agentpool")
    return _arm_id(rg, "Microsoft.ContainerService", f"managedClusters/{name}"), {
        "name": name,
        "fqdn": fqdn,
        "nodeResourceGroup": args.inputs.get("nodeResourceGroup", f"MC_{rg}_{name}_{args.inputs.get('location', 'westeurope')}"),
        "oidcIssuerProfile": {
            **(args.inputs.get("oidcIssuerProfile") or {}),
            "issuerURL": f"https://westeurope.oic.prod-aks.azure.com/{TENANT_ID}/{seed[:8]}-{seed[8:12]}-{seed[12:16]}-{seed[16:20]}-{seed[20:32]}/",
        },
        "identityProfile": {
            "kubeletidentity": {
                "clientId": f"{seed[:8]}-0000-4000-8000-{seed[-12:]}",
                "objectId": f"{seed[8:16]}-1111-4111-8111-{seed[:12]}",
                "resourceId": kubelet_id,
            }
        },
        "identity": {**(args.inputs.get("identity") or {}), "principalId": f"{seed[16:24]}-2222-4222-8222-{seed[4:16]}",
                     "tenantId": TENANT_ID},
        # AKS gives each enabled add-on its own managed identity in the node resource group.
        "addonProfiles": {
            addon: {**profile, "identity": _addon_identity(m, rg, name, addon)} if profile.get("enabled") else profile
            for addon, profile in (args.inputs.get("addonProfiles") or {}).items()
        },
        "provisioningState": "Succeeded",
        "powerState": {"code": "Running"},
        "currentKubernetesVersion": args.inputs.get("kubernetesVersion") or "1.33.2",
    }


def _vault(m: PlatformMocks, args) -> tuple[str, dict]:
    rg = args.inputs.get("resourceGroupName", "rg")
    name = args.inputs.get("vaultName", args.name)
    props = dict(args.inputs.get("properties") or {})
    props["vaultUri"] = f"https://{name}.vault.azure.net/"
    return _arm_id(rg, "Microsoft.KeyVault", f"vaults/{name}"), {"name": name, "properties": props}


def _vault_secret(m: PlatformMocks, args) -> tuple[str, dict]:
    rg = args.inputs.get("resourceGroupName", "rg")
    vault = args.inputs.get("vaultName", "vault")
    name = args.inputs.get("secretName", args.name)
    props = args.inputs.get("properties") or {}
    if isinstance(props, Mapping) and props.get(_SECRET_SIG_KEY) == _SECRET_SIG:
        props = props.get("value") or {}  # the whole object is secret when its value is (the SDK lifts it)
    props = dict(props)
    props.pop("value", None)  # ARM never returns a secret's value
    props["secretUri"] = f"https://{vault}.vault.azure.net/secrets/{name}"
    props["secretUriWithVersion"] = f"https://{vault}.vault.azure.net/secrets/{name}/0123456789abcdef0123456789abcdef"
    return _arm_id(rg, "Microsoft.KeyVault", f"vaults/{vault}/secrets/{name}"), {"name": name, "properties": props}


def _workspace(m: PlatformMocks, args) -> tuple[str, dict]:
    rg = args.inputs.get("resourceGroupName", "rg")
    name = args.inputs.get("workspaceName", args.name)
    seed = hashlib.sha1(f"{m.stack}:{name}".encode()).hexdigest()
    return _arm_id(rg, "Microsoft.OperationalInsights", f"workspaces/{name}"), {
        "name": name, "customerId": f"{seed[:8]}-{seed[8:12]}-4{seed[13:16]}-8{seed[17:20]}-{seed[20:32]}",
    }


def _public_ip(m: PlatformMocks, args) -> tuple[str, dict]:
    rg = args.inputs.get("resourceGroupName", "rg")
    name = args.inputs.get("publicIpAddressName", args.name)
    digest = hashlib.sha1(f"{m.stack}:{name}".encode()).digest()
    ip = f"20.{50 + digest[0] % 100}.{digest[1]}.{max(digest[2], 1)}"
    state: dict[str, Any] = {"name": name, "ipAddress": ip}
    dns = args.inputs.get("dnsSettings")
    if isinstance(dns, Mapping) and dns.get("domainNameLabel"):
        state["dnsSettings"] = {**dns, "fqdn": f"{dns['domainNameLabel']}.{args.inputs.get('location', 'westeurope')}.cloudapp.azure.com"}
    return _arm_id(rg, "Microsoft.Network", f"publicIPAddresses/{name}"), state


def _virtual_network(m: PlatformMocks, args) -> tuple[str, dict]:
    rg = args.inputs.get("resourceGroupName", "rg")
    name = args.inputs.get("virtualNetworkName", args.name)
    return _arm_id(rg, "Microsoft.Network", f"virtualNetworks/{name}"), {"name": name}


def _subnet(m: PlatformMocks, args) -> tuple[str, dict]:
    rg = args.inputs.get("resourceGroupName", "rg")
    vnet = args.inputs.get("virtualNetworkName", "vnet")
    name = args.inputs.get("subnetName", args.name)
    return _arm_id(rg, "Microsoft.Network", f"virtualNetworks/{vnet}/subnets/{name}"), {"name": name}


def _user_assigned_identity(m: PlatformMocks, args) -> tuple[str, dict]:
    rg = args.inputs.get("resourceGroupName", "rg")
    name = args.inputs.get("resourceName", args.name)
    seed = hashlib.sha1(f"{m.stack}:{name}".encode()).hexdigest()
    return _arm_id(rg, "Microsoft.ManagedIdentity", f"userAssignedIdentities/{name}"), {
        "name": name, "clientId": f"{seed[:8]}-aaaa-4aaa-8aaa-{seed[-12:]}",
        "principalId": f"{seed[8:16]}-bbbb-4bbb-8bbb-{seed[:12]}", "tenantId": TENANT_ID,
    }


def _tls_private_key(m: PlatformMocks, args) -> tuple[str, dict]:
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


def _tls_self_signed_cert(m: PlatformMocks, args) -> tuple[str, dict]:
    # The certificate follows from the key and subject, so the same key gives the same certificate.
    seed = f"{args.inputs.get('privateKeyPem', '')}:{json.dumps(args.inputs.get('subject'), sort_keys=True)}"
    hours = int(args.inputs.get("validityPeriodHours") or 0)
    return hashlib.sha1(seed.encode()).hexdigest(), {
        "certPem": fake_certificate(seed),
        "validityStartTime": "2026-11-26T00:00:00Z",
        "validityEndTime": f"+{hours}h from 2026-11-26T00:00:00Z",
        "readyForRenewal": False,
    }


def _stack_reference(m: PlatformMocks, args) -> tuple[str, dict]:
    name = args.inputs.get("name", args.name)
    if name in m.stack_references:
        outputs = dict(m.stack_references[name])
    elif name.endswith("/nonprod-keys"):
        outputs = shared_key_owner_outputs(name)
    else:
        outputs = {}
    secret_names = [k for k in ("sealingKeys", "kubeconfig") if k in outputs]
    return name, {"name": name, "outputs": outputs, "secretOutputNames": secret_names}


_RESOURCE_OUTPUTS: dict[str, Callable[[PlatformMocks, Any], tuple[str, dict]]] = {
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


def _client_config(m: PlatformMocks, args) -> dict:
    return {"clientId": DEPLOYER_CLIENT_ID, "objectId": DEPLOYER_OBJECT_ID,
            "subscriptionId": SUBSCRIPTION_ID, "tenantId": TENANT_ID}


def _user_credentials(m: PlatformMocks, args) -> dict:
    name = args.args.get("resourceName", "aks")
    fqdn = f"{name}-a1b2c3d4.hcp.westeurope.azmk8s.io"
    return {"kubeconfigs": [{"name": "clusterUser",
                             "value": base64.b64encode(fake_kubeconfig(name, fqdn).encode()).decode()}]}


_CALL_OUTPUTS: dict[str, Callable[[PlatformMocks, Any], dict]] = {
    "azure-native:authorization:getClientConfig": _client_config,
    "azure-native:containerservice:listManagedClusterUserCredentials": _user_credentials,
}


# --------------------------------------------------------------------------- stack config


def stack_file(stack: str | Path) -> Path:
    p = Path(stack)
    if p.suffix in (".yaml", ".yml") and p.exists():
        return p
    return ROOT / f"Pulumi.{stack}.yaml"


def stack_name_of(stack: str | Path) -> str:
    p = Path(stack)
    if p.suffix in (".yaml", ".yml"):
        return p.stem.removeprefix("Pulumi.")
    return str(stack)


def encode_config_value(value: Any) -> str:
    """The engine hands every config value to the program as a string; objects as JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def load_stack_config(
    stack: str | Path, overrides: Optional[Mapping[str, Any]] = None
) -> tuple[dict[str, str], list[str]]:
    """Read ``Pulumi.<stack>.yaml`` as the engine would pass it to the program.

    ``secure:`` values become clearly marked placeholders (this machine cannot decrypt them).
    ``overrides`` maps keys (``platform:`` prefix optional) to new values; ``None`` deletes a key.
    """
    data = yaml.safe_load(stack_file(stack).read_text()) or {}
    raw: dict[str, Any] = dict(data.get("config") or {})
    for key, value in (overrides or {}).items():
        full = key if ":" in key else f"{PROJECT}:{key}"
        if value is None:
            raw.pop(full, None)
        else:
            raw[full] = value
    config: dict[str, str] = {}
    secret_keys: list[str] = []
    for key, value in raw.items():
        if isinstance(value, Mapping) and set(value) == {"secure"}:
            config[key] = SECRET_PLACEHOLDER.format(key=key)
            secret_keys.append(key)
        else:
            config[key] = encode_config_value(value)
    return config, secret_keys


# --------------------------------------------------------------------------- the run


class _LogCollector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def run_program(
    stack: str | Path = "dev",
    *,
    overrides: Optional[Mapping[str, Any]] = None,
    config: Optional[tuple[dict[str, str], list[str]]] = None,
    stack_references: Optional[Mapping[str, Mapping[str, Any]]] = None,
    program: Optional[Callable[[], Any]] = None,
    preview: bool = False,
    recorded: Optional[list[RecordedResource]] = None,
    project: str = PROJECT,
) -> ProgramRun:
    """Run ``__main__.py`` (or ``program``) for a stack under mocks; return what it registered.

    Raises whatever the program raises (a ``ConfigError`` for bad config), after the
    runtime has settled, exactly as ``pulumi up`` would report it. Pass ``recorded`` (a list)
    to see what was registered even when the program fails. ``project`` is the Pulumi project
    name the program sees (``pulumi.get_project()``, the namespace of ``pulumi.Config()``): pass
    another project's name to run a different program, e.g. the app-team example.
    """
    import pulumi
    from google.protobuf import json_format
    from pulumi.runtime import config as runtime_config
    from pulumi.runtime import mocks as runtime_mocks
    from pulumi.runtime import settings
    from pulumi.runtime.stack import run_pulumi_func
    from pulumi.runtime.sync_await import _sync_await

    stack_name = stack_name_of(stack)
    cfg, secret_keys = config if config is not None else load_stack_config(stack, overrides)
    mocks = PlatformMocks(stack_name, stack_references)
    if recorded is None:
        recorded = []

    class RecordingMonitor(runtime_mocks.MockMonitor):
        def RegisterResource(self, request):  # noqa: N802 - gRPC method name
            response = super().RegisterResource(request)
            if request.type == "pulumi:pulumi:Stack":
                return response
            secrets: list[str] = []
            inputs = _plain(json_format.MessageToDict(request.object), "", secrets)
            outputs = _plain(json_format.MessageToDict(response.object), "", [])
            # As the engine does: outputs listed in additionalSecretOutputs, and outputs whose
            # input was secret, come back secret.
            secret_outputs = set(request.additionalSecretOutputs) | {p.split(".")[0] for p in secrets}
            if secret_outputs:
                state = json_format.MessageToDict(response.object)
                for key in secret_outputs & set(state):
                    if not (isinstance(state[key], dict) and state[key].get(_SECRET_SIG_KEY) == _SECRET_SIG):
                        state[key] = {_SECRET_SIG_KEY: _SECRET_SIG, "value": state[key]}
                response.object.Clear()
                json_format.ParseDict(state, response.object)
            recorded.append(
                RecordedResource(
                    urn=response.urn,
                    type=request.type,
                    name=request.name,
                    custom=bool(request.custom),
                    parent=request.parent,
                    provider=request.provider,
                    providers=dict(request.providers),
                    inputs=inputs,
                    secret_paths=secrets,
                    protect=bool(request.protect),
                    ignore_changes=list(request.ignoreChanges),
                    dependencies=list(request.dependencies),
                    property_dependencies={k: list(v.urns) for k, v in request.propertyDependencies.items()},
                    additional_secret_outputs=list(request.additionalSecretOutputs),
                    replace_on_changes=list(request.replaceOnChanges),
                    delete_before_replace=bool(request.deleteBeforeReplace),
                    retain_on_delete=bool(request.retainOnDelete),
                    version=request.version,
                    id=response.id or None,
                    outputs=outputs,
                )
            )
            return response

    collector = _LogCollector()
    logger = logging.getLogger(f"platform.mockrun.{stack_name}")
    logger.handlers = [collector]
    logger.propagate = False

    settings.ROOT.set(None)
    runtime_config.set_all_config(cfg, secret_keys)
    pulumi.runtime.set_mocks(
        mocks, project=project, stack=stack_name, preview=preview, logger=logger,
        monitor=RecordingMonitor(mocks), organization=ORGANIZATION,
    )
    # Start clean, as the SDK's own @pulumi.runtime.test decorator does.
    settings.SETTINGS.rpc_manager.clear()
    settings.SETTINGS.outputs.clear()

    def main() -> None:
        if program is not None:
            program()
        else:
            runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")

    outputs: dict[str, Any] = {}
    secret_outputs: set[str] = set()
    failed = True
    try:
        _sync_await(run_pulumi_func(main))
        root = settings.get_root_resource()
        for name, value in sorted(getattr(root, "outputs", {}).items()):
            out = pulumi.Output.from_input(value)
            outputs[name] = _sync_await(out.future())
            if _sync_await(out.is_secret()):
                secret_outputs.add(name)
        failed = False
    finally:
        _drain_runtime(settings, _sync_await, failed)
    if collector.messages:
        raise RuntimeError("the program logged errors:\n" + "\n".join(collector.messages))
    return ProgramRun(
        stack=stack_name, config=cfg, secret_keys=secret_keys, resources=recorded,
        outputs=outputs, secret_outputs=secret_outputs, log_errors=collector.messages,
    )


def _drain_runtime(settings, sync_await, failed: bool) -> None:
    """Settle what a run left in Pulumi's process-wide state, so the next run in this process starts clean.

    A run that failed inside an apply leaves failed Outputs and RPCs behind: the next run would await
    (and re-raise) them, and their never-retrieved exceptions would be reported later at random points.
    Gathering them marks every exception retrieved; the error itself was already raised to the caller.
    """
    import asyncio
    import gc

    pending = [*settings.SETTINGS.outputs, *settings.SETTINGS.rpc_manager.rpcs]
    settings.SETTINGS.outputs.clear()
    settings.SETTINGS.rpc_manager.clear()
    if pending:
        sync_await(asyncio.gather(*pending, return_exceptions=True))
    if failed:
        # The error travelled through a chain of apply futures; each would report itself when collected.
        for obj in gc.get_objects():
            if isinstance(obj, asyncio.Future) and obj.done() and not obj.cancelled():
                obj.exception()


def iter_inputs(run: ProgramRun, type_prefix: str = "") -> Iterable[RecordedResource]:
    return (r for r in run.resources if r.type.startswith(type_prefix))
