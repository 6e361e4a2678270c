"""The whole stack configuration: read from Pulumi config, validated, frozen.

Every key lives in the project namespace (``platform:``). Objects are structured
Pulumi config (YAML maps in ``Pulumi.<stack>.yaml``). Validation collects every
problem and raises one ``ConfigError`` naming each key path, the bad value and
what is allowed, before any resource is registered. Defaults are the secure
choice; production is stricter than non-production, never looser.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional, Sequence

PROJECT = "platform"

ENVIRONMENT_CLASSES = ("nonprod", "prod")
STACK_ROLES = ("environment", "sealingKeyOwner")
NODE_OS_UPGRADE_CHANNELS = ("NodeImage", "SecurityPatch")
UPGRADE_CHANNELS = ("patch", "stable")
SKU_TIERS = ("Free", "Standard", "Premium")
PROD_SKU_TIERS = ("Standard", "Premium")
NETWORK_POLICIES = ("cilium", "azure", "calico")
DAYS_OF_WEEK = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
KEY_VAULT_SKUS = ("standard", "premium")
SEALING_KEY_MODES = ("dedicated", "sharedOwner", "sharedReference")
OUTBOUND_TRAFFIC_POLICIES = ("REGISTRY_ONLY", "ALLOW_ANY")
MTLS_EXCEPTION_MODES = ("PERMISSIVE", "DISABLE")
TLS_VERSIONS = ("TLSV1_2", "TLSV1_3")
INGRESS_TLS_SOURCES = ("keyVault", "config")
EGRESS_PROTOCOLS = ("TLS", "HTTPS")

# Secret config keys (set with `pulumi config set --secret`); never read into the dataclasses.
INGRESS_TLS_CERT_KEY = "ingressTlsCertificate"
INGRESS_TLS_KEY_KEY = "ingressTlsPrivateKey"
SECRET_KEYS = (INGRESS_TLS_CERT_KEY, INGRESS_TLS_KEY_KEY)

# Namespaces the platform owns; app namespaces may not take these names.
RESERVED_NAMESPACES = (
    "default", "kube-system", "kube-public", "kube-node-lease", "gatekeeper-system",
    "istio-system", "istio-ingress", "istio-egress", "sealed-secrets", "calico-system",
    "tigera-operator", "app-routing-system",
)

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_HOST_LABEL = r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"
_HOSTNAME = re.compile(rf"^{_HOST_LABEL}(\.{_HOST_LABEL})+$")
_WILDCARD_HOSTNAME = re.compile(rf"^\*\.{_HOST_LABEL}(\.{_HOST_LABEL})+$")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_TIME_HHMM = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
_UTC_OFFSET = re.compile(r"^[+-](0[0-9]|1[0-4]):[0-5][0-9]$")
_K8S_VERSION = re.compile(r"^1\.\d{2}(\.\d{1,2})?$")
_SEMVER = re.compile(r"^\d+\.\d+\.\d+$")
_LOCATION = re.compile(r"^[a-z][a-z0-9]{2,30}$")
_VM_SIZE = re.compile(r"^Standard_[A-Za-z0-9_]+$")
_ARM_SUBNET_ID = re.compile(
    r"^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.Network/virtualNetworks/[^/]+/subnets/[^/]+$",
    re.IGNORECASE,
)
_STACK_NAME = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_HTTPS_URL = re.compile(r"^https://[A-Za-z0-9.-]+(:\d+)?(/[^\s]*)?$")
_TAG_KEY = re.compile(r"^[^<>%&\\?/]{1,512}$")


class ConfigError(ValueError):
    """The stack configuration is invalid; ``problems`` lists every problem found."""

    def __init__(self, problems: Sequence[str]):
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(
            f"Invalid stack configuration, keys in the '{PROJECT}:' namespace ({len(self.problems)} problem"
            f"{'' if len(self.problems) == 1 else 's'}):\n{lines}"
        )


# --------------------------------------------------------------------------- dataclasses


@dataclass(frozen=True)
class MaintenanceWindow:
    """A weekly AKS planned-maintenance window (``MaintenanceConfiguration`` schedule)."""

    day_of_week: str
    start_time: str  # "HH:MM", in the window's UTC offset
    utc_offset: str  # "+00:00"
    duration_hours: int  # AKS requires at least 4
    interval_weeks: int = 1


@dataclass(frozen=True)
class SystemPoolConfig:
    vm_size: str
    count: int
    availability_zones: tuple[str, ...]
    os_disk_size_gb: int = 128


@dataclass(frozen=True)
class UserPoolConfig:
    vm_size: str
    min_count: int
    max_count: int
    availability_zones: tuple[str, ...]
    os_disk_size_gb: int = 128


@dataclass(frozen=True)
class NetworkConfig:
    vnet_cidr: str
    node_subnet_cidr: str
    pod_cidr: str
    service_cidr: str
    dns_service_ip: str
    existing_subnet_id: Optional[str] = None  # bring your own subnet instead of creating a VNet


@dataclass(frozen=True)
class ClusterConfig:
    kubernetes_version: Optional[str]
    sku_tier: str
    node_os_upgrade_channel: str
    upgrade_channel: str
    node_os_maintenance: MaintenanceWindow
    auto_upgrade_maintenance: MaintenanceWindow
    api_server_authorized_ip_ranges: tuple[str, ...]
    private_cluster: bool
    admin_group_object_ids: tuple[str, ...]
    network_policy: str
    encryption_at_host: bool
    run_command_enabled: bool
    system_pool: SystemPoolConfig
    user_pool: UserPoolConfig
    network: NetworkConfig
    log_retention_days: int


@dataclass(frozen=True)
class KeyVaultConfig:
    sku: str
    allowed_cidrs: tuple[str, ...]
    allowed_subnet_ids: tuple[str, ...]
    soft_delete_retention_days: int


@dataclass(frozen=True)
class SealedSecretsConfig:
    key_mode: str  # dedicated | sharedOwner | sharedReference
    shared_key_stack: Optional[str]  # "org/project/stack" of the shared key's owner
    key_generation: int  # bump to rotate: adds a key, keeps the old ones for decryption
    cert_validity_days: int
    chart_version: str
    namespace: str


@dataclass(frozen=True)
class MtlsException:
    namespace: str
    mode: str
    port: Optional[int] = None


@dataclass(frozen=True)
class IstioConfig:
    version: str
    revision: str
    trust_domain: str
    outbound_traffic_policy: str
    workload_cert_ttl_hours: int
    max_workload_cert_ttl_hours: int
    mtls_exceptions: tuple[MtlsException, ...]


@dataclass(frozen=True)
class JwtIssuerConfig:
    issuer: str
    jwks_uri: str
    audiences: tuple[str, ...]
    hosts: tuple[str, ...]  # protected hosts; empty = every ingress host
    paths: tuple[str, ...]  # protected paths; empty = every path
    required_claims: tuple[tuple[str, tuple[str, ...]], ...]  # (claim, allowed values)
    forward_original_token: bool


@dataclass(frozen=True)
class IngressConfig:
    hosts: tuple[str, ...]
    tls_source: str  # keyVault | config
    tls_key_vault_certificate_name: str
    min_tls_version: str
    max_tls_version: str
    jwt_issuers: tuple[JwtIssuerConfig, ...]
    namespace: str
    replicas: int


@dataclass(frozen=True)
class EgressHost:
    host: str
    port: int = 443
    protocol: str = "TLS"


@dataclass(frozen=True)
class EgressConfig:
    hosts: tuple[EgressHost, ...]
    namespace: str
    replicas: int


@dataclass(frozen=True)
class AppNamespaceConfig:
    name: str
    allow_from_ingress: bool
    allowed_callers: tuple[str, ...]  # "namespace" or "namespace/serviceaccount"
    prometheus_scrape: bool
    egress: bool  # may reach the egress gateway


@dataclass(frozen=True)
class PlatformConfig:
    environment: str
    environment_class: str
    stack_role: str
    location: str
    name_prefix: str
    tags: Mapping[str, str]
    cluster: ClusterConfig
    key_vault: KeyVaultConfig
    sealed_secrets: SealedSecretsConfig
    istio: IstioConfig
    ingress: IngressConfig
    egress: EgressConfig
    app_namespaces: tuple[AppNamespaceConfig, ...]
    prometheus_namespace: Optional[str] = None
    secret_keys_present: frozenset[str] = field(default_factory=frozenset)

    @property
    def is_prod(self) -> bool:
        return self.environment_class == "prod"

    @property
    def resource_prefix(self) -> str:
        """Stable prefix for Azure names, e.g. ``plat-dev``."""
        return f"{self.name_prefix}-{self.environment}"


# --------------------------------------------------------------------------- defaults

# Different windows by default so a change that breaks dev shows up a few days before prod upgrades.
DEFAULT_WINDOWS = {
    "nonprod": {
        "nodeOs": {"dayOfWeek": "Tuesday", "startTime": "02:00", "utcOffset": "+00:00", "durationHours": 4},
        "autoUpgrade": {"dayOfWeek": "Wednesday", "startTime": "02:00", "utcOffset": "+00:00", "durationHours": 4},
    },
    "prod": {
        "nodeOs": {"dayOfWeek": "Saturday", "startTime": "01:00", "utcOffset": "+00:00", "durationHours": 6},
        "autoUpgrade": {"dayOfWeek": "Sunday", "startTime": "01:00", "utcOffset": "+00:00", "durationHours": 6},
    },
}

DEFAULT_ISTIO_VERSION = "1.30.3"
# Controller 0.38.4; the newest chart in https://bitnami.github.io/sealed-secrets/index.yaml (gh-pages, 2026-07-03).
DEFAULT_SEALED_SECRETS_CHART_VERSION = "2.19.1"


# --------------------------------------------------------------------------- reader


class _Reader:
    """Walks the raw config, converting values and collecting every problem with its key path."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def problem(self, path: str, value: Any, allowed: str) -> None:
        self.problems.append(f"{path}: got {_show(value)}; {allowed}")

    def section(self, raw: Any, path: str, known: Sequence[str]) -> dict:
        """A mapping whose keys must all be known (a typo must not silently fall back to a default)."""
        if raw is None:
            return {}
        if not isinstance(raw, Mapping):
            self.problem(path, raw, "expected an object (a YAML map)")
            return {}
        for key in raw:
            if key not in known:
                hint = difflib.get_close_matches(str(key), known, n=1)
                did_you_mean = f"did you mean '{hint[0]}'? " if hint else ""
                full = f"{path}.{key}" if path else str(key)
                self.problems.append(f"{full}: unknown key; {did_you_mean}allowed keys: {', '.join(known)}")
        return dict(raw)

    def string(
        self,
        obj: Mapping,
        key: str,
        path: str,
        default: Any = None,
        *,
        required: bool = False,
        allowed: Optional[Sequence[str]] = None,
        pattern: Optional[re.Pattern] = None,
        describe: str = "",
    ) -> Any:
        full = f"{path}.{key}" if path else key
        if key not in obj or obj[key] is None:
            if required:
                self.problems.append(f"{full}: required; {describe or 'set a value'}")
            return default
        value = obj[key]
        if not isinstance(value, str):
            self.problem(full, value, f"expected a string{'; ' + describe if describe else ''}")
            return default
        if allowed is not None and value not in allowed:
            self.problem(full, value, f"allowed: {', '.join(allowed)}")
            return default
        if pattern is not None and not pattern.match(value):
            self.problem(full, value, describe or f"must match {pattern.pattern}")
            return default
        return value

    def integer(self, obj: Mapping, key: str, path: str, default: int, lo: int, hi: int) -> int:
        full = f"{path}.{key}" if path else key
        value = obj.get(key, default)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            # Pulumi config set without --path stores numbers as strings.
            if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
                value = int(value)
            else:
                self.problem(full, value, f"expected an integer from {lo} to {hi}")
                return default
        if not lo <= value <= hi:
            self.problem(full, value, f"allowed: an integer from {lo} to {hi}")
            return default
        return value

    def boolean(self, obj: Mapping, key: str, path: str, default: bool) -> bool:
        full = f"{path}.{key}" if path else key
        value = obj.get(key, default)
        if value is None:
            return default
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if not isinstance(value, bool):
            self.problem(full, value, "expected true or false")
            return default
        return value

    def string_list(
        self,
        obj: Mapping,
        key: str,
        path: str,
        *,
        check: Optional[Callable[[str], bool]] = None,
        describe: str = "",
        default: Sequence[str] = (),
    ) -> tuple[str, ...]:
        full = f"{path}.{key}" if path else key
        value = obj.get(key, list(default))
        if value is None:
            return tuple(default)
        if not isinstance(value, list):
            self.problem(full, value, "expected a list")
            return tuple(default)
        good: list[str] = []
        for i, item in enumerate(value):
            if not isinstance(item, str):
                self.problem(f"{full}[{i}]", item, f"expected a string{'; ' + describe if describe else ''}")
            elif check is not None and not check(item):
                self.problem(f"{full}[{i}]", item, describe)
            else:
                good.append(item)
        return tuple(good)

    def object_list(self, obj: Mapping, key: str, path: str) -> list[tuple[str, Any]]:
        full = f"{path}.{key}" if path else key
        value = obj.get(key, [])
        if value is None:
            return []
        if not isinstance(value, list):
            self.problem(full, value, "expected a list")
            return []
        return [(f"{full}[{i}]", item) for i, item in enumerate(value)]


def _show(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def is_cidr(value: str) -> bool:
    try:
        net = ipaddress.ip_network(value, strict=True)
    except ValueError:
        return False
    return "/" in value and net.version == 4


def is_ipv4(value: str) -> bool:
    try:
        return ipaddress.ip_address(value).version == 4
    except ValueError:
        return False


def is_hostname(value: str, *, allow_wildcard: bool) -> bool:
    if len(value) > 253:
        return False
    if _HOSTNAME.match(value):
        return True
    return allow_wildcard and (value == "*" or bool(_WILDCARD_HOSTNAME.match(value)))


def istio_revision(version: str) -> str:
    """Istio revision name for a version: ``1.30.3`` -> ``1-30-3`` (the ``istio.io/rev`` label value)."""
    return version.replace(".", "-")


# --------------------------------------------------------------------------- sections

_TOP_KEYS = (
    "environment", "environmentClass", "stackRole", "location", "namePrefix", "tags", "cluster",
    "keyVault", "sealedSecrets", "istio", "ingress", "egress", "appNamespaces", "prometheusNamespace",
) + SECRET_KEYS


def _window(r: _Reader, raw: Any, path: str, default: Mapping) -> MaintenanceWindow:
    w = r.section(raw, path, ("dayOfWeek", "startTime", "utcOffset", "durationHours", "intervalWeeks"))
    merged = {**default, **w}
    return MaintenanceWindow(
        day_of_week=r.string(merged, "dayOfWeek", path, default["dayOfWeek"], allowed=DAYS_OF_WEEK),
        start_time=r.string(
            merged, "startTime", path, default["startTime"], pattern=_TIME_HHMM,
            describe="allowed: a 24-hour time HH:MM such as 02:00",
        ),
        utc_offset=r.string(
            merged, "utcOffset", path, default["utcOffset"], pattern=_UTC_OFFSET,
            describe="allowed: an offset such as +00:00 or -05:00",
        ),
        # AKS rejects planned-maintenance windows shorter than four hours.
        duration_hours=r.integer(merged, "durationHours", path, default["durationHours"], 4, 24),
        interval_weeks=r.integer(merged, "intervalWeeks", path, 1, 1, 4),
    )


def _cluster(r: _Reader, raw: Any, env_class: Optional[str], required: bool) -> ClusterConfig:
    p = "cluster"
    c = r.section(
        raw, p,
        ("kubernetesVersion", "skuTier", "nodeOsUpgradeChannel", "upgradeChannel", "maintenance",
         "apiServerAuthorizedIpRanges", "privateCluster", "adminGroupObjectIds", "networkPolicy",
         "encryptionAtHost", "runCommandEnabled", "systemPool", "userPool", "network", "logRetentionDays"),
    )
    prod = env_class == "prod"
    maint = r.section(c.get("maintenance"), f"{p}.maintenance", ("nodeOs", "autoUpgrade"))
    windows = DEFAULT_WINDOWS["prod" if prod else "nonprod"]

    sp_path = f"{p}.systemPool"
    sp = r.section(c.get("systemPool"), sp_path, ("vmSize", "count", "availabilityZones", "osDiskSizeGb"))
    up_path = f"{p}.userPool"
    up = r.section(
        c.get("userPool"), up_path, ("vmSize", "minCount", "maxCount", "availabilityZones", "osDiskSizeGb")
    )
    zone = lambda z: z in ("1", "2", "3")  # noqa: E731
    zones_describe = "allowed: availability zones '1', '2', '3'"
    vm_describe = "allowed: an Azure VM size such as Standard_D4ds_v5"
    system_pool = SystemPoolConfig(
        vm_size=r.string(sp, "vmSize", sp_path, "Standard_D4ds_v5", pattern=_VM_SIZE, describe=vm_describe),
        count=r.integer(sp, "count", sp_path, 3 if prod else 1, 1, 100),
        availability_zones=r.string_list(
            sp, "availabilityZones", sp_path, check=zone, describe=zones_describe,
            default=("1", "2", "3") if prod else (),
        ),
        os_disk_size_gb=r.integer(sp, "osDiskSizeGb", sp_path, 128, 30, 2048),
    )
    user_pool = UserPoolConfig(
        vm_size=r.string(up, "vmSize", up_path, "Standard_D4ds_v5", pattern=_VM_SIZE, describe=vm_describe),
        min_count=r.integer(up, "minCount", up_path, 2 if prod else 1, 0, 1000),
        max_count=r.integer(up, "maxCount", up_path, 10 if prod else 3, 1, 1000),
        availability_zones=r.string_list(
            up, "availabilityZones", up_path, check=zone, describe=zones_describe,
            default=("1", "2", "3") if prod else (),
        ),
        os_disk_size_gb=r.integer(up, "osDiskSizeGb", up_path, 128, 30, 2048),
    )
    if user_pool.min_count > user_pool.max_count:
        r.problem(f"{up_path}.minCount", user_pool.min_count, f"must not exceed maxCount ({user_pool.max_count})")

    n_path = f"{p}.network"
    n = r.section(
        c.get("network"), n_path,
        ("vnetCidr", "nodeSubnetCidr", "podCidr", "serviceCidr", "dnsServiceIp", "existingSubnetId"),
    )
    cidr_describe = "allowed: an IPv4 CIDR such as 10.20.0.0/16 (network address, no host bits)"

    def cidr(key: str, default: str) -> str:
        value = r.string(n, key, n_path, default)
        if value is not None and not is_cidr(value):
            r.problem(f"{n_path}.{key}", value, cidr_describe)
            return default
        return value

    network = NetworkConfig(
        vnet_cidr=cidr("vnetCidr", "10.20.0.0/16"),
        node_subnet_cidr=cidr("nodeSubnetCidr", "10.20.0.0/22"),
        pod_cidr=cidr("podCidr", "192.168.0.0/16"),
        service_cidr=cidr("serviceCidr", "172.16.0.0/16"),
        dns_service_ip=r.string(n, "dnsServiceIp", n_path, "172.16.0.10"),
        existing_subnet_id=r.string(
            n, "existingSubnetId", n_path, None, pattern=_ARM_SUBNET_ID,
            describe="allowed: a subnet resource ID /subscriptions/<id>/resourceGroups/<rg>/providers/"
            "Microsoft.Network/virtualNetworks/<vnet>/subnets/<subnet>",
        ),
    )
    if not is_ipv4(network.dns_service_ip):
        r.problem(f"{n_path}.dnsServiceIp", network.dns_service_ip, "allowed: an IPv4 address inside serviceCidr")
    elif is_cidr(network.service_cidr) and ipaddress.ip_address(network.dns_service_ip) not in ipaddress.ip_network(
        network.service_cidr
    ):
        r.problem(f"{n_path}.dnsServiceIp", network.dns_service_ip, f"must be inside serviceCidr {network.service_cidr}")
    if is_cidr(network.vnet_cidr) and is_cidr(network.node_subnet_cidr) and not ipaddress.ip_network(
        network.node_subnet_cidr
    ).subnet_of(ipaddress.ip_network(network.vnet_cidr)):
        r.problem(f"{n_path}.nodeSubnetCidr", network.node_subnet_cidr, f"must be inside vnetCidr {network.vnet_cidr}")

    cluster = ClusterConfig(
        kubernetes_version=r.string(
            c, "kubernetesVersion", p, None, pattern=_K8S_VERSION,
            describe="allowed: a Kubernetes minor or patch version such as 1.33 or 1.33.2",
        ),
        sku_tier=r.string(c, "skuTier", p, "Standard" if prod else "Free", allowed=SKU_TIERS),
        node_os_upgrade_channel=r.string(
            c, "nodeOsUpgradeChannel", p, "NodeImage", allowed=NODE_OS_UPGRADE_CHANNELS
        ),
        upgrade_channel=r.string(c, "upgradeChannel", p, "patch", allowed=UPGRADE_CHANNELS),
        node_os_maintenance=_window(r, maint.get("nodeOs"), f"{p}.maintenance.nodeOs", windows["nodeOs"]),
        auto_upgrade_maintenance=_window(
            r, maint.get("autoUpgrade"), f"{p}.maintenance.autoUpgrade", windows["autoUpgrade"]
        ),
        api_server_authorized_ip_ranges=r.string_list(
            c, "apiServerAuthorizedIpRanges", p, check=is_cidr, describe=cidr_describe
        ),
        private_cluster=r.boolean(c, "privateCluster", p, False),
        admin_group_object_ids=r.string_list(
            c, "adminGroupObjectIds", p, check=lambda v: bool(_GUID.match(v)),
            describe="allowed: an Entra ID group object ID (a GUID)",
        ),
        network_policy=r.string(c, "networkPolicy", p, "cilium", allowed=NETWORK_POLICIES),
        encryption_at_host=r.boolean(c, "encryptionAtHost", p, False),
        run_command_enabled=r.boolean(c, "runCommandEnabled", p, False),
        system_pool=system_pool,
        user_pool=user_pool,
        network=network,
        log_retention_days=r.integer(c, "logRetentionDays", p, 90 if prod else 30, 30, 730),
    )
    # Local accounts are disabled, so without an admin group nobody could administer the cluster.
    admin_groups = "at least one Entra ID group object ID (local accounts are disabled)"
    if required and c.get("adminGroupObjectIds") is None:
        r.problems.append(f"{p}.adminGroupObjectIds: required; {admin_groups}")
    elif required and c["adminGroupObjectIds"] == []:
        r.problem(f"{p}.adminGroupObjectIds", [], admin_groups)
    if prod and required:
        if not cluster.api_server_authorized_ip_ranges and not cluster.private_cluster:
            r.problems.append(
                f"{p}.apiServerAuthorizedIpRanges: prod requires authorized IP ranges for the API server "
                f"or {p}.privateCluster: true"
            )
        for i, cidr_value in enumerate(cluster.api_server_authorized_ip_ranges):
            if ipaddress.ip_network(cidr_value).prefixlen == 0:
                r.problem(f"{p}.apiServerAuthorizedIpRanges[{i}]", cidr_value, "prod does not allow the whole internet")
        if cluster.sku_tier not in PROD_SKU_TIERS and "skuTier" in c and c["skuTier"] in SKU_TIERS:
            r.problem(f"{p}.skuTier", cluster.sku_tier, f"prod allows: {', '.join(PROD_SKU_TIERS)} (uptime SLA)")
        if cluster.run_command_enabled:
            r.problem(f"{p}.runCommandEnabled", True, "prod allows: false (run command bypasses the API server's network restrictions)")
        if cluster.system_pool.count < 2 and "count" in sp:
            r.problem(f"{sp_path}.count", cluster.system_pool.count, "prod allows: 2 or more (critical add-ons need redundancy)")
    return cluster


def _key_vault(r: _Reader, raw: Any, prod: bool) -> KeyVaultConfig:
    p = "keyVault"
    k = r.section(raw, p, ("sku", "allowedCidrs", "allowedSubnetIds", "softDeleteRetentionDays"))
    kv = KeyVaultConfig(
        sku=r.string(k, "sku", p, "premium" if prod else "standard", allowed=KEY_VAULT_SKUS),
        allowed_cidrs=r.string_list(
            k, "allowedCidrs", p, check=is_cidr, describe="allowed: an IPv4 CIDR such as 203.0.113.0/24"
        ),
        allowed_subnet_ids=r.string_list(
            k, "allowedSubnetIds", p, check=lambda v: bool(_ARM_SUBNET_ID.match(v)),
            describe="allowed: a subnet resource ID",
        ),
        # 90 days is Azure's maximum and the longest window to recover a deleted secret.
        soft_delete_retention_days=r.integer(k, "softDeleteRetentionDays", p, 90, 7, 90),
    )
    for i, value in enumerate(kv.allowed_cidrs):
        if ipaddress.ip_network(value).prefixlen == 0:
            r.problem(f"{p}.allowedCidrs[{i}]", value, "the whole internet is not allowed; list the deployers' ranges")
    return kv


def _sealed_secrets(r: _Reader, raw: Any, env_class: Optional[str], role: str) -> SealedSecretsConfig:
    p = "sealedSecrets"
    s = r.section(
        raw, p, ("keyMode", "sharedKeyStack", "keyGeneration", "certValidityDays", "chartVersion", "namespace")
    )
    prod, nonprod = env_class == "prod", env_class == "nonprod"
    default_mode = "dedicated" if prod else ("sharedOwner" if role == "sealingKeyOwner" else "sharedReference")
    cfg = SealedSecretsConfig(
        key_mode=r.string(s, "keyMode", p, default_mode, allowed=SEALING_KEY_MODES),
        shared_key_stack=r.string(
            s, "sharedKeyStack", p, None, pattern=_STACK_NAME,
            describe="allowed: a fully qualified stack name <organization>/<project>/<stack>",
        ),
        key_generation=r.integer(s, "keyGeneration", p, 1, 1, 100),
        cert_validity_days=r.integer(s, "certValidityDays", p, 3650, 30, 3650),
        chart_version=r.string(
            s, "chartVersion", p, DEFAULT_SEALED_SECRETS_CHART_VERSION, pattern=_SEMVER,
            describe="allowed: an exact chart version such as 2.19.1 (pinned, never a range)",
        ),
        namespace=r.string(s, "namespace", p, "sealed-secrets", pattern=_DNS_LABEL, describe="allowed: a DNS-1123 label"),
    )
    if prod and cfg.key_mode != "dedicated":
        r.problem(f"{p}.keyMode", cfg.key_mode, "prod allows: dedicated (each production instance has its own key)")
    if nonprod and cfg.key_mode == "dedicated":
        r.problem(
            f"{p}.keyMode", cfg.key_mode,
            "nonprod allows: sharedOwner, sharedReference (one key is shared by every non-production environment)",
        )
    if role == "sealingKeyOwner" and nonprod and cfg.key_mode != "sharedOwner":
        r.problem(f"{p}.keyMode", cfg.key_mode, "a sealingKeyOwner stack allows: sharedOwner")
    if cfg.key_mode == "sharedReference" and not prod and not cfg.shared_key_stack and s.get("sharedKeyStack") is None:
        r.problems.append(
            f"{p}.sharedKeyStack: required when keyMode is sharedReference; the owner stack as <organization>/platform/<stack>"
        )
    return cfg


def _istio(r: _Reader, raw: Any, prod: bool) -> IstioConfig:
    p = "istio"
    i = r.section(
        raw, p,
        ("version", "revision", "trustDomain", "outboundTrafficPolicy", "workloadCertTtlHours",
         "maxWorkloadCertTtlHours", "mtlsExceptions"),
    )
    version = r.string(
        i, "version", p, DEFAULT_ISTIO_VERSION, pattern=_SEMVER,
        describe="allowed: an exact Istio release such as 1.30.3 (pinned chart version)",
    )
    max_ttl = r.integer(i, "maxWorkloadCertTtlHours", p, 24, 1, 24)
    ttl = r.integer(i, "workloadCertTtlHours", p, min(24, max_ttl), 1, 24)
    if ttl > max_ttl:
        r.problem(f"{p}.workloadCertTtlHours", ttl, f"must not exceed maxWorkloadCertTtlHours ({max_ttl})")
    exceptions: list[MtlsException] = []
    for path, item in r.object_list(i, "mtlsExceptions", p):
        e = r.section(item, path, ("namespace", "port", "mode"))
        if not e and item is not None:
            continue
        ns = r.string(e, "namespace", path, None, required=True, pattern=_DNS_LABEL, describe="allowed: a namespace name")
        mode = r.string(e, "mode", path, "PERMISSIVE", allowed=MTLS_EXCEPTION_MODES)
        port = r.integer(e, "port", path, None, 1, 65535) if "port" in e else None
        if prod:
            r.problem(path, item, "prod allows no mTLS exceptions: the mesh is STRICT everywhere")
        elif ns:
            exceptions.append(MtlsException(namespace=ns, mode=mode, port=port))
    cfg = IstioConfig(
        version=version,
        revision=r.string(
            i, "revision", p, istio_revision(version), pattern=_DNS_LABEL, describe="allowed: a DNS-1123 label"
        ),
        trust_domain=r.string(
            i, "trustDomain", p, "cluster.local", pattern=re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"),
            describe="allowed: a DNS name such as cluster.local",
        ),
        outbound_traffic_policy=r.string(
            i, "outboundTrafficPolicy", p, "REGISTRY_ONLY", allowed=OUTBOUND_TRAFFIC_POLICIES
        ),
        workload_cert_ttl_hours=ttl,
        max_workload_cert_ttl_hours=max_ttl,
        mtls_exceptions=tuple(exceptions),
    )
    if prod and cfg.outbound_traffic_policy != "REGISTRY_ONLY":
        r.problem(f"{p}.outboundTrafficPolicy", cfg.outbound_traffic_policy, "prod allows: REGISTRY_ONLY")
    return cfg


def _ingress(r: _Reader, raw: Any, prod: bool, present_secrets: frozenset[str], required: bool) -> IngressConfig:
    p = "ingress"
    g = r.section(
        raw, p,
        ("hosts", "tlsSource", "tlsKeyVaultCertificateName", "minTlsVersion", "maxTlsVersion", "jwtIssuers",
         "namespace", "replicas"),
    )
    hosts = r.string_list(
        g, "hosts", p, check=lambda h: is_hostname(h, allow_wildcard=True),
        describe="allowed: a DNS name such as app.example.com or a wildcard such as *.apps.example.com",
    )
    if required and g.get("hosts") is None:
        r.problems.append(f"{p}.hosts: required; the host names the ingress gateway serves, e.g. *.apps.example.com")
    elif required and g.get("hosts") == []:
        r.problem(f"{p}.hosts", [], "at least one host name the ingress gateway serves, e.g. *.apps.example.com")
    if prod:
        for idx, host in enumerate(hosts):
            if host == "*":
                r.problem(f"{p}.hosts[{idx}]", host, "prod allows explicit or *.domain hosts, never '*'")
    tls_source = r.string(g, "tlsSource", p, "keyVault", allowed=INGRESS_TLS_SOURCES)
    if tls_source == "config" and required:
        for key in SECRET_KEYS:
            if key not in present_secrets:
                r.problems.append(
                    f"{key}: required when ingress.tlsSource is config; set it with "
                    f"`pulumi config set --secret {key} < file.pem`"
                )
    min_tls = r.string(g, "minTlsVersion", p, "TLSV1_2", allowed=TLS_VERSIONS)
    max_tls = r.string(g, "maxTlsVersion", p, "TLSV1_3", allowed=TLS_VERSIONS)
    if TLS_VERSIONS.index(min_tls) > TLS_VERSIONS.index(max_tls):
        r.problem(f"{p}.minTlsVersion", min_tls, f"must not be above maxTlsVersion ({max_tls})")

    issuers: list[JwtIssuerConfig] = []
    for path, item in r.object_list(g, "jwtIssuers", p):
        j = r.section(
            item, path, ("issuer", "jwksUri", "audiences", "hosts", "paths", "requiredClaims", "forwardOriginalToken")
        )
        issuer = r.string(j, "issuer", path, None, required=True, describe="the token issuer (iss claim), an https URL")
        jwks = r.string(
            j, "jwksUri", path, None, required=True, pattern=_HTTPS_URL,
            describe="allowed: an https:// URL of the issuer's JSON Web Key Set",
        )
        audiences = r.string_list(j, "audiences", path)
        if not audiences:
            # Without an audience check a token minted for any other application would be accepted.
            r.problems.append(f"{path}.audiences: required; at least one accepted audience (aud claim)")
        jwt_hosts = r.string_list(
            j, "hosts", path, check=lambda h: h in hosts,
            describe=f"allowed: one of ingress.hosts ({', '.join(hosts) or 'none set'})",
        )
        paths = r.string_list(
            j, "paths", path, check=lambda v: v.startswith("/"), describe="allowed: a path starting with /"
        )
        claims_raw = j.get("requiredClaims") or {}
        claims: list[tuple[str, tuple[str, ...]]] = []
        if not isinstance(claims_raw, Mapping):
            r.problem(f"{path}.requiredClaims", claims_raw, "expected a map of claim name to a list of allowed values")
        else:
            for claim, values in claims_raw.items():
                if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
                    r.problem(f"{path}.requiredClaims.{claim}", values, "expected a non-empty list of strings")
                else:
                    claims.append((str(claim), tuple(values)))
        if issuer is not None and jwks is not None:
            issuers.append(
                JwtIssuerConfig(
                    issuer=issuer, jwks_uri=jwks, audiences=audiences, hosts=jwt_hosts, paths=paths,
                    required_claims=tuple(claims),
                    forward_original_token=r.boolean(j, "forwardOriginalToken", path, False),
                )
            )
    return IngressConfig(
        hosts=hosts,
        tls_source=tls_source,
        tls_key_vault_certificate_name=r.string(
            g, "tlsKeyVaultCertificateName", p, "ingress-wildcard",
            pattern=re.compile(r"^[A-Za-z0-9-]{1,127}$"), describe="allowed: a Key Vault certificate name",
        ),
        min_tls_version=min_tls,
        max_tls_version=max_tls,
        jwt_issuers=tuple(issuers),
        namespace=r.string(g, "namespace", p, "istio-ingress", pattern=_DNS_LABEL, describe="allowed: a DNS-1123 label"),
        replicas=r.integer(g, "replicas", p, 3 if prod else 1, 1, 20),
    )


def _egress(r: _Reader, raw: Any, prod: bool) -> EgressConfig:
    p = "egress"
    e = r.section(raw, p, ("hosts", "namespace", "replicas"))
    hosts: list[EgressHost] = []
    seen: set[str] = set()
    for path, item in r.object_list(e, "hosts", p):
        # A bare string is the common case: "login.microsoftonline.com" means 443/TLS.
        entry = {"host": item} if isinstance(item, str) else r.section(item, path, ("host", "port", "protocol"))
        if not entry:
            continue
        host = r.string(
            entry, "host", path, None, required=True, describe="an explicit DNS name such as api.github.com"
        )
        if host is not None and not is_hostname(host, allow_wildcard=False):
            r.problem(
                f"{path}.host" if not isinstance(item, str) else path, host,
                "allowed: an explicit DNS name such as api.github.com (no wildcards, no IPs, no scheme)",
            )
            host = None
        port = r.integer(entry, "port", path, 443, 1, 65535)
        if port != 443:
            r.problem(f"{path}.port", port, "allowed: 443 (egress is HTTPS only)")
        protocol = r.string(entry, "protocol", path, "TLS")
        if protocol is not None and protocol not in EGRESS_PROTOCOLS:
            r.problem(f"{path}.protocol", protocol, f"allowed: {', '.join(EGRESS_PROTOCOLS)} (egress is HTTPS only)")
        if host is not None and port == 443 and protocol in EGRESS_PROTOCOLS:
            if host in seen:
                r.problem(path, host, "each host may be listed once")
            seen.add(host)
            hosts.append(EgressHost(host=host, port=443, protocol="TLS"))
    return EgressConfig(
        hosts=tuple(hosts),
        namespace=r.string(e, "namespace", p, "istio-egress", pattern=_DNS_LABEL, describe="allowed: a DNS-1123 label"),
        replicas=r.integer(e, "replicas", p, 2 if prod else 1, 1, 20),
    )


def _app_namespaces(r: _Reader, top: Mapping) -> tuple[AppNamespaceConfig, ...]:
    result: list[AppNamespaceConfig] = []
    names: set[str] = set()
    entries = r.object_list(top, "appNamespaces", "")
    for path, item in entries:
        a = r.section(item, path, ("name", "allowFromIngress", "allowedCallers", "prometheusScrape", "egress"))
        name = r.string(
            a, "name", path, None, required=True, pattern=_DNS_LABEL,
            describe="allowed: a DNS-1123 label (lowercase letters, digits, '-')",
        )
        if name is not None and (name in RESERVED_NAMESPACES or name.startswith("kube-") or len(name) > 63):
            r.problem(f"{path}.name", name, "a platform namespace name is reserved; choose another")
            name = None
        if name is not None and name in names:
            r.problem(f"{path}.name", name, "each namespace may be listed once")
        callers = r.string_list(
            a, "allowedCallers", path,
            check=lambda v: all(_DNS_LABEL.match(part) for part in v.split("/")) and 1 <= len(v.split("/")) <= 2,
            describe="allowed: 'namespace' or 'namespace/serviceaccount'",
        )
        if name is not None:
            names.add(name)
            result.append(
                AppNamespaceConfig(
                    name=name,
                    allow_from_ingress=r.boolean(a, "allowFromIngress", path, False),
                    allowed_callers=callers,
                    prometheus_scrape=r.boolean(a, "prometheusScrape", path, False),
                    egress=r.boolean(a, "egress", path, False),
                )
            )
    for path, item in entries:
        if isinstance(item, Mapping) and isinstance(item.get("allowedCallers"), list):
            for i, caller in enumerate(item["allowedCallers"]):
                if isinstance(caller, str) and caller.split("/")[0] not in names:
                    r.problem(f"{path}.allowedCallers[{i}]", caller, "must name a namespace listed in appNamespaces")
    return tuple(result)


# --------------------------------------------------------------------------- entry points


def parse_config(raw: Mapping[str, Any], secret_keys: Sequence[str] = ()) -> PlatformConfig:
    """Validate the decoded top-level config keys (without the ``platform:`` prefix).

    Raises ``ConfigError`` listing every problem at once.
    """
    r = _Reader()
    top = r.section(raw, "", _TOP_KEYS)
    present_secrets = frozenset(k for k in SECRET_KEYS if k in top)
    for key in present_secrets:
        if key not in secret_keys:
            r.problems.append(f"{key}: must be a secret; set it with `pulumi config set --secret {key} < file.pem`")

    environment = r.string(
        top, "environment", "", None, required=True, pattern=re.compile(r"^[a-z][a-z0-9-]{0,14}[a-z0-9]$"),
        describe="allowed: 2-16 lowercase letters, digits or '-', e.g. dev, prod-weu",
    )
    env_class = r.string(
        top, "environmentClass", "", None, required=True, allowed=ENVIRONMENT_CLASSES,
        describe=f"allowed: {', '.join(ENVIRONMENT_CLASSES)}",
    )
    role = r.string(top, "stackRole", "", "environment", allowed=STACK_ROLES)
    prod = env_class == "prod"
    if role == "sealingKeyOwner" and prod:
        r.problem("stackRole", role, "sealingKeyOwner is for the shared non-production key; prod stacks own their key")
    full_env = role == "environment"

    cfg = PlatformConfig(
        environment=environment or "invalid",
        environment_class=env_class or "prod",
        stack_role=role,
        location=r.string(
            top, "location", "", None, required=True, pattern=_LOCATION,
            describe="allowed: an Azure region name such as westeurope",
        ),
        name_prefix=r.string(
            top, "namePrefix", "", "plat", pattern=re.compile(r"^[a-z][a-z0-9]{1,7}$"),
            describe="allowed: 2-8 lowercase letters or digits, starting with a letter",
        ),
        tags=_tags(r, top.get("tags")),
        cluster=_cluster(r, top.get("cluster"), env_class, full_env),
        key_vault=_key_vault(r, top.get("keyVault"), prod),
        sealed_secrets=_sealed_secrets(r, top.get("sealedSecrets"), env_class, role),
        istio=_istio(r, top.get("istio"), prod),
        ingress=_ingress(r, top.get("ingress"), prod, present_secrets, full_env),
        egress=_egress(r, top.get("egress"), prod),
        app_namespaces=_app_namespaces(r, top),
        prometheus_namespace=r.string(
            top, "prometheusNamespace", "", None, pattern=_DNS_LABEL, describe="allowed: a namespace name"
        ),
        secret_keys_present=present_secrets,
    )
    app_names = {ns.name for ns in cfg.app_namespaces}
    for i, exception in enumerate(cfg.istio.mtls_exceptions):
        # An exception for a namespace nobody creates would only fail at apply time, after a timeout.
        if exception.namespace not in app_names:
            r.problem(f"istio.mtlsExceptions[{i}].namespace", exception.namespace,
                      "must name a namespace listed in appNamespaces")
    if any(ns.prometheus_scrape for ns in cfg.app_namespaces) and not cfg.prometheus_namespace:
        r.problems.append("prometheusNamespace: required when an app namespace sets prometheusScrape: true")
    if r.problems:
        raise ConfigError(r.problems)
    return cfg


def _tags(r: _Reader, raw: Any) -> Mapping[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        r.problem("tags", raw, "expected a map of tag name to string value")
        return {}
    tags: dict[str, str] = {}
    for key, value in raw.items():
        if not _TAG_KEY.match(str(key)):
            r.problem(f"tags.{key}", key, "tag names may not contain < > % & \\ ? /")
        elif not isinstance(value, str) or len(value) > 256:
            r.problem(f"tags.{key}", value, "expected a string of at most 256 characters")
        else:
            tags[str(key)] = value
    return tags


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
        key = full_key[len(prefix):]
        if runtime_config.is_config_secret(full_key) or full_key in runtime_config.get_config_secret_keys_env():
            secret.append(key)
            raw[key] = "[secret]"  # presence only: secret values are read as Outputs where they are used
        else:
            raw[key] = _decode(value)
    return raw, secret


def load_config() -> PlatformConfig:
    """Read and validate the running stack's configuration."""
    raw, secret_keys = read_raw_config()
    return parse_config(raw, secret_keys)
