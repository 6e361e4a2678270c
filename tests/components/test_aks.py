"""AksCluster: the exact wire properties AKS receives for dev and prod, options, outputs, secrecy."""

from __future__ import annotations

from typing import Any, Callable, Optional

import pulumi
import pytest

from components.aks_cluster import AksCluster, AksClusterArgs
from components.base import PlatformBase, PlatformBaseArgs
from stack_config import parse_config
from tests.conftest import stack_raw_config
from tools.program_runner import TENANT_ID, ProgramRun

MC = "azure-native:containerservice:ManagedCluster"
MAINT = "azure-native:containerservice:MaintenanceConfiguration"
DIAG = "azure-native:monitor:DiagnosticSetting"
K8S_PROVIDER = "pulumi:providers:kubernetes"
COMPONENT = "platform:aks:Cluster"

_RUNS: dict[str, ProgramRun] = {}


def build_cluster(raw: dict[str, Any], names: tuple[str, ...] = ("aks",)) -> Callable[[], None]:
    def build() -> None:
        cfg = parse_config(raw)
        base = PlatformBase("core", PlatformBaseArgs(config=cfg))
        for name in names:
            aks = AksCluster(name, AksClusterArgs(
                config=cfg,
                resource_group_name=base.resource_group_name,
                log_analytics_workspace_id=base.log_analytics_workspace_id,
                node_subnet_id=base.node_subnet_id,
            ))
            pulumi.export(f"{name}.clusterName", aks.cluster_name)
            pulumi.export(f"{name}.clusterId", aks.cluster_id)
            pulumi.export(f"{name}.resourceGroupName", aks.resource_group_name)
            pulumi.export(f"{name}.oidcIssuerUrl", aks.oidc_issuer_url)
            pulumi.export(f"{name}.kubeletIdentityObjectId", aks.kubelet_identity_object_id)
            pulumi.export(f"{name}.kubeletIdentityClientId", aks.kubelet_identity_client_id)
            pulumi.export(f"{name}.nodeResourceGroup", aks.node_resource_group)
            pulumi.export(f"{name}.kubeconfig", aks.kubeconfig)

    return build


def with_cluster(stack: str, **changes: Any) -> dict[str, Any]:
    raw = stack_raw_config(stack)
    raw["cluster"].update(changes)
    return raw


@pytest.fixture
def aks_run(run_component) -> Callable[[str], ProgramRun]:
    """One run per stack file for the whole module (runs are read-only)."""

    def get(stack: str) -> ProgramRun:
        if stack not in _RUNS:
            _RUNS[stack] = run_component(build_cluster(stack_raw_config(stack)), stack=stack)
        return _RUNS[stack]

    return get


# --------------------------------------------------------------------------- node image refresh


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_auto_upgrade_channels(aks_run, stack):
    mc = aks_run(stack).one(MC)
    assert mc.get("autoUpgradeProfile") == {"nodeOSUpgradeChannel": "NodeImage", "upgradeChannel": "patch"}


def test_upgrade_channels_follow_config(run_component):
    raw = with_cluster("dev", nodeOsUpgradeChannel="SecurityPatch", upgradeChannel="stable")
    mc = run_component(build_cluster(raw)).one(MC)
    assert mc.get("autoUpgradeProfile.nodeOSUpgradeChannel") == "SecurityPatch"
    assert mc.get("autoUpgradeProfile.upgradeChannel") == "stable"


@pytest.mark.parametrize("stack, node_os, auto_upgrade", [
    ("dev",
     {"startTime": "02:00", "utcOffset": "+01:00", "durationHours": 4,
      "schedule": {"weekly": {"dayOfWeek": "Tuesday", "intervalWeeks": 1}}},
     {"startTime": "02:00", "utcOffset": "+01:00", "durationHours": 4,
      "schedule": {"weekly": {"dayOfWeek": "Wednesday", "intervalWeeks": 1}}}),
    ("prod",
     {"startTime": "01:00", "utcOffset": "+01:00", "durationHours": 6,
      "schedule": {"weekly": {"dayOfWeek": "Saturday", "intervalWeeks": 1}}},
     {"startTime": "01:00", "utcOffset": "+01:00", "durationHours": 6,
      "schedule": {"weekly": {"dayOfWeek": "Sunday", "intervalWeeks": 1}}}),
])
def test_maintenance_windows(aks_run, stack, node_os, auto_upgrade):
    run = aks_run(stack)
    windows = {m.get("configName"): m for m in run.of_type(MAINT)}
    assert set(windows) == {"aksManagedNodeOSUpgradeSchedule", "aksManagedAutoUpgradeSchedule"}
    assert windows["aksManagedNodeOSUpgradeSchedule"].get("maintenanceWindow") == node_os
    assert windows["aksManagedAutoUpgradeSchedule"].get("maintenanceWindow") == auto_upgrade
    for window in windows.values():
        assert window.get("resourceName") == f"plat-{stack}-aks"
        assert window.get("resourceGroupName") == f"plat-{stack}-core-rg"
        assert window.get("maintenanceWindow.durationHours") >= 4


def test_dev_is_refreshed_before_prod(aks_run):
    def days(run: ProgramRun) -> dict[str, str]:
        return {m.get("configName"): m.get("maintenanceWindow.schedule.weekly.dayOfWeek") for m in run.of_type(MAINT)}

    dev, prod = days(aks_run("dev")), days(aks_run("prod"))
    assert all(dev[k] != prod[k] for k in dev)


def test_default_windows_when_config_sets_none(run_component):
    raw = stack_raw_config("prod")
    del raw["cluster"]["maintenance"]
    run = run_component(build_cluster(raw), stack="prod")
    node_os = next(m for m in run.of_type(MAINT) if m.get("configName") == "aksManagedNodeOSUpgradeSchedule")
    assert node_os.get("maintenanceWindow") == {
        "startTime": "01:00", "utcOffset": "+00:00", "durationHours": 6,
        "schedule": {"weekly": {"dayOfWeek": "Saturday", "intervalWeeks": 1}},
    }


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_ignore_changes_keeps_what_the_auto_upgrader_moved(aks_run, stack):
    mc = aks_run(stack).one(MC)
    # Index 1 is the autoscaled user pool; the fixed-size system pool's count stays managed.
    assert mc.ignore_changes == [
        "kubernetesVersion",
        "agentPoolProfiles[*].orchestratorVersion",
        "agentPoolProfiles[*].nodeImageVersion",
        "agentPoolProfiles[1].count",
    ]
    assert mc.get("agentPoolProfiles.1.enableAutoScaling") is True
    assert mc.get("agentPoolProfiles.0.enableAutoScaling") is False


def test_prod_cluster_is_protected_dev_is_not(aks_run):
    assert aks_run("prod").one(MC).protect is True
    assert aks_run("dev").one(MC).protect is False


# --------------------------------------------------------------------------- identity and access


@pytest.mark.parametrize("stack, admin_group", [
    ("dev", "6f1c2a7e-3b4d-4e5f-9a8b-1c2d3e4f5a6b"),
    ("prod", "0b9e5f2c-7d1a-4c3b-8e6f-2a4b6c8d0e1f"),
])
def test_entra_id_with_azure_rbac_and_no_local_accounts(aks_run, stack, admin_group):
    mc = aks_run(stack).one(MC)
    assert mc.get("disableLocalAccounts") is True
    assert mc.get("enableRBAC") is True
    assert mc.get("aadProfile") == {
        "managed": True, "enableAzureRBAC": True, "adminGroupObjectIDs": [admin_group], "tenantID": TENANT_ID,
    }
    assert mc.get("identity") == {"type": "SystemAssigned"}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_oidc_issuer_and_workload_identity(aks_run, stack):
    mc = aks_run(stack).one(MC)
    assert mc.get("oidcIssuerProfile") == {"enabled": True}
    assert mc.get("securityProfile.workloadIdentity") == {"enabled": True}


@pytest.mark.parametrize("stack, ranges, disable_run_command", [
    ("dev", ["203.0.113.0/24", "198.51.100.16/28"], False),  # dev's config allows run command
    ("prod", ["198.51.100.16/28", "192.0.2.32/28"], True),
])
def test_api_server_access(aks_run, stack, ranges, disable_run_command):
    mc = aks_run(stack).one(MC)
    assert mc.get("apiServerAccessProfile") == {
        "authorizedIPRanges": ranges, "disableRunCommand": disable_run_command,
    }


def test_private_cluster_has_no_public_endpoint(run_component):
    raw = with_cluster("prod", privateCluster=True, apiServerAuthorizedIpRanges=[])
    mc = run_component(build_cluster(raw), stack="prod").one(MC)
    assert mc.get("apiServerAccessProfile") == {
        "enablePrivateCluster": True, "privateDNSZone": "system", "disableRunCommand": True,
    }


def test_run_command_is_disabled_by_default(run_component):
    raw = stack_raw_config("dev")
    del raw["cluster"]["runCommandEnabled"]
    mc = run_component(build_cluster(raw)).one(MC)
    assert mc.get("apiServerAccessProfile.disableRunCommand") is True


# --------------------------------------------------------------------------- network and security


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_network_profile_azure_overlay_with_cilium(aks_run, stack):
    mc = aks_run(stack).one(MC)
    assert mc.get("networkProfile") == {
        "networkPlugin": "azure",
        "networkPluginMode": "overlay",
        "networkPolicy": "cilium",
        "networkDataplane": "cilium",
        "podCidr": "192.168.0.0/16",
        "serviceCidr": "172.16.0.0/16",
        "dnsServiceIP": "172.16.0.10",
        "loadBalancerSku": "standard",
        "outboundType": "loadBalancer",
    }


@pytest.mark.parametrize("policy", ["calico", "azure"])
def test_non_cilium_network_policy_uses_azure_dataplane(run_component, policy):
    mc = run_component(build_cluster(with_cluster("dev", networkPolicy=policy))).one(MC)
    assert mc.get("networkProfile.networkPolicy") == policy
    assert mc.get("networkProfile.networkDataplane") == "azure"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_security_profile_defender_and_image_cleaner(aks_run, stack):
    run = aks_run(stack)
    mc = run.one(MC)
    workspace = run.one("azure-native:operationalinsights:Workspace")
    assert mc.get("securityProfile.defender") == {
        "logAnalyticsWorkspaceResourceId": workspace.id, "securityMonitoring": {"enabled": True},
    }
    assert mc.get("securityProfile.imageCleaner") == {"enabled": True, "intervalHours": 168}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_addons_policy_and_key_vault_csi_with_rotation(aks_run, stack):
    mc = aks_run(stack).one(MC)
    assert mc.get("addonProfiles") == {
        "azurepolicy": {"enabled": True},
        "azureKeyvaultSecretsProvider": {
            "enabled": True, "config": {"enableSecretRotation": "true", "rotationPollInterval": "2m"},
        },
    }


@pytest.mark.parametrize("stack, tier", [("dev", "Free"), ("prod", "Standard")])
def test_sku_tier(aks_run, stack, tier):
    assert aks_run(stack).one(MC).get("sku") == {"name": "Base", "tier": tier}


def test_storage_profile_and_autoscaler_defaults(aks_run):
    mc = aks_run("prod").one(MC)
    assert mc.get("storageProfile") == {
        "diskCSIDriver": {"enabled": True}, "snapshotController": {"enabled": True},
        "fileCSIDriver": {"enabled": False}, "blobCSIDriver": {"enabled": False},
    }
    assert mc.get("autoScalerProfile.skipNodesWithSystemPods") == "true"
    assert mc.get("autoScalerProfile.expander") == "least-waste"


# --------------------------------------------------------------------------- node pools


def pools(run: ProgramRun) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in run.one(MC).get("agentPoolProfiles")}


@pytest.mark.parametrize("stack, count, zones, encryption", [
    ("dev", 1, None, False),
    ("prod", 3, ["1", "2", "3"], True),
])
def test_system_pool(aks_run, stack, count, zones, encryption):
    run = aks_run(stack)
    system = pools(run)["system"]
    assert system["mode"] == "System"
    assert system["nodeTaints"] == ["CriticalAddonsOnly=true:NoSchedule"]
    assert system["count"] == count
    assert system.get("availabilityZones") == zones
    assert system["enableEncryptionAtHost"] is encryption
    assert system["enableNodePublicIP"] is False
    assert system["vnetSubnetID"] == run.one("azure-native:network:Subnet").id


@pytest.mark.parametrize("stack, vm_size, min_count, max_count, encryption", [
    ("dev", "Standard_D4ds_v5", 1, 3, False),
    ("prod", "Standard_D8ds_v5", 3, 12, True),
])
def test_user_pool_autoscales(aks_run, stack, vm_size, min_count, max_count, encryption):
    user = pools(aks_run(stack))["user"]
    assert user["mode"] == "User"
    assert "nodeTaints" not in user
    assert (user["enableAutoScaling"], user["minCount"], user["maxCount"], user["count"]) == (
        True, min_count, max_count, min_count,
    )
    assert user["vmSize"] == vm_size
    assert user["enableEncryptionAtHost"] is encryption


# --------------------------------------------------------------------------- logs


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_control_plane_logs_go_to_log_analytics(aks_run, stack):
    run = aks_run(stack)
    diag = run.one(DIAG)
    assert diag.get("resourceUri") == run.one(MC).id
    assert diag.get("workspaceId") == run.one("azure-native:operationalinsights:Workspace").id
    assert diag.get("logAnalyticsDestinationType") == "Dedicated"
    assert diag.get("logs") == [
        {"category": "kube-audit-admin", "enabled": True},
        {"category": "guard", "enabled": True},
        {"category": "kube-apiserver", "enabled": True},
    ]


# --------------------------------------------------------------------------- outputs and provider


def test_kubeconfig_is_secret_everywhere(aks_run):
    run = aks_run("prod")
    assert "aks.kubeconfig" in run.secret_outputs
    kubeconfig = run.outputs["aks.kubeconfig"]
    assert "kind: Config" in kubeconfig and "kubelogin" in kubeconfig  # base64-decoded, exec (Entra ID)
    provider = run.one(K8S_PROVIDER)
    assert provider.is_secret("kubeconfig")
    assert provider.get("kubeconfig") == kubeconfig
    assert provider.get("enableServerSideApply") == "true"  # provider config travels as strings


def test_outputs(aks_run):
    run = aks_run("prod")
    mc = run.one(MC)
    out = run.outputs
    assert out["aks.clusterName"] == "plat-prod-aks"
    assert out["aks.clusterId"] == mc.id
    assert out["aks.resourceGroupName"] == "plat-prod-core-rg"
    assert out["aks.nodeResourceGroup"] == "plat-prod-aks-nodes-rg"
    assert out["aks.oidcIssuerUrl"] == mc.outputs["oidcIssuerProfile"]["issuerURL"]
    assert out["aks.oidcIssuerUrl"].startswith("https://")
    kubelet = mc.outputs["identityProfile"]["kubeletidentity"]
    assert out["aks.kubeletIdentityObjectId"] == kubelet["objectId"]
    assert out["aks.kubeletIdentityClientId"] == kubelet["clientId"]
    assert not {k for k in run.secret_outputs if not k.endswith("kubeconfig")}


def test_children_are_parented_and_k8s_provider_is_exposed(aks_run):
    run = aks_run("dev")
    component = run.one(COMPONENT, "aks")
    for token in (MC, MAINT, DIAG, K8S_PROVIDER):
        assert all(r.parent == component.urn for r in run.of_type(token)), token


def test_cluster_names(aks_run):
    mc = aks_run("dev").one(MC)
    assert mc.get("resourceName") == "plat-dev-aks"
    assert mc.get("dnsPrefix") == "plat-dev-aks"
    assert mc.get("nodeResourceGroup") == "plat-dev-aks-nodes-rg"
    assert mc.get("kubernetesVersion") == "1.33"
    assert mc.get("location") == "westeurope"
    assert mc.get("tags.owner") == "platform-team@example.com"


def test_two_clusters_in_one_program_do_not_collide(run_component):
    run = run_component(build_cluster(stack_raw_config("prod"), names=("aks-a", "aks-b")), stack="prod")
    clusters = run.of_type(MC)
    assert len(clusters) == 2
    for key in ("resourceName", "dnsPrefix", "nodeResourceGroup"):
        assert len({c.get(key) for c in clusters}) == 2, f"Azure {key} collides"
    assert len({d.get("name") for d in run.of_type(DIAG)}) == 2
    custom = [r for r in run.resources if r.custom]
    assert len({(r.type, r.name) for r in custom}) == len(custom), "Pulumi names collide"
    # Each cluster's windows target that cluster.
    assert sorted(m.get("resourceName") for m in run.of_type(MAINT)) == [
        "plat-prod-aks-a", "plat-prod-aks-a", "plat-prod-aks-b", "plat-prod-aks-b",
    ]
    assert run.outputs["aks-a.kubeconfig"] != run.outputs["aks-b.kubeconfig"]
    assert {"aks-a.kubeconfig", "aks-b.kubeconfig"} <= run.secret_outputs


def test_protect_can_be_overridden(run_component):
    def build() -> None:
        cfg = parse_config(stack_raw_config("dev"))
        AksCluster("aks", AksClusterArgs(config=cfg, resource_group_name="rg", log_analytics_workspace_id="law",
                                          node_subnet_id=None, protect=True))

    mc = run_component(build).one(MC)
    assert mc.protect is True
    assert all("vnetSubnetID" not in p for p in mc.get("agentPoolProfiles"))


@pytest.mark.parametrize("bad", ["AKS", "aks_1", "a" * 60])
def test_invalid_component_name_is_rejected(run_component, bad: Optional[str]):
    def build() -> None:
        cfg = parse_config(stack_raw_config("dev"))
        AksCluster(bad, AksClusterArgs(config=cfg, resource_group_name="rg", log_analytics_workspace_id="law"))

    with pytest.raises(ValueError, match="AksCluster name"):
        run_component(build)


def test_identities_for_role_assignments(aks_run):
    """Other components grant roles to these: the control-plane identity and the Key Vault CSI add-on's."""
    run = aks_run("prod")
    mc = run.one(MC)

    def build() -> None:
        cfg = parse_config(stack_raw_config("prod"))
        aks = AksCluster("aks", AksClusterArgs(config=cfg, resource_group_name="plat-prod-core-rg",
                                                log_analytics_workspace_id="law"))
        pulumi.export("tenant", aks.tenant_id)
        pulumi.export("principal", aks.identity_principal_id)
        pulumi.export("csiClient", aks.secrets_provider_client_id)
        pulumi.export("csiObject", aks.secrets_provider_object_id)

    from tools.program_runner import run_program
    out = run_program("prod", program=build).outputs
    csi = mc.outputs["addonProfiles"]["azureKeyvaultSecretsProvider"]["identity"]
    assert out["tenant"] == TENANT_ID
    assert out["principal"] == mc.outputs["identity"]["principalId"]
    assert (out["csiClient"], out["csiObject"]) == (csi["clientId"], csi["objectId"])
    assert out["csiClient"] and out["csiObject"] and out["principal"]


RA = "azure-native:authorization:RoleAssignment"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_control_plane_identity_is_network_contributor_on_the_node_subnet(aks_run, stack):
    """Autoscaler and upgrade VMSS writes join the node subnet with the cluster identity (system-assigned,
    so Pulumi must grant it after the cluster exists, as `az aks create` would)."""
    run = aks_run(stack)
    mc, subnet = run.one(MC), run.one("azure-native:network:Subnet")
    ra = run.one(RA, "aks-subnet-network-contributor")
    assert ra.get("scope") == subnet.id
    assert ra.get("principalId") == mc.outputs["identity"]["principalId"]
    assert ra.get("principalType") == "ServicePrincipal"
    subscription = subnet.id.split("/")[2]
    assert ra.get("roleDefinitionId") == (
        f"/subscriptions/{subscription}/providers/Microsoft.Authorization/roleDefinitions/"
        "4d97b98b-1d4f-4787-a291-c67834d212e7"
    )
    assert ra.parent == run.one(COMPONENT, "aks").urn


def test_no_subnet_grant_when_aks_brings_its_own_network(run_component):
    def build() -> None:
        cfg = parse_config(stack_raw_config("dev"))
        AksCluster("aks", AksClusterArgs(config=cfg, resource_group_name="rg", log_analytics_workspace_id="law"))

    assert run_component(build).of_type(RA) == []
