"""The whole stack configuration: read from Pulumi config, validated, frozen.

Every key lives in the project namespace (``platform:``). Objects are structured Pulumi config (YAML
maps in ``Pulumi.<stack>.yaml``). Each key is declared once, on its section's dataclass field, with its
kind, default, allowed values and description (``stack_config/spec.py``); the README config reference
is generated from those declarations (``python -m stack_config.gen_docs``). Validation collects every
problem and raises one ``ConfigError`` naming each key path, the bad value and what is allowed, before
any resource is registered. Defaults are the secure choice; production is stricter than
non-production, never looser.

Sections: ``cluster`` (cluster.py), ``keyVault`` and ``sealedSecrets`` (vault.py), ``istio``,
``appNamespaces`` (mesh.py), ``meshCa`` (mesh_ca.py), ``ingress`` and ``egress`` (edges.py), ``observability``
(observability.py); the rules between the network, the vault and the egress allow-list in network.py.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from stack_config.cluster import (
    ClusterConfig,
    MaintenanceWindow,
    NetworkConfig,
    SystemPoolConfig,
    UserPoolConfig,
)
from stack_config.deployer import AZURE_CLI_USER, DEPLOYER_PRINCIPAL_TYPES, DeployerAuth, detect_running_deployer
from stack_config.edges import (
    INGRESS_TLS_CERT_KEY,
    INGRESS_TLS_KEY_KEY,
    SECRET_KEYS,
    EgressConfig,
    EgressHost,
    IngressConfig,
    JwtIssuerConfig,
    check_certificate_covers,
    check_egress,
)
from stack_config.kinds import ENVIRONMENT, PublicCidrs
from stack_config.mesh import (
    RESERVED_NAMESPACES,
    AppNamespaceConfig,
    IstioConfig,
    IstioRevision,
    MtlsException,
    check_mesh,
    istio_revision,
)
from stack_config.mesh_ca import MeshCaCluster, MeshCaConfig
from stack_config.network import check_network
from stack_config.observability import ObservabilityConfig
from stack_config.reader import PROJECT, ConfigError, Reader
from stack_config.spec import (
    Boolean,
    Context,
    Derived,
    MapOf,
    Objects,
    Read,
    Required,
    Section,
    Text,
    key,
    key_names,
    read_fields,
)
from stack_config.vault import (
    DEFAULT_SEALED_SECRETS_CHART_VERSION,
    KeyVaultConfig,
    SealedSecretsConfig,
)

__all__ = [
    "DEFAULT_SEALED_SECRETS_CHART_VERSION",
    "ENVIRONMENT_CLASSES",
    "INGRESS_TLS_CERT_KEY",
    "INGRESS_TLS_KEY_KEY",
    "PROJECT",
    "RESERVED_NAMESPACES",
    "SECRET_KEYS",
    "STACK_ROLES",
    "AppNamespaceConfig",
    "ClusterConfig",
    "ConfigError",
    "DeployerAuth",
    "EgressConfig",
    "EgressHost",
    "IngressConfig",
    "IstioConfig",
    "JwtIssuerConfig",
    "KeyVaultConfig",
    "MaintenanceWindow",
    "MeshCaCluster",
    "MeshCaConfig",
    "MtlsException",
    "NetworkConfig",
    "ObservabilityConfig",
    "IstioRevision",
    "PlatformConfig",
    "SealedSecretsConfig",
    "SystemPoolConfig",
    "UserPoolConfig",
    "istio_revision",
    "load_config",
    "parse_config",
    "read_raw_config",
]

ENVIRONMENT_CLASSES = ("nonprod", "prod")
STACK_ROLES = ("environment", "sealingKeyOwner")

_AZURE_REGION = re.compile(r"^[a-z][a-z0-9]{2,30}$")
_NAME_PREFIX = re.compile(r"^[a-z][a-z0-9]{1,7}$")
_TAG_KEY = re.compile(r"^[^<>%&\\?/]{1,512}$")


def _tag(s: Read, path: str, name: Any, value: Any) -> tuple[str, str] | None:
    if not _TAG_KEY.match(str(name)):
        s.r.problem(f"{path}.{name}", name, "tag names may not contain < > % & \\ ? /")
    elif not isinstance(value, str) or len(value) > 256:
        s.r.problem(f"{path}.{name}", value, "expected a string of at most 256 characters")
    else:
        return str(name), value
    return None


# Azure tags: tag name to string value.
TAGS = MapOf(
    "tag name to string value", "tag name (no `< > % & \\ ? /`) to a string of at most 256 characters", _tag, dict
)


@dataclass(frozen=True)
class PlatformConfig:
    environment: str = key(
        "environment",
        ENVIRONMENT,
        "environment name, part of every Azure name",
        required=Required(),
    )
    environment_class: str = key(
        "environmentClass",
        Text(choices=ENVIRONMENT_CLASSES),
        "decides the defaults and how strict validation is",
        required=Required(),
    )
    stack_role: str = key(
        "stackRole",
        Text(choices=STACK_ROLES),
        "sealingKeyOwner: the stack that only owns the sealing key shared by every non-production environment",
        default="environment",
    )
    location: str = key(
        "location",
        Text(pattern=_AZURE_REGION, describe="allowed: an Azure region name such as westeurope"),
        "Azure region",
        required=Required(),
    )
    name_prefix: str = key(
        "namePrefix",
        Text(pattern=_NAME_PREFIX, describe="allowed: 2-8 lowercase letters or digits, starting with a letter"),
        "first part of every Azure name: <namePrefix>-<environment>-...",
        default="plat",
    )
    tags: Mapping[str, str] = key(
        "tags", TAGS, "applied to every Azure resource", default=Derived(lambda ctx, values: {}, "`{}`")
    )
    # Declared once, fed to both allow-lists (API server and vault firewall), so the two cannot drift apart.
    ci_runner_cidrs: tuple[str, ...] = key(
        "ciRunnerCidrs",
        PublicCidrs(describe="allowed: a public IPv4 CIDR such as 198.51.100.16/28"),
        "public egress ranges of the CI runners that deploy this stack; added to "
        "cluster.apiServerAuthorizedIpRanges and keyVault.allowedCidrs",
        default=(),
    )
    deployer_principal_type: str = key(  # never None after parse_config: configured or detected
        "deployerPrincipalType",
        Text(choices=DEPLOYER_PRINCIPAL_TYPES),
        "principal type of the identity running `pulumi up` (its Key Vault role assignment must state it); "
        "unset: detected from the azure-native provider credentials (ARM_CLIENT_ID with ARM_USE_OIDC, a "
        "secret or certificate, or ARM_USE_MSI: ServicePrincipal; none: the Azure CLI user)",
        default=Derived(lambda ctx, values: None, "detected"),
    )
    allow_rename: bool = key(
        "allowRename",
        Boolean(),
        "allow a change of namePrefix, environment, location or keyVault.softDeleteRetentionDays on a deployed "
        "stack: it replaces every resource (see docs/deployment.md)",
        default=False,
    )
    cluster: ClusterConfig = key("cluster", Section(ClusterConfig), "the AKS cluster")
    key_vault: KeyVaultConfig = key("keyVault", Section(KeyVaultConfig), "the environment's Key Vault")
    sealed_secrets: SealedSecretsConfig = key(
        "sealedSecrets", Section(SealedSecretsConfig), "the sealed-secrets controller and its key"
    )
    istio: IstioConfig = key("istio", Section(IstioConfig), "the mesh")
    mesh_ca: MeshCaConfig = key(
        "meshCa", Section(MeshCaConfig), "the mesh CA: a root outside the clusters, an intermediate per cluster"
    )
    ingress: IngressConfig = key("ingress", Section(IngressConfig), "the ingress gateway")
    egress: EgressConfig = key("egress", Section(EgressConfig), "the egress gateway")
    app_namespaces: tuple[AppNamespaceConfig, ...] = key(
        "appNamespaces",
        Objects(AppNamespaceConfig),
        "namespaces app teams deploy into (injected, default-deny)",
        default=(),
    )
    observability: ObservabilityConfig = key(
        "observability", Section(ObservabilityConfig), "logs, metrics, alerts and their retention"
    )
    secret_keys_present: frozenset[str] = field(default_factory=frozenset)

    @property
    def is_prod(self) -> bool:
        return self.environment_class == "prod"

    @property
    def resource_prefix(self) -> str:
        """Stable prefix for Azure names, e.g. ``plat-dev``."""
        return f"{self.name_prefix}-{self.environment}"


_CONTEXT_KEYS = ("environment", "environment_class", "stack_role")


def parse_config(
    raw: Mapping[str, Any], secret_keys: Sequence[str] = (), deployer: DeployerAuth = AZURE_CLI_USER
) -> PlatformConfig:
    """Validate the decoded top-level config keys (without the ``platform:`` prefix).

    ``deployer``: how the azure-native provider authenticates (``stack_config.deployer``), which decides the
    deploying identity's principal type unless ``deployerPrincipalType`` is set. Raises ``ConfigError``
    listing every problem at once.
    """
    r = Reader()
    top = r.section(raw, "", [*key_names(PlatformConfig), *SECRET_KEYS])
    present_secrets = frozenset(name for name in SECRET_KEYS if name in top)
    for name in SECRET_KEYS:
        if name in present_secrets and name not in secret_keys:
            r.report(name, f"must be a secret; set it with `pulumi config set --secret {name} < file.pem`")

    # The environment class and the stack role decide the other keys' defaults and rules: read them first.
    s = Read(r, "", top, Context(None, "environment"))
    read_fields(s, PlatformConfig, only=_CONTEXT_KEYS)
    s.ctx = Context(s.values["environment_class"], s.values["stack_role"], present_secrets)
    if s.ctx.stack_role == "sealingKeyOwner" and s.ctx.prod:
        s.problem(
            "stackRole",
            s.ctx.stack_role,
            "sealingKeyOwner is for the shared non-production key; prod stacks own their key",
        )
    read_fields(
        s, PlatformConfig, only=[f.name for f in dataclasses.fields(PlatformConfig) if f.name not in _CONTEXT_KEYS]
    )
    check_mesh(s)
    _deployer_principal_type(s, deployer)
    _merge_ci_runner_cidrs(s)
    check_network(s)
    check_egress(s)
    _check_retention(s)
    if r.problems:
        raise ConfigError(r.problems)
    return PlatformConfig(**s.values, secret_keys_present=present_secrets)


def _deployer_principal_type(s: Read, deployer: DeployerAuth) -> None:
    """The configured type, else the detected one; a configured type the credentials contradict is an error."""
    configured = s.values["deployer_principal_type"]
    if configured is None and not s.failed("deployerPrincipalType"):
        if deployer.principal_type is None:
            s.report(
                "deployerPrincipalType",
                f"required: the principal type cannot be detected from {deployer.evidence}; "
                f"allowed: {', '.join(DEPLOYER_PRINCIPAL_TYPES)}",
            )
        s.values["deployer_principal_type"] = deployer.principal_type or "User"
    elif configured is not None and deployer.certain and configured != deployer.principal_type:
        s.problem(
            "deployerPrincipalType",
            configured,
            f"the provider authenticates as {deployer.principal_type} ({deployer.evidence}); Azure refuses a role "
            "assignment whose principalType does not match the principal (UnmatchedPrincipalType)",
        )


def _merge_ci_runner_cidrs(s: Read) -> None:
    """ciRunnerCidrs join both allow-lists (each range once, the section's own ranges first)."""
    ci = s.values["ci_runner_cidrs"]
    if not ci:
        return
    cluster, vault = s.values["cluster"], s.values["key_vault"]
    if cluster is not None:
        ranges = tuple(dict.fromkeys((*cluster.api_server_authorized_ip_ranges, *ci)))
        s.values["cluster"] = dataclasses.replace(cluster, api_server_authorized_ip_ranges=ranges)
    if vault is not None:
        s.values["key_vault"] = dataclasses.replace(
            vault, allowed_cidrs=tuple(dict.fromkeys((*vault.allowed_cidrs, *ci)))
        )


def _check_retention(s: Read) -> None:
    """A total retention set shorter than the workspace's interactive retention is a contradiction.

    Left at its default, the total follows the interactive retention upwards (LogRetention takes the larger).
    """
    cluster, observability = s.values.get("cluster"), s.values.get("observability")
    raw = s.raw.get("observability")
    given = isinstance(raw, Mapping) and raw.get("securityLogRetentionDays") is not None
    if not given or cluster is None or observability is None or s.r.failed("observability.securityLogRetentionDays"):
        return
    if observability.security_log_retention_days < cluster.log_retention_days:
        s.r.problem(
            "observability.securityLogRetentionDays",
            observability.security_log_retention_days,
            f"at least cluster.logRetentionDays ({cluster.log_retention_days}): the total includes those",
        )


def _decode(value: Any) -> Any:
    """Pulumi hands structured config to the program as JSON text."""
    if isinstance(value, str):
        stripped = value.strip()
        if stripped[:1] in ("{", "[") or stripped in ("true", "false"):
            try:
                return json.loads(stripped)
            except ValueError:
                return value
    return value


def read_raw_config() -> tuple[dict[str, Any], list[str]]:
    """Every ``platform:`` key the engine passed to the program, decoded, and which of them are secret."""
    from pulumi.runtime import config as runtime_config

    merged = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    raw: dict[str, Any] = {}
    secret: list[str] = []
    prefix = f"{PROJECT}:"
    for full_key, value in merged.items():
        if not full_key.startswith(prefix):
            continue
        name = full_key[len(prefix) :]
        if runtime_config.is_config_secret(full_key) or full_key in runtime_config.get_config_secret_keys_env():
            secret.append(name)
            raw[name] = "[secret]"  # presence only: the values are read as secret Outputs below
        else:
            raw[name] = _decode(value)
    return raw, secret


def load_config() -> PlatformConfig:
    """Read and validate the running stack's configuration, with its secret values as secret Outputs."""
    raw, secret_keys = read_raw_config()
    cfg = parse_config(raw, secret_keys, detect_running_deployer())
    if cfg.ingress.tls_source == "config" and set(SECRET_KEYS) <= cfg.secret_keys_present:
        import pulumi

        conf = pulumi.Config(PROJECT)
        cfg = dataclasses.replace(
            cfg,
            ingress=dataclasses.replace(
                cfg.ingress,
                # Every host must be covered by the certificate's names: checked once the secret is known
                # (preview and up), failing the resources that use it.
                tls_certificate_pem=conf.require_secret(INGRESS_TLS_CERT_KEY).apply(
                    lambda pem: check_certificate_covers(pem, cfg.ingress.hosts)
                ),
                tls_private_key_pem=conf.require_secret(INGRESS_TLS_KEY_KEY),
            ),
        )
    return cfg
