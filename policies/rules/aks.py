"""AKS rules: azure-native ``ManagedCluster`` inputs (camelCase wire names) and the stack around it."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import date
from typing import Any

# The pack is deployed as the `policies` folder alone: the versions module and its data file are pack-local.
import k8s_versions

from .common import (
    UNKNOWN,
    Ctx,
    Res,
    Stack,
    as_list,
    as_map,
    expect,
    is_number,
    is_true,
    maps,
    not_applicable,
    one_of,
    one_of_any_case,
    resource_rule,
    setting,
    stack_rule,
    text,
)
from .frameworks import AUDIT, AVAILABILITY, BOUNDARY, IDENTITY, KEYS, PATCHING

MANAGED_CLUSTER = "azure-native:containerservice:ManagedCluster"
AGENT_POOL = "azure-native:containerservice:AgentPool"
MAINTENANCE_CONFIGURATION = "azure-native:containerservice:MaintenanceConfiguration"
DIAGNOSTIC_SETTING = "azure-native:monitor:DiagnosticSetting"

NODE_OS_WINDOW = "aksManagedNodeOSUpgradeSchedule"
AUTO_UPGRADE_WINDOW = "aksManagedAutoUpgradeSchedule"


@resource_rule(
    name="aks-node-os-upgrade-channel",
    domain="aks",
    targets=(MANAGED_CLUSTER,),
    severity="high",
    what="AKS node OS images are refreshed automatically (autoUpgradeProfile.nodeOSUpgradeChannel NodeImage or SecurityPatch).",
    why="Without a node OS channel, kernel and OS CVEs stay on the nodes until someone upgrades by hand.",
    remediation="Set autoUpgradeProfile.nodeOSUpgradeChannel to NodeImage (or SecurityPatch) and give it an aksManagedNodeOSUpgradeSchedule window.",
    frameworks=PATCHING,
)
def node_os_channel(r: Res, ctx: Ctx) -> None:
    expect(
        r,
        ctx,
        "autoUpgradeProfile.nodeOSUpgradeChannel",
        one_of("NodeImage", "SecurityPatch"),
        "allowed: NodeImage, SecurityPatch (None/Unmanaged/unset leave node OS patches unapplied)",
    )


@resource_rule(
    name="aks-upgrade-channel",
    domain="aks",
    targets=(MANAGED_CLUSTER,),
    severity="medium",
    what="AKS Kubernetes patch versions are applied automatically (autoUpgradeProfile.upgradeChannel set, not none).",
    why="Kubernetes patch releases carry security fixes; an unset channel means clusters drift out of support.",
    remediation="Set autoUpgradeProfile.upgradeChannel to patch (or stable) with an aksManagedAutoUpgradeSchedule window.",
    frameworks=PATCHING,
)
def upgrade_channel(r: Res, ctx: Ctx) -> None:
    expect(
        r,
        ctx,
        "autoUpgradeProfile.upgradeChannel",
        lambda v: isinstance(v, str) and v.lower() in ("patch", "stable", "rapid", "node-image"),
        "set patch or stable (none/unset never upgrades)",
    )


@resource_rule(
    name="aks-entra-id-rbac",
    domain="aks",
    targets=(MANAGED_CLUSTER,),
    severity="high",
    what="AKS authenticates with Entra ID and authorizes with Azure RBAC (aadProfile.managed, aadProfile.enableAzureRBAC).",
    why="Entra ID gives MFA, conditional access and central joiner/leaver control; Azure RBAC keeps authorization auditable in one place.",
    remediation="Set aadProfile: {managed: true, enableAzureRBAC: true, adminGroupObjectIds: [...]} and leave enableRBAC true.",
    frameworks=IDENTITY,
)
def entra_rbac(r: Res, ctx: Ctx) -> None:
    if not ctx.known(r.get("aadProfile"), "aadProfile"):
        return
    for key in ("managed", "enableAzureRBAC"):
        expect(r, ctx, f"aadProfile.{key}", is_true, "set it to true")
    rbac = r.get("enableRBAC")
    if ctx.known(rbac, "enableRBAC") and rbac is False:
        ctx.fail("enableRBAC is false; Kubernetes RBAC must stay enabled")


@resource_rule(
    name="aks-local-accounts-disabled",
    domain="aks",
    targets=(MANAGED_CLUSTER,),
    severity="high",
    what="AKS local accounts are disabled (disableLocalAccounts: true).",
    why="The local clusterAdmin kubeconfig is a shared, non-expiring credential that bypasses Entra ID, MFA and audit by identity.",
    remediation="Set disableLocalAccounts: true (requires Entra ID integration).",
    frameworks=IDENTITY,
)
def local_accounts(r: Res, ctx: Ctx) -> None:
    expect(r, ctx, "disableLocalAccounts", is_true, "set it to true")


def _open_range(cidr: str) -> bool:
    return cidr.strip() in ("0.0.0.0/0", "::/0", "*", "0.0.0.0", "Internet", "Any")


@resource_rule(
    name="aks-api-server-restricted",
    domain="aks",
    targets=(MANAGED_CLUSTER,),
    severity="high",
    what="The AKS API server is private or limited to authorized IP ranges (apiServerAccessProfile).",
    why="A control plane reachable from the whole internet is exposed to credential stuffing and to every future API server CVE.",
    remediation="Set apiServerAccessProfile.enablePrivateCluster: true, or authorizedIPRanges to your office/CI CIDRs (never 0.0.0.0/0).",
    frameworks=BOUNDARY + ("NIST 800-53 AC-17",),
)
def api_server(r: Res, ctx: Ctx) -> None:
    profile = r.get("apiServerAccessProfile")
    if not ctx.known(profile, "apiServerAccessProfile"):
        return
    profile = as_map(profile)
    private = profile.get("enablePrivateCluster")
    ranges = profile.get("authorizedIPRanges")
    if private is True:
        return
    if private is UNKNOWN:
        ctx.unknown("apiServerAccessProfile.enablePrivateCluster")
        return
    if not ctx.known(ranges, "apiServerAccessProfile.authorizedIPRanges"):
        return
    items = as_list(ranges)
    if any(item is UNKNOWN for item in items):
        ctx.unknown("apiServerAccessProfile.authorizedIPRanges")
    good = [i for i in items if isinstance(i, str) and i.strip()]
    open_ = [i for i in good if _open_range(i)]
    if open_:
        ctx.fail(f"apiServerAccessProfile.authorizedIPRanges contains {open_[0]!r}, which allows every address")
    elif not good and not any(item is UNKNOWN for item in items):
        ctx.fail(
            "the API server is public to every address: set apiServerAccessProfile.authorizedIPRanges "
            "or enablePrivateCluster: true"
        )


@resource_rule(
    name="aks-network-policy",
    domain="aks",
    targets=(MANAGED_CLUSTER,),
    severity="high",
    what="AKS enforces Kubernetes NetworkPolicy (networkProfile.networkPolicy cilium, azure or calico).",
    why="Without a network policy engine every pod can reach every other pod; the default-deny NetworkPolicies would be ignored.",
    remediation="Set networkProfile.networkPolicy to cilium (with networkDataplane cilium), azure or calico.",
    frameworks=BOUNDARY + ("NIST 800-53 AC-4",),
)
def network_policy(r: Res, ctx: Ctx) -> None:
    expect(
        r, ctx, "networkProfile.networkPolicy", one_of("cilium", "azure", "calico"), "allowed: cilium, azure, calico"
    )


@resource_rule(
    name="aks-istio-cni-dataplane",
    domain="aks",
    targets=(MANAGED_CLUSTER,),
    severity="high",
    what="The cluster network is one the chained Istio CNI works on: networkPlugin azure (not kubenet or none), no Cilium L7 network policies (advancedNetworking.security.advancedNetworkPolicies L7).",
    why="With kubenet istio-cni fails its validation (istio/istio#27591), with networkPlugin none the platform does not know the CNI, and Cilium's L7 (HTTP) policies are incompatible with Istio mTLS (Cilium's Istio integration guide); meshed pods would then stay in Init or lose traffic.",
    remediation="Use networkPlugin azure (overlay) with networkPolicy cilium/networkDataplane cilium (docs/istio.md, 'Istio CNI on AKS'); keep advancedNetworkPolicies at FQDN or None.",
    frameworks=BOUNDARY,
)
def istio_cni_dataplane(r: Res, ctx: Ctx) -> None:
    expect(
        r, ctx, "networkProfile.networkPlugin", one_of("azure"), "allowed: azure (kubenet and none are not supported)"
    )
    l7 = r.get("networkProfile.advancedNetworking.security.advancedNetworkPolicies")
    if ctx.known(l7, "networkProfile.advancedNetworking.security.advancedNetworkPolicies") and l7 == "L7":
        ctx.fail(
            "networkProfile.advancedNetworking.security.advancedNetworkPolicies is 'L7'; Cilium L7 policies break Istio mTLS"
        )


@resource_rule(
    name="aks-workload-identity",
    domain="aks",
    targets=(MANAGED_CLUSTER,),
    severity="medium",
    what="AKS has the OIDC issuer and workload identity enabled (oidcIssuerProfile.enabled, securityProfile.workloadIdentity.enabled).",
    why="Workload identity replaces long-lived client secrets in pods with short-lived federated tokens.",
    remediation="Set oidcIssuerProfile.enabled: true and securityProfile.workloadIdentity.enabled: true.",
    frameworks=("SOC 2 CC6.1", "PCI-DSS 4.0 8.6.2", "NIST 800-53 IA-5"),
)
def workload_identity(r: Res, ctx: Ctx) -> None:
    for path in ("oidcIssuerProfile.enabled", "securityProfile.workloadIdentity.enabled"):
        expect(r, ctx, path, is_true, "set it to true")


@resource_rule(
    name="aks-sku-tier",
    domain="aks",
    targets=(MANAGED_CLUSTER,),
    severity="medium",
    what="AKS runs on the Standard or Premium tier (sku.tier), which carries the uptime SLA.",
    why="The Free tier has no control-plane SLA and a smaller API server; an outage blocks deployments and security fixes.",
    remediation="Set sku: {name: Base, tier: Standard}.",
    frameworks=AVAILABILITY,
)
def sku_tier(r: Res, ctx: Ctx) -> None:
    expect(r, ctx, "sku.tier", one_of("Standard", "Premium"), "allowed: Standard, Premium (unset means Free)")


def _lts(r: Res) -> bool:
    """The LTS support plan is configured: supportPlan AKSLongTermSupport on the Premium tier (AKS requires both)."""
    return r.get("supportPlan") == "AKSLongTermSupport" and r.get("sku.tier") == "Premium"


@resource_rule(
    name="aks-kubernetes-version-supported",
    domain="aks",
    targets=(MANAGED_CLUSTER,),
    severity="high",
    what="The cluster's Kubernetes minor is within AKS support (policies/data/aks-kubernetes-versions.json), or the LTS plan covers it.",
    why="AKS refuses to create a cluster on a minor past its end of standard support without the LTS plan, and an unsupported minor gets no security patches.",
    remediation="Set kubernetesVersion to a supported minor (the program's default is k8s_versions.default_minor()), or configure supportPlan: AKSLongTermSupport with sku.tier: Premium.",
    frameworks=PATCHING,
)
def kubernetes_version_supported(r: Res, ctx: Ctx) -> None:
    version = r.get("kubernetesVersion")
    if not ctx.known(version, "kubernetesVersion") or not ctx.known(r.get("supportPlan"), "supportPlan"):
        return
    lts = _lts(r)
    if k8s_versions.support_status(version, date.today(), lts=lts) == k8s_versions.SupportStatus.ENDED:
        plan = "even with the LTS plan" if lts else "without the LTS plan (supportPlan AKSLongTermSupport, Premium)"
        ctx.fail(f"kubernetesVersion is {version!r}: AKS support for this minor has ended {plan}")


@resource_rule(
    name="aks-kubernetes-version-known",
    domain="aks",
    targets=(MANAGED_CLUSTER,),
    severity="low",
    what="The cluster's Kubernetes minor is pinned and in the AKS versions data file (its support dates are known).",
    why="A minor the data does not list (too new, a plan, or unset: the AKS default) cannot be checked for end of support.",
    remediation="Pin kubernetesVersion to a minor listed in policies/data/aks-kubernetes-versions.json, or refresh that file from the AKS release calendar.",
    frameworks=PATCHING,
)
def kubernetes_version_known(r: Res, ctx: Ctx) -> None:
    version = r.get("kubernetesVersion")
    if not ctx.known(version, "kubernetesVersion"):
        return
    if k8s_versions.support_status(version, date.today(), lts=_lts(r)) == k8s_versions.SupportStatus.UNKNOWN:
        ctx.fail(f"kubernetesVersion is {version!r}: its AKS support dates are not in the versions data file")


def _pool_problems(pool: dict, where: str, ctx: Ctx) -> None:
    min_nodes = ctx.cfg_number("minSystemNodeCount")
    min_zones = ctx.cfg_number("minAvailabilityZones")
    autoscale = pool.get("enableAutoScaling")
    key = "minCount" if autoscale is True else "count"
    nodes = pool.get(key, 1 if key == "count" else None)
    if autoscale is UNKNOWN or nodes is UNKNOWN:
        ctx.unknown(f"{where}.{key}")
    elif not is_number(nodes) or nodes < min_nodes:
        shown = f"{nodes:g}" if is_number(nodes) else repr(nodes)
        ctx.fail(f"{where}.{key} is {shown}; the system pool needs at least {min_nodes:g} nodes")
    zones = pool.get("availabilityZones")
    if zones is UNKNOWN:
        ctx.unknown(f"{where}.availabilityZones")
    elif min_zones > 1:
        distinct = {z for z in as_list(zones) if isinstance(z, (str, int)) and not isinstance(z, bool)}
        if len(distinct) < min_zones:
            ctx.fail(
                f"{where}.availabilityZones is {zones!r}; spread the system pool over at least {min_zones:g} zones"
            )


@resource_rule(
    name="aks-system-pool-redundancy",
    domain="aks",
    targets=(MANAGED_CLUSTER, AGENT_POOL),
    severity="medium",
    what="The AKS system node pool has enough nodes spread over availability zones.",
    why="CoreDNS, konnectivity and the mesh control plane run on the system pool; one node or one zone is a single point of failure.",
    remediation="Give the System pool count (or minCount with autoscaling) >= minSystemNodeCount and availabilityZones ['1','2','3'].",
    frameworks=AVAILABILITY,
    config={
        "minSystemNodeCount": setting("integer", 3, "Minimum nodes in a System pool.", minimum=1),
        "minAvailabilityZones": setting(
            "integer", 2, "Minimum distinct availability zones of a System pool (0 or 1 disables).", minimum=0
        ),
    },
)
def system_pool(r: Res, ctx: Ctx) -> None:
    if r.type == AGENT_POOL:
        mode = r.get("mode")
        if ctx.known(mode, "mode") and isinstance(mode, str) and mode.lower() == "system":
            _pool_problems(r.props, "agent pool", ctx)
        return
    pools = r.get("agentPoolProfiles")
    if not ctx.known(pools, "agentPoolProfiles"):
        return
    system = []
    for i, pool in enumerate(as_list(pools)):
        if pool is UNKNOWN:
            ctx.unknown(f"agentPoolProfiles[{i}]")
            continue
        mode = as_map(pool).get("mode")
        if mode is UNKNOWN:
            ctx.unknown(f"agentPoolProfiles[{i}].mode")
        elif isinstance(mode, str) and mode.lower() == "system":
            system.append((i, as_map(pool)))
    if not system and not ctx.unknown_paths:
        ctx.fail("agentPoolProfiles has no pool with mode System")
    for i, pool in system:
        _pool_problems(pool, f"agentPoolProfiles[{i}] ({pool.get('name', '?')})", ctx)


@resource_rule(
    name="aks-run-command-disabled",
    domain="aks",
    targets=(MANAGED_CLUSTER,),
    severity="medium",
    what="AKS run command is disabled (apiServerAccessProfile.disableRunCommand: true).",
    why="Run command executes kubectl as a cluster-admin pod via the Azure control plane, sidestepping the API server IP restrictions.",
    remediation="Set apiServerAccessProfile.disableRunCommand: true; use the bastion/CI path for break-glass access.",
    frameworks=("SOC 2 CC6.1", "PCI-DSS 4.0 7.2.1", "NIST 800-53 AC-17", "NIST 800-53 CM-7"),
)
def run_command(r: Res, ctx: Ctx) -> None:
    expect(r, ctx, "apiServerAccessProfile.disableRunCommand", is_true, "set it to true")


# --------------------------------------------------------------------------- stack rules


def _cluster_name(cluster: Res) -> str | None:
    return text(cluster.get("resourceName"))


class _Clusters:
    """The stack's AKS clusters, indexed by URN and by lower-case name, to find the cluster a child belongs to.

    Built once per rule so that matching every child costs a dict lookup, not a scan of all clusters.
    """

    def __init__(self, clusters: list[Res]):
        self.all = clusters
        self._by_urn: dict[str, list[int]] = defaultdict(list)  # URN -> positions in ``all``
        self._by_name: dict[str, list[int]] = defaultdict(list)  # lower-case resourceName -> positions
        for position, cluster in enumerate(clusters):
            self._by_urn[cluster.urn].append(position)
            name = _cluster_name(cluster)
            if name is not None:
                self._by_name[name.lower()].append(position)

    def owners(self, child: Res, prop: str, names_in: Callable[[str], Iterable[str]]) -> Any:
        """The positions of the clusters ``child`` points at via input ``prop``; UNKNOWN if undecidable for all.

        Heuristic, in order: the input's property dependencies name a cluster's URN (the usual case: the
        program passes ``cluster.name`` or ``cluster.id``, an Output, so the engine records the dependency);
        a known input value names the cluster (``names_in(value)``: the lower-case names it may refer to);
        an unknown value with no recorded dependency belongs to the only cluster of the stack; otherwise it
        cannot be decided yet.
        """
        deps = child.property_dependencies.get(prop, [])
        by_dependency = {p for urn in deps for p in self._by_urn.get(urn, ())}
        if by_dependency:
            return by_dependency
        value = child.get(prop)
        if isinstance(value, str) and value:
            return {p for name in names_in(value) for p in self._by_name.get(name, ())}
        if value is UNKNOWN:
            return {0} if len(self.all) == 1 else UNKNOWN
        return set()


def stack_clusters(stack: Stack) -> _Clusters:
    """The stack's AKS clusters, indexed; a rule about clusters does not apply to a stack without one."""
    return _Clusters(stack.of_types(MANAGED_CLUSTER) or not_applicable("the stack has no AKS cluster"))


def _names_in_name(value: str) -> Iterable[str]:
    """A ``resourceName`` input names one cluster (case-insensitive)."""
    return (value.lower(),)


_URI_MARK = "/managedclusters/"


def names_in_uri(value: str) -> Iterable[str]:
    """Every name ``value`` may end in as ``.../managedClusters/<name>`` (case-insensitive, trailing / ignored)."""
    uri = value.lower().rstrip("/")
    names = []
    start = uri.find(_URI_MARK)
    while start != -1:  # a name could itself contain the mark, so every occurrence is a candidate
        names.append(uri[start + len(_URI_MARK) :])
        start = uri.find(_URI_MARK, start + 1)
    return names


@stack_rule(
    name="aks-maintenance-windows",
    domain="aks",
    targets=(MANAGED_CLUSTER, MAINTENANCE_CONFIGURATION),
    severity="medium",
    what="Every AKS cluster has both planned-maintenance windows (aksManagedNodeOSUpgradeSchedule and aksManagedAutoUpgradeSchedule).",
    why="Without windows AKS upgrades nodes and the control plane at any time, including business hours and before dev has seen the change.",
    remediation="Create MaintenanceConfiguration resources with configName aksManagedNodeOSUpgradeSchedule and aksManagedAutoUpgradeSchedule, resourceName = the cluster name, and a maintenanceWindow.",
    frameworks=PATCHING + ("NIST 800-53 CM-3",),
)
def maintenance_windows(stack: Stack, ctx: Ctx) -> None:
    clusters = stack_clusters(stack)
    windows = (NODE_OS_WINDOW, AUTO_UPGRADE_WINDOW)
    found: list[set[str]] = [set() for _ in clusters.all]  # per cluster position
    undecided: list[set[str]] = [set() for _ in clusters.all]
    undecided_for_all: set[str] = set()  # windows of configs whose cluster cannot be decided yet
    bad_configs: list[list[tuple[Res, str]]] = [[] for _ in clusters.all]
    for mc in stack.of_types(MAINTENANCE_CONFIGURATION):
        config_name = mc.get("configName")
        candidates = windows if config_name is UNKNOWN else [w for w in windows if w == config_name]
        if not candidates:
            continue
        owners = clusters.owners(mc, "resourceName", _names_in_name)
        if owners is UNKNOWN:
            undecided_for_all.update(candidates)
            continue
        if config_name is UNKNOWN:
            for position in owners:
                undecided[position].update(candidates)
            continue
        window = mc.get("maintenanceWindow")
        for position in owners:
            if window is UNKNOWN:
                undecided[position].add(config_name)
            elif isinstance(window, dict) and window:
                found[position].add(config_name)
            else:
                bad_configs[position].append((mc, config_name))
    # Reported cluster by cluster (its bad configs, then its missing windows), as a scan per cluster would.
    for position, cluster in enumerate(clusters.all):
        for mc, config_name in bad_configs[position]:
            ctx.fail(f"maintenance configuration {mc.name!r} ({config_name}) has no maintenanceWindow", mc.urn)
        for window in windows:
            if window in found[position]:
                continue
            if window in undecided[position] or window in undecided_for_all:
                ctx.unknown(f"{cluster.name}: {window}")
            else:
                ctx.fail(f"cluster {cluster.name!r} has no {window} MaintenanceConfiguration", cluster.urn)


_AUDIT_GROUPS = ("allLogs", "audit")  # the AKS "audit" group holds kube-audit, kube-audit-admin and guard


@stack_rule(
    name="aks-audit-diagnostics",
    domain="aks",
    targets=(MANAGED_CLUSTER, DIAGNOSTIC_SETTING),
    severity="high",
    what="Every AKS cluster sends kube-audit-admin (or kube-audit) and guard logs to a diagnostic destination.",
    why="Control-plane audit and Entra ID (guard) logs are the only record of who changed or read what in the cluster.",
    remediation="Add an azure-native monitor DiagnosticSetting with resourceUri = the cluster id, a workspaceId, and logs [{category: kube-audit-admin, enabled: true}, {category: guard, enabled: true}].",
    frameworks=AUDIT,
)
def audit_diagnostics(stack: Stack, ctx: Ctx) -> None:
    clusters = stack_clusters(stack)
    categories: list[set[str]] = [set() for _ in clusters.all]  # per cluster position
    undecided = [False for _ in clusters.all]
    undecided_for_all = False  # a setting whose cluster cannot be decided yet
    no_destination: list[list[Res]] = [[] for _ in clusters.all]
    for ds in stack.of_types(DIAGNOSTIC_SETTING):
        owners = clusters.owners(ds, "resourceUri", names_in_uri)
        if owners is UNKNOWN:
            undecided_for_all = True
            continue
        if not owners:
            continue
        # What a setting contributes is the same for every cluster it belongs to: work it out once.
        destinations = [
            ds.get(k)
            for k in ("workspaceId", "storageAccountId", "eventHubAuthorizationRuleId", "marketplacePartnerId")
        ]
        if not any(d for d in destinations) and not any(d is UNKNOWN for d in destinations):
            for position in owners:
                no_destination[position].append(ds)
            continue
        logs = ds.get("logs")
        if logs is UNKNOWN:
            setting_categories, setting_undecided = set[str](), True
        else:
            setting_categories, setting_undecided = enabled_log_categories(logs)
        for position in owners:
            categories[position] |= setting_categories
            undecided[position] = undecided[position] or setting_undecided
    # Reported cluster by cluster (its settings without destination, then its missing logs).
    for position, cluster in enumerate(clusters.all):
        for ds in no_destination[position]:
            ctx.fail(f"diagnostic setting {ds.name!r} has no destination (workspaceId)", ds.urn)
        missing = []
        if not categories[position] & {"kube-audit-admin", "kube-audit"}:
            missing.append("kube-audit-admin (or kube-audit)")
        if "guard" not in categories[position]:
            missing.append("guard")
        if missing:
            if undecided[position] or undecided_for_all:
                ctx.unknown(f"{cluster.name}: diagnostic settings")
            else:
                ctx.fail(
                    f"cluster {cluster.name!r} has no enabled diagnostic logs for {', '.join(missing)}", cluster.urn
                )


def enabled_log_categories(logs: Any) -> tuple[set[str], bool]:
    """The log categories a setting's ``logs`` enable, and whether an unknown ``enabled`` leaves it undecided."""
    categories: set[str] = set()
    undecided = False
    for entry in maps(logs):
        enabled = entry.get("enabled")
        if enabled is UNKNOWN:
            undecided = True
            continue
        if enabled is not True:
            continue
        if entry.get("categoryGroup") in _AUDIT_GROUPS:
            categories.update({"kube-audit-admin", "kube-audit", "guard"})
        if isinstance(entry.get("category"), str):
            categories.add(entry["category"])
    return categories, undecided


@resource_rule(
    name="aks-kms-etcd-encryption",
    domain="aks",
    targets=(MANAGED_CLUSTER,),
    severity="high",
    what="AKS encrypts Kubernetes Secrets in etcd with a customer Key Vault key (securityProfile.azureKeyVaultKms: enabled, keyId) and a user-assigned control-plane identity.",
    why="Secrets (sealing keys, the mesh CA) otherwise rest in etcd under platform-managed encryption only; a key the organization owns can be rotated, audited and revoked.",
    remediation="Set securityProfile.azureKeyVaultKms {enabled: true, keyId: <versioned key id>, keyVaultNetworkAccess: Private, keyVaultResourceId} and identity.type UserAssigned (components/etcd_encryption.py).",
    frameworks=(
        "SOC 2 CC6.1",
        "PCI-DSS 4.0 3.5.1",
        "HIPAA 164.312(a)(2)(iv)",
        "NIST 800-53 SC-28",
        "NIST 800-53 SC-12",
    ),
)
def kms_etcd_encryption(r: Res, ctx: Ctx) -> None:
    path = "securityProfile.azureKeyVaultKms"
    expect(r, ctx, f"{path}.enabled", is_true, "turn KMS etcd encryption on")
    expect(
        r,
        ctx,
        f"{path}.keyId",
        lambda v: isinstance(v, str) and v.startswith("https://") and "/keys/" in v,
        "set the key's versioned identifier (keyUriWithVersion)",
    )
    # "KMS etcd encryption doesn't work with system-assigned managed identity."
    expect(r, ctx, "identity.type", one_of_any_case("UserAssigned"), "KMS needs a user-assigned control-plane identity")


@resource_rule(
    name="aks-kms-private-vault-vnet-integration",
    domain="aks",
    targets=(MANAGED_CLUSTER,),
    severity="high",
    what="A cluster with KMS etcd encryption on a private key vault (keyVaultNetworkAccess: Private) uses API Server VNet Integration (apiServerAccessProfile.enableVnetIntegration with a subnetId).",
    why="AKS: 'If a cluster has KMS turned on and has a private key vault, it must use the API Server VNet Integration tunnel. Konnectivity isn't supported': without it the first real `up` fails, or the API server cannot reach the key and every Secret read fails.",
    remediation="Set apiServerAccessProfile {enableVnetIntegration: true, subnetId: <a /28-or-larger subnet delegated to Microsoft.ContainerService/managedClusters>} and grant the control-plane identity Network Contributor on it and on the node subnet before the cluster (components/api_server_subnet.py).",
    frameworks=KEYS + ("NIST 800-53 SC-7",),
)
def kms_private_vault_vnet_integration(r: Res, ctx: Ctx) -> None:
    kms_path = "securityProfile.azureKeyVaultKms"
    enabled, access = r.get(f"{kms_path}.enabled"), r.get(f"{kms_path}.keyVaultNetworkAccess")
    if not (ctx.known(enabled, f"{kms_path}.enabled") and ctx.known(access, f"{kms_path}.keyVaultNetworkAccess")):
        return
    # Public mode (or KMS off) does not need the integration; unset access is Public, the API default.
    if enabled is not True or not one_of_any_case("Private")(access):
        return
    expect(
        r,
        ctx,
        "apiServerAccessProfile.enableVnetIntegration",
        is_true,
        "KMS with a private key vault needs API Server VNet Integration (Konnectivity isn't supported)",
    )
    expect(
        r,
        ctx,
        "apiServerAccessProfile.subnetId",
        lambda v: isinstance(v, str) and "/subnets/" in v,
        "set the delegated API server subnet's resource ID (required with a bring-your-own VNet)",
    )
