"""``cluster``: the AKS cluster, its node pools, network and maintenance windows."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from policies.k8s_versions import default_minor
from stack_config.kinds import CIDR, CIDRS, EXPLICIT_HOSTS, GROUP_IDS
from stack_config.reader import ARM_SUBNET_ID, ARM_VNET_ID, is_ipv4, is_whole_internet
from stack_config.spec import (
    Boolean,
    ByClass,
    Context,
    Derived,
    Integer,
    Read,
    Section,
    Text,
    Texts,
    key,
    on_environment_stacks,
    prod_allows,
    prod_at_least,
    rules,
)

NODE_OS_UPGRADE_CHANNELS = ("NodeImage", "SecurityPatch")
UPGRADE_CHANNELS = ("patch", "stable")
SKU_TIERS = ("Free", "Standard", "Premium")
# containerservice.KubernetesSupportPlan; AKS offers LTS on the Premium tier only
# (learn.microsoft.com/azure/aks/long-term-support).
SUPPORT_PLANS = ("KubernetesOfficial", "AKSLongTermSupport")
NETWORK_POLICIES = ("cilium", "azure", "calico")
DAYS_OF_WEEK = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
ZONES = ("1", "2", "3")

_TIME_HHMM = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
_UTC_OFFSET = re.compile(r"^[+-](0[0-9]|1[0-4]):[0-5][0-9]$")
_K8S_VERSION = re.compile(r"^1\.\d{2}(\.\d{1,2})?$")
_VM_SIZE = re.compile(r"^Standard_[A-Za-z0-9_]+$")
# A subnet brought along instead of carved from the program's VNet (the node subnet, the API server subnet).
_SUBNET_ID = Text(
    pattern=ARM_SUBNET_ID,
    describe="allowed: a subnet resource ID /subscriptions/<id>/resourceGroups/<rg>/"
    "providers/Microsoft.Network/virtualNetworks/<vnet>/subnets/<subnet>",
)


# The keys every node pool has, declared once for both pools.
def _pool_vm_size(doc: str) -> Any:
    return key(
        "vmSize",
        Text(pattern=_VM_SIZE, describe="allowed: an Azure VM size such as Standard_D4ds_v5"),
        doc,
        default="Standard_D4ds_v5",
    )


def _pool_zones() -> Any:
    return key(
        "availabilityZones",
        Texts(check=lambda z: z in ZONES, describe="allowed: availability zones '1', '2', '3'"),
        "zones the nodes spread over",
        default=ByClass(prod=ZONES, nonprod=()),
    )


def _pool_os_disk() -> Any:
    return key("osDiskSizeGb", Integer(30, 2048), "OS disk size in GB", default=128)


@dataclass(frozen=True)
class MaintenanceWindow:
    """A weekly AKS planned-maintenance window (``MaintenanceConfiguration`` schedule)."""

    day_of_week: str = key("dayOfWeek", Text(choices=DAYS_OF_WEEK), "day the window opens")
    start_time: str = key(
        "startTime",
        Text(pattern=_TIME_HHMM, describe="allowed: a 24-hour time HH:MM such as 02:00"),
        "start, in the window's UTC offset",
    )
    utc_offset: str = key(
        "utcOffset",
        Text(pattern=_UTC_OFFSET, describe="allowed: an offset such as +00:00 or -05:00"),
        "offset of startTime from UTC",
    )
    # AKS rejects planned-maintenance windows shorter than four hours.
    duration_hours: int = key("durationHours", Integer(4, 24), "length of the window (AKS requires at least 4)")
    interval_weeks: int = key("intervalWeeks", Integer(1, 4), "every how many weeks", default=1)


def _window(day: str, start: str, hours: int) -> MaintenanceWindow:
    return MaintenanceWindow(day_of_week=day, start_time=start, utc_offset="+00:00", duration_hours=hours)


# Different days so a change that breaks dev shows up a few days before prod upgrades.
DEFAULT_WINDOWS = {
    "nonprod": {"nodeOs": _window("Tuesday", "02:00", 4), "autoUpgrade": _window("Wednesday", "02:00", 4)},
    "prod": {"nodeOs": _window("Saturday", "01:00", 6), "autoUpgrade": _window("Sunday", "01:00", 6)},
}


@dataclass(frozen=True)
class SystemPoolConfig:
    vm_size: str = _pool_vm_size("VM size of the system pool (critical add-ons only)")
    count: int = key(
        "count",
        Integer(1, 100),
        "nodes",
        default=ByClass(prod=3, nonprod=1),
        prod=prod_at_least(2, why="critical add-ons need redundancy"),
    )
    availability_zones: tuple[str, ...] = _pool_zones()
    os_disk_size_gb: int = _pool_os_disk()


@dataclass(frozen=True)
class UserPoolConfig:
    vm_size: str = _pool_vm_size("VM size of the autoscaled workload pool")
    min_count: int = key(
        "minCount", Integer(0, 1000), "autoscaler minimum, at most maxCount", default=ByClass(prod=2, nonprod=1)
    )
    max_count: int = key("maxCount", Integer(1, 1000), "autoscaler maximum", default=ByClass(prod=10, nonprod=3))
    availability_zones: tuple[str, ...] = _pool_zones()
    os_disk_size_gb: int = _pool_os_disk()


@rules(UserPoolConfig)
def _user_pool(s: Read) -> None:
    if s.values["min_count"] > s.values["max_count"]:
        s.problem("minCount", s.values["min_count"], f"must not exceed maxCount ({s.values['max_count']})")


def _carved(offset: int, prefix: int) -> Callable[[Context, Mapping[str, Any]], str | None]:
    """A default subnet at ``offset`` addresses into vnetCidr (None when the VNet is too small for it)."""

    def compute(ctx: Context, values: Mapping[str, Any]) -> str | None:
        vnet = ipaddress.IPv4Network(values["vnet_cidr"])
        try:
            subnet = ipaddress.IPv4Network((int(vnet.network_address) + offset, prefix))
        except ValueError:  # a small VNet off the subnet's boundary: the place is outside it anyway
            return None
        return str(subnet) if subnet.subnet_of(vnet) else None

    return compute


def _last_usable(ctx: Context, values: Mapping[str, Any]) -> str:
    # Azure keeps the last address of a subnet; nodes take addresses from the bottom, so the top stays free.
    return str(ipaddress.IPv4Network(values["node_subnet_cidr"]).broadcast_address - 1)


# The firewall and private-endpoint subnets sit 2048 addresses into the VNet, past the default /22 node subnet.
_SUBNETS_OFFSET = 2048
# Azure Firewall's subnet must be named AzureFirewallSubnet and be at least a /26 (Azure Firewall FAQ).
FIREWALL_SUBNET_MAX_PREFIX = 26
PRIVATE_ENDPOINT_SUBNET_MAX_PREFIX = 28
# API Server VNet Integration: "The minimum supported API server subnet size is a /28" (api-server-vnet-integration).
API_SERVER_SUBNET_MAX_PREFIX = 28
# Azure Firewall (deploy-multi-public-ip-powershell): "You can deploy an Azure Firewall in a hub virtual network with up
# to 250 public IP addresses. However, DNAT destination rules also count toward the 250 maximum." The ingress DNAT
# has two rules (443 and 80, components/firewall_rules.py), which leaves 248 addresses.
FIREWALL_PUBLIC_IPS_MAX = 250 - 2


@dataclass(frozen=True)
class NetworkConfig:
    vnet_cidr: str = key("vnetCidr", CIDR, "address space of the VNet the program creates", default="10.20.0.0/16")
    node_subnet_cidr: str = key("nodeSubnetCidr", CIDR, "node subnet, inside vnetCidr", default="10.20.0.0/22")
    pod_cidr: str = key(
        "podCidr", CIDR, "pod addresses (overlay, not routable outside the cluster)", default="192.168.0.0/16"
    )
    service_cidr: str = key("serviceCidr", CIDR, "Kubernetes Service addresses", default="172.16.0.0/16")
    dns_service_ip: str = key(
        "dnsServiceIp",
        Text(check=is_ipv4, describe="allowed: an IPv4 address inside serviceCidr"),
        "cluster DNS address, inside serviceCidr",
        default="172.16.0.10",
    )
    egress_firewall: bool = key(
        "egressFirewall",
        Boolean(),
        "node egress through Azure Firewall (route table, outboundType userDefinedRouting)",
        default=ByClass(prod=True, nonprod=False),
        prod=prod_allows(True, why="with load-balancer outbound, nodes and every pod outside the mesh reach any host"),
    )
    firewall_public_ips: int = key(
        "firewallPublicIps",
        Integer(1, FIREWALL_PUBLIC_IPS_MAX),
        "with egressFirewall: the firewall's public IPs; the first takes the ingress DNAT, every one SNATs egress "
        "(partners allow-list all of them)",
        # AKS "Limit network traffic with Azure Firewall": "For production scenarios, we recommend having a minimum of
        # 20 frontend IPs on the Azure Firewall to avoid SNAT port exhaustion issues."
        default=ByClass(prod=20, nonprod=1),
    )
    firewall_subnet_cidr: str | None = key(
        "firewallSubnetCidr",
        CIDR,
        "AzureFirewallSubnet (/26 or larger), inside vnetCidr",
        default=Derived(_carved(_SUBNETS_OFFSET, 26), "the /26 2048 addresses into vnetCidr, e.g. 10.20.8.0/26"),
    )
    private_endpoint_subnet_cidr: str | None = key(
        "privateEndpointSubnetCidr",
        CIDR,
        "subnet of the Key Vault private endpoint (/28 or larger), inside vnetCidr",
        default=Derived(_carved(_SUBNETS_OFFSET + 64, 27), "the /27 after the firewall subnet, e.g. 10.20.8.64/27"),
    )
    api_server_subnet_cidr: str | None = key(
        "apiServerSubnetCidr",
        CIDR,
        "with etcdEncryption: the API server subnet (API Server VNet Integration; /28 or larger), inside vnetCidr",
        # A /27, not the /28 minimum: "An AKS cluster reserves at least 9 IPs in the subnet address space. Running
        # out of IP addresses may prevent API server scaling" (api-server-vnet-integration), and Azure keeps 5.
        default=Derived(
            _carved(_SUBNETS_OFFSET + 96, 27), "the /27 after the private-endpoint subnet, e.g. 10.20.8.96/27"
        ),
    )
    ingress_private_ip: str | None = key(
        "ingressPrivateIp",
        Text(check=is_ipv4, describe="allowed: an IPv4 address inside nodeSubnetCidr"),
        "with egressFirewall: the ingress gateway's internal load balancer address (the firewall DNATs to it)",
        default=Derived(_last_usable, "the last usable address of nodeSubnetCidr, e.g. 10.20.3.254"),
    )
    existing_subnet_id: str | None = key(
        "existingSubnetId",
        _SUBNET_ID,
        "bring your own node subnet instead of creating a VNet",
    )
    existing_api_server_subnet_id: str | None = key(
        "existingApiServerSubnetId",
        _SUBNET_ID,
        "with existingSubnetId and etcdEncryption: the API server subnet, delegated to "
        "Microsoft.ContainerService/managedClusters, in the node subnet's VNet",
    )
    runner_vnet_id: str | None = key(
        "runnerVnetId",
        Text(
            pattern=ARM_VNET_ID,
            describe="allowed: a VNet resource ID /subscriptions/<id>/resourceGroups/<rg>/"
            "providers/Microsoft.Network/virtualNetworks/<vnet>",
        ),
        "the CI runners' VNet: peered both ways and linked to the vault's private DNS zone (docs/network.md)",
    )
    existing_firewall_fqdns: tuple[str, ...] = key(
        "existingFirewallFqdns",
        EXPLICIT_HOSTS,
        "with existingSubnetId and egressFirewall: the FQDNs the existing firewall admits; must equal egress.hosts",
        default=(),
    )


@rules(NetworkConfig)
def _network(s: Read) -> None:
    # Checked only between values that are themselves valid: a default standing in for a bad one proves nothing.
    v = s.values
    if not (s.failed("dnsServiceIp") or s.failed("serviceCidr")) and ipaddress.IPv4Address(
        v["dns_service_ip"]
    ) not in ipaddress.IPv4Network(v["service_cidr"]):
        s.problem("dnsServiceIp", v["dns_service_ip"], f"must be inside serviceCidr {v['service_cidr']}")
    if not (s.failed("vnetCidr") or s.failed("nodeSubnetCidr")) and not ipaddress.IPv4Network(
        v["node_subnet_cidr"]
    ).subnet_of(ipaddress.IPv4Network(v["vnet_cidr"])):
        s.problem("nodeSubnetCidr", v["node_subnet_cidr"], f"must be inside vnetCidr {v['vnet_cidr']}")
    _firewall_public_ips(s)
    if v["existing_subnet_id"]:
        if v["existing_firewall_fqdns"] and not v["egress_firewall"]:
            s.report("existingFirewallFqdns", f"only with {s.at('egressFirewall')}: true")
        return
    if v["existing_firewall_fqdns"]:
        s.report(
            "existingFirewallFqdns",
            f"only with {s.at('existingSubnetId')}: the program's own firewall takes its rules from egress.hosts",
        )
    if v["egress_firewall"]:
        _subnet_in_vnet(s, "firewallSubnetCidr", "firewall_subnet_cidr", FIREWALL_SUBNET_MAX_PREFIX)
        _ingress_address(s)


def _firewall_public_ips(s: Read) -> None:
    """The firewall's address count belongs to the firewall the program builds, and to nothing else."""
    if not s.given("firewallPublicIps"):
        return
    if not s.values["egress_firewall"]:
        s.report("firewallPublicIps", f"only with {s.at('egressFirewall')}: true")
    elif s.values["existing_subnet_id"]:
        s.report(
            "firewallPublicIps",
            f"not with {s.at('existingSubnetId')}: the program builds no firewall there; "
            "the existing firewall's addresses are managed where it is",
        )


def network_subnets_checked(s: Read) -> None:
    """The private-endpoint subnet: checked by the top-level rules only when the vault needs it."""
    _subnet_in_vnet(s, "privateEndpointSubnetCidr", "private_endpoint_subnet_cidr", PRIVATE_ENDPOINT_SUBNET_MAX_PREFIX)


def api_server_subnet_checked(s: Read, private_vault: bool) -> None:
    """The API server subnet (etcdEncryption needs API Server VNet Integration): carved here, or brought along."""
    v = s.values
    existing = v["existing_api_server_subnet_id"]
    if not v["existing_subnet_id"]:
        if existing:
            s.report(
                "existingApiServerSubnetId", f"only with {s.at('existingSubnetId')}; otherwise set apiServerSubnetCidr"
            )
            return
        also = {"privateEndpointSubnetCidr": v["private_endpoint_subnet_cidr"]} if private_vault else {}
        _subnet_in_vnet(s, "apiServerSubnetCidr", "api_server_subnet_cidr", API_SERVER_SUBNET_MAX_PREFIX, also)
        return
    if not existing:
        s.report(
            "existingApiServerSubnetId",
            f"required with {s.at('existingSubnetId')} and cluster.etcdEncryption: KMS with a private vault needs "
            "API Server VNet Integration, in a subnet delegated to Microsoft.ContainerService/managedClusters",
        )
    elif (
        not s.failed("existingApiServerSubnetId")
        and not s.failed("existingSubnetId")
        # "projects the API server endpoint directly into a delegated subnet in the VNet where AKS is deployed"
        and _vnet_of(existing) != _vnet_of(v["existing_subnet_id"])
    ):
        s.problem(
            "existingApiServerSubnetId",
            existing,
            f"must be in the VNet of existingSubnetId ({_vnet_of(v['existing_subnet_id'])})",
        )


def _vnet_of(subnet_id: str) -> str:
    return subnet_id.rsplit("/subnets/", 1)[0].lower()


def _subnet_in_vnet(
    s: Read, name: str, attr: str, max_prefix: int, also: Mapping[str, str | None] | None = None
) -> None:
    """A subnet the program carves: set (or derivable), large enough, inside the VNet, clear of the others."""
    v = s.values
    cidr = v[attr]
    if s.failed(name) or s.failed("vnetCidr") or s.failed("nodeSubnetCidr"):
        return
    if cidr is None:
        s.report(name, f"required: vnetCidr {v['vnet_cidr']} is too small to place it by default; set a CIDR")
        return
    subnet, vnet = ipaddress.IPv4Network(cidr), ipaddress.IPv4Network(v["vnet_cidr"])
    if subnet.prefixlen > max_prefix:
        s.problem(name, cidr, f"allowed: a /{max_prefix} or larger")
    if not subnet.subnet_of(vnet):
        s.problem(name, cidr, f"must be inside vnetCidr {v['vnet_cidr']}")
    others = {"nodeSubnetCidr": v["node_subnet_cidr"], **{k: o for k, o in (also or {}).items() if o}}
    if attr != "firewall_subnet_cidr" and v["egress_firewall"] and v["firewall_subnet_cidr"]:
        others["firewallSubnetCidr"] = v["firewall_subnet_cidr"]
    for other_name, other in others.items():
        if not s.failed(other_name) and subnet.overlaps(ipaddress.IPv4Network(other)):
            s.problem(name, cidr, f"must not overlap {other_name} {other}")


def _ingress_address(s: Read) -> None:
    v = s.values
    if s.failed("ingressPrivateIp") or s.failed("nodeSubnetCidr") or v["ingress_private_ip"] is None:
        return
    subnet = ipaddress.IPv4Network(v["node_subnet_cidr"])
    address = ipaddress.IPv4Address(v["ingress_private_ip"])
    # Azure reserves the first four addresses and the last one of every subnet.
    usable = int(subnet.network_address) + 4 <= int(address) < int(subnet.broadcast_address)
    if not usable:
        s.problem(
            "ingressPrivateIp",
            v["ingress_private_ip"],
            f"must be a usable address of nodeSubnetCidr {v['node_subnet_cidr']} "
            "(Azure reserves the first 4 and the last)",
        )


@dataclass(frozen=True)
class ClusterConfig:
    kubernetes_version: str | None = key(
        "kubernetesVersion",
        Text(pattern=_K8S_VERSION, describe="allowed: a Kubernetes minor or patch version such as 1.33 or 1.33.2"),
        "AKS version at creation; AKS moves patch versions itself afterwards",
        # The AKS default moves under the stack; the newest supported minor from the versions data file is
        # known, reviewed and checked by the policy pack (aks-kubernetes-version-supported).
        default=Derived(
            lambda ctx, values: default_minor(date.today()),
            "the newest AKS minor with 90+ days of standard support left (`policies.k8s_versions.default_minor`)",
        ),
    )
    support_plan: str = key(
        "supportPlan",
        Text(choices=SUPPORT_PLANS),
        "AKSLongTermSupport (Premium tier only) keeps a minor supported after its standard support ends",
        default="KubernetesOfficial",
    )
    sku_tier: str = key(
        "skuTier",
        Text(choices=SKU_TIERS),
        "AKS pricing tier",
        default=ByClass(prod="Standard", nonprod="Free"),
        prod=prod_allows("Standard", "Premium", why="uptime SLA"),
    )
    node_os_upgrade_channel: str = key(
        "nodeOsUpgradeChannel",
        Text(choices=NODE_OS_UPGRADE_CHANNELS),
        "node image refresh (None and Unmanaged are not allowed)",
        default="NodeImage",
    )
    upgrade_channel: str = key(
        "upgradeChannel", Text(choices=UPGRADE_CHANNELS), "Kubernetes auto-upgrade channel", default="patch"
    )
    node_os_maintenance: MaintenanceWindow = key(
        "maintenance.nodeOs",
        Section(MaintenanceWindow),
        "window for node image updates",
        default=ByClass(prod=DEFAULT_WINDOWS["prod"]["nodeOs"], nonprod=DEFAULT_WINDOWS["nonprod"]["nodeOs"]),
    )
    auto_upgrade_maintenance: MaintenanceWindow = key(
        "maintenance.autoUpgrade",
        Section(MaintenanceWindow),
        "window for Kubernetes upgrades",
        default=ByClass(prod=DEFAULT_WINDOWS["prod"]["autoUpgrade"], nonprod=DEFAULT_WINDOWS["nonprod"]["autoUpgrade"]),
    )
    api_server_authorized_ip_ranges: tuple[str, ...] = key(
        "apiServerAuthorizedIpRanges",
        CIDRS,
        "who may reach the public API server (privateCluster false) besides ciRunnerCidrs and, when not empty, "
        "the program's firewall addresses (egressFirewall, added as /32); never 0.0.0.0/0",
        default=(),
    )
    private_cluster: bool = key(
        "privateCluster",
        Boolean(),
        "API server on a private endpoint only (deploy from inside the network, docs/network.md)",
        default=ByClass(prod=True, nonprod=False),
        # With the vault private too, prod is deployed from inside the network (docs/network.md).
        prod=prod_allows(True, why="no public API server endpoint"),
    )
    # Local accounts are disabled, so without an admin group nobody could administer the cluster.
    admin_group_object_ids: tuple[str, ...] = key(
        "adminGroupObjectIds",
        GROUP_IDS,
        "Entra ID groups that administer the cluster (local accounts are disabled)",
        default=(),
        required=on_environment_stacks("at least one Entra ID group object ID (local accounts are disabled)"),
    )
    network_policy: str = key("networkPolicy", Text(choices=NETWORK_POLICIES), "NetworkPolicy engine", default="cilium")
    encryption_at_host: bool = key(
        "encryptionAtHost",
        Boolean(),
        "encrypt temp disks and caches (needs the subscription feature EncryptionAtHost)",
        default=False,
    )
    # Kubernetes Secrets (sealing keys, the mesh intermediate) envelope-encrypted in etcd with a Key Vault key.
    etcd_encryption: bool = key(
        "etcdEncryption",
        Boolean(),
        "AKS KMS: Secrets in etcd encrypted with a Key Vault key this stack owns, with API Server VNet "
        "Integration (docs/aks.md)",
        default=ByClass(prod=True, nonprod=False),
        prod=prod_allows(True, why="Secrets in etcd encrypted with the stack's own key"),
    )
    run_command_enabled: bool = key(
        "runCommandEnabled",
        Boolean(),
        "AKS run command (kubectl through the Azure API)",
        default=False,
        prod=prod_allows(False, why="run command bypasses the API server's network restrictions"),
    )
    system_pool: SystemPoolConfig = key("systemPool", Section(SystemPoolConfig), "system node pool")
    user_pool: UserPoolConfig = key("userPool", Section(UserPoolConfig), "workload node pool")
    network: NetworkConfig = key("network", Section(NetworkConfig), "cluster network")
    log_retention_days: int = key(
        "logRetentionDays", Integer(30, 730), "Log Analytics retention", default=ByClass(prod=90, nonprod=30)
    )


@rules(ClusterConfig)
def _cluster(s: Read) -> None:
    v = s.values
    if v["support_plan"] == "AKSLongTermSupport" and v["sku_tier"] != "Premium":
        s.problem("supportPlan", v["support_plan"], f"requires skuTier Premium (got {v['sku_tier']})")
    if not s.ctx.prod_environment:
        return
    for i, cidr in enumerate(v["api_server_authorized_ip_ranges"]):
        if is_whole_internet(cidr):
            s.r.problem(f"{s.at('apiServerAuthorizedIpRanges')}[{i}]", cidr, "prod does not allow the whole internet")
