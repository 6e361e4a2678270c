"""AksCluster: the exact wire properties AKS receives for dev and prod, options, outputs, secrecy."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from stack_config import load_config, parse_config
from tests.components import wiring
from tests.conftest import stack_raw_config
from tests.resource_types import Azure
from tools.mocks import TENANT_ID
from tools.program_runner import ProgramRun

K8S_PROVIDER = "pulumi:providers:kubernetes"
COMPONENT = "platform:aks:Cluster"


def build_cluster(raw: dict[str, Any] | None = None, names: tuple[str, ...] = ("aks",)) -> Callable[[], None]:
    """The program: the base and the cluster(s), from ``raw`` config or else the stack's own."""

    def build() -> None:
        cfg = parse_config(raw) if raw is not None else load_config()
        base = wiring.platform_base(cfg)
        for name in names:
            aks = wiring.aks_cluster(cfg, name, base)
            wiring.export_attributes(
                aks,
                name,
                "cluster_name",
                "cluster_id",
                "resource_group_name",
                "oidc_issuer_url",
                "kubeconfig",
                "kubelet_identity_object_id",
                "kubelet_identity_client_id",
                "node_resource_group",
                "tenant_id",
                "identity_principal_id",
                "secrets_provider_client_id",
                "secrets_provider_object_id",
            )

    return build


def with_cluster(stack: str, **changes: Any) -> dict[str, Any]:
    raw = stack_raw_config(stack)
    raw["cluster"].update(changes)
    return raw


build = build_cluster()


# --------------------------------------------------------------------------- node image refresh


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_auto_upgrade_channels(build_run, stack):
    mc = build_run(stack).one(Azure.MANAGED_CLUSTER)
    assert mc.get("autoUpgradeProfile") == {"nodeOSUpgradeChannel": "NodeImage", "upgradeChannel": "patch"}


def test_upgrade_channels_follow_config(run_component):
    raw = with_cluster("dev", nodeOsUpgradeChannel="SecurityPatch", upgradeChannel="stable")
    mc = run_component(build_cluster(raw)).one(Azure.MANAGED_CLUSTER)
    assert mc.get("autoUpgradeProfile.nodeOSUpgradeChannel") == "SecurityPatch"
    assert mc.get("autoUpgradeProfile.upgradeChannel") == "stable"


def _weekly(day: str, start: str, hours: int) -> dict:
    """A weekly AKS maintenance window as the stack files set it (UTC+1)."""
    return {
        "startTime": start,
        "utcOffset": "+01:00",
        "durationHours": hours,
        "schedule": {"weekly": {"dayOfWeek": day, "intervalWeeks": 1}},
    }


@pytest.mark.parametrize(
    "stack, node_os, auto_upgrade",
    [
        ("dev", _weekly("Tuesday", "02:00", 4), _weekly("Wednesday", "02:00", 4)),
        ("prod", _weekly("Saturday", "01:00", 6), _weekly("Sunday", "01:00", 6)),
    ],
)
def test_maintenance_windows(build_run, stack, node_os, auto_upgrade):
    run = build_run(stack)
    windows = {m.get("configName"): m for m in run.of_type(Azure.MAINTENANCE_CONFIGURATION)}
    assert set(windows) == {"aksManagedNodeOSUpgradeSchedule", "aksManagedAutoUpgradeSchedule"}
    assert windows["aksManagedNodeOSUpgradeSchedule"].get("maintenanceWindow") == node_os
    assert windows["aksManagedAutoUpgradeSchedule"].get("maintenanceWindow") == auto_upgrade
    for window in windows.values():
        assert window.get("resourceName") == f"plat-{stack}-aks"
        assert window.get("resourceGroupName") == f"plat-{stack}-core-rg"
        assert window.get("maintenanceWindow.durationHours") >= 4


def test_dev_is_refreshed_before_prod(build_run):
    def days(run: ProgramRun) -> dict[str, str]:
        return {
            m.get("configName"): m.get("maintenanceWindow.schedule.weekly.dayOfWeek")
            for m in run.of_type(Azure.MAINTENANCE_CONFIGURATION)
        }

    dev, prod = days(build_run("dev")), days(build_run("prod"))
    assert all(dev[k] != prod[k] for k in dev)


def test_default_windows_when_config_sets_none(run_component):
    raw = stack_raw_config("prod")
    del raw["cluster"]["maintenance"]
    run = run_component(build_cluster(raw), stack="prod")
    node_os = next(
        m
        for m in run.of_type(Azure.MAINTENANCE_CONFIGURATION)
        if m.get("configName") == "aksManagedNodeOSUpgradeSchedule"
    )
    assert node_os.get("maintenanceWindow") == {
        "startTime": "01:00",
        "utcOffset": "+00:00",
        "durationHours": 6,
        "schedule": {"weekly": {"dayOfWeek": "Saturday", "intervalWeeks": 1}},
    }


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_ignore_changes_keeps_what_the_auto_upgrader_moved(build_run, stack):
    mc = build_run(stack).one(Azure.MANAGED_CLUSTER)
    # Index 1 is the autoscaled user pool; the fixed-size system pool's count stays managed.
    assert mc.ignore_changes == [
        "kubernetesVersion",
        "agentPoolProfiles[*].orchestratorVersion",
        "agentPoolProfiles[*].nodeImageVersion",
        "agentPoolProfiles[1].count",
    ]
    assert mc.get("agentPoolProfiles.1.enableAutoScaling") is True
    assert mc.get("agentPoolProfiles.0.enableAutoScaling") is False


def test_prod_cluster_is_protected_dev_is_not(build_run):
    assert build_run("prod").one(Azure.MANAGED_CLUSTER).protect is True
    assert build_run("dev").one(Azure.MANAGED_CLUSTER).protect is False


# --------------------------------------------------------------------------- identity and access


@pytest.mark.parametrize(
    "stack, admin_group",
    [
        ("dev", "6f1c2a7e-3b4d-4e5f-9a8b-1c2d3e4f5a6b"),
        ("prod", "0b9e5f2c-7d1a-4c3b-8e6f-2a4b6c8d0e1f"),
    ],
)
def test_entra_id_with_azure_rbac_and_no_local_accounts(build_run, stack, admin_group):
    mc = build_run(stack).one(Azure.MANAGED_CLUSTER)
    assert mc.get("disableLocalAccounts") is True
    assert mc.get("enableRBAC") is True
    assert mc.get("aadProfile") == {
        "managed": True,
        "enableAzureRBAC": True,
        "adminGroupObjectIDs": [admin_group],
        "tenantID": TENANT_ID,
    }
    assert mc.get("identity") == {"type": "SystemAssigned"}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_oidc_issuer_and_workload_identity(build_run, stack):
    mc = build_run(stack).one(Azure.MANAGED_CLUSTER)
    assert mc.get("oidcIssuerProfile") == {"enabled": True}
    assert mc.get("securityProfile.workloadIdentity") == {"enabled": True}


def test_public_api_server_admits_only_the_authorized_ranges(build_run):
    mc = build_run("dev").one(Azure.MANAGED_CLUSTER)
    assert mc.get("apiServerAccessProfile") == {
        "authorizedIPRanges": ["203.0.113.0/24", "198.51.100.16/28"],
        "disableRunCommand": False,  # dev's config allows run command
    }


def test_prod_api_server_is_private(build_run):
    profile = build_run("prod").one(Azure.MANAGED_CLUSTER).get("apiServerAccessProfile")
    assert profile["enablePrivateCluster"] is True and "authorizedIPRanges" not in profile
    assert profile["disableRunCommand"] is True


def test_private_cluster_has_no_public_endpoint(run_component):
    raw = with_cluster("prod", privateCluster=True, apiServerAuthorizedIpRanges=[])
    mc = run_component(build_cluster(raw), stack="prod").one(Azure.MANAGED_CLUSTER)
    assert mc.get("apiServerAccessProfile") == {
        "enablePrivateCluster": True,
        # No private zone: the name resolves publicly to the private address, for runners in a peered VNet.
        "privateDNSZone": "none",
        "enablePrivateClusterPublicFQDN": True,
        "disableRunCommand": True,
    }


def test_run_command_is_disabled_by_default(run_component):
    raw = stack_raw_config("dev")
    del raw["cluster"]["runCommandEnabled"]
    mc = run_component(build_cluster(raw)).one(Azure.MANAGED_CLUSTER)
    assert mc.get("apiServerAccessProfile.disableRunCommand") is True


# --------------------------------------------------------------------------- network and security


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_network_profile_azure_overlay_with_cilium(build_run, stack):
    mc = build_run(stack).one(Azure.MANAGED_CLUSTER)
    assert mc.get("networkProfile") == {
        "networkPlugin": "azure",
        "networkPluginMode": "overlay",
        "networkPolicy": "cilium",
        "networkDataplane": "cilium",
        "podCidr": "192.168.0.0/16",
        "serviceCidr": "172.16.0.0/16",
        "dnsServiceIP": "172.16.0.10",
        "loadBalancerSku": "standard",
        # Prod sends everything through the firewall's route; dev leaves through the load balancer.
        "outboundType": "userDefinedRouting" if stack == "prod" else "loadBalancer",
    }


@pytest.mark.parametrize("policy", ["calico", "azure"])
def test_non_cilium_network_policy_uses_azure_dataplane(run_component, policy):
    mc = run_component(build_cluster(with_cluster("dev", networkPolicy=policy))).one(Azure.MANAGED_CLUSTER)
    assert mc.get("networkProfile.networkPolicy") == policy
    assert mc.get("networkProfile.networkDataplane") == "azure"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_security_profile_defender_and_image_cleaner(build_run, stack):
    run = build_run(stack)
    mc = run.one(Azure.MANAGED_CLUSTER)
    workspace = run.one(Azure.LOG_ANALYTICS_WORKSPACE)
    assert mc.get("securityProfile.defender") == {
        "logAnalyticsWorkspaceResourceId": workspace.id,
        "securityMonitoring": {"enabled": True},
    }
    assert mc.get("securityProfile.imageCleaner") == {"enabled": True, "intervalHours": 168}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_addons_policy_key_vault_csi_and_container_insights(build_run, stack):
    run = build_run(stack)
    mc = run.one(Azure.MANAGED_CLUSTER)
    assert mc.get("addonProfiles") == {
        "azurepolicy": {"enabled": True},
        "azureKeyvaultSecretsProvider": {
            "enabled": True,
            "config": {"enableSecretRotation": "true", "rotationPollInterval": "2m"},
        },
        # The Azure Monitor agent with its managed identity, to the environment's workspace.
        "omsagent": {
            "enabled": True,
            "config": {
                "logAnalyticsWorkspaceResourceID": run.one(Azure.LOG_ANALYTICS_WORKSPACE).id,
                "useAADAuth": "true",
            },
        },
    }
    # Managed Prometheus: AKS runs the ama-metrics scraper (the DCR association says where metrics go).
    assert mc.get("azureMonitorProfile") == {"metrics": {"enabled": True}}


@pytest.mark.parametrize("stack, tier", [("dev", "Free"), ("prod", "Standard")])
def test_sku_tier(build_run, stack, tier):
    assert build_run(stack).one(Azure.MANAGED_CLUSTER).get("sku") == {"name": "Base", "tier": tier}


def test_storage_profile_and_autoscaler_defaults(build_run):
    mc = build_run("prod").one(Azure.MANAGED_CLUSTER)
    assert mc.get("storageProfile") == {
        "diskCSIDriver": {"enabled": True},
        "snapshotController": {"enabled": True},
        "fileCSIDriver": {"enabled": False},
        "blobCSIDriver": {"enabled": False},
    }
    assert mc.get("autoScalerProfile.skipNodesWithSystemPods") == "true"
    assert mc.get("autoScalerProfile.expander") == "least-waste"


# --------------------------------------------------------------------------- node pools


def pools(run: ProgramRun) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in run.one(Azure.MANAGED_CLUSTER).get("agentPoolProfiles")}


@pytest.mark.parametrize(
    "stack, count, zones, encryption",
    [
        ("dev", 1, None, False),
        ("prod", 3, ["1", "2", "3"], True),
    ],
)
def test_system_pool(build_run, stack, count, zones, encryption):
    run = build_run(stack)
    system = pools(run)["system"]
    assert system["mode"] == "System"
    assert system["nodeTaints"] == ["CriticalAddonsOnly=true:NoSchedule"]
    assert system["count"] == count
    assert system.get("availabilityZones") == zones
    assert system["enableEncryptionAtHost"] is encryption
    assert system["enableNodePublicIP"] is False
    assert system["vnetSubnetID"] == run.one(Azure.SUBNET).id


@pytest.mark.parametrize(
    "stack, vm_size, min_count, max_count, encryption",
    [
        ("dev", "Standard_D4ds_v5", 1, 3, False),
        ("prod", "Standard_D8ds_v5", 3, 12, True),
    ],
)
def test_user_pool_autoscales(build_run, stack, vm_size, min_count, max_count, encryption):
    user = pools(build_run(stack))["user"]
    assert user["mode"] == "User"
    assert "nodeTaints" not in user
    assert (user["enableAutoScaling"], user["minCount"], user["maxCount"], user["count"]) == (
        True,
        min_count,
        max_count,
        min_count,
    )
    assert user["vmSize"] == vm_size
    assert user["enableEncryptionAtHost"] is encryption


# --------------------------------------------------------------------------- logs


@pytest.mark.parametrize("stack, reads", [("dev", []), ("prod", [{"category": "kube-audit", "enabled": True}])])
def test_control_plane_logs_go_to_log_analytics(build_run, stack, reads):
    run = build_run(stack)
    diag = run.one(Azure.DIAGNOSTIC_SETTING)
    assert diag.get("resourceUri") == run.one(Azure.MANAGED_CLUSTER).id
    assert diag.get("workspaceId") == run.one(Azure.LOG_ANALYTICS_WORKSPACE).id
    assert diag.get("logAnalyticsDestinationType") == "Dedicated"
    assert diag.get("logs") == [
        {"category": "kube-audit-admin", "enabled": True},
        {"category": "guard", "enabled": True},
        {"category": "kube-apiserver", "enabled": True},
        # Prod also records reads (get/list of the sealing-key Secret): observability.auditReads.
        *reads,
    ]


# --------------------------------------------------------------------------- outputs and provider


def test_kubeconfig_is_secret_everywhere(build_run):
    run = build_run("prod")
    assert "aks.kubeconfig" in run.secret_outputs
    kubeconfig = run.outputs["aks.kubeconfig"]
    assert "kind: Config" in kubeconfig and "kubelogin" in kubeconfig  # base64-decoded, exec (Entra ID)
    provider = run.one(K8S_PROVIDER)
    assert provider.is_secret("kubeconfig")
    assert provider.get("kubeconfig") == kubeconfig
    assert provider.get("enableServerSideApply") == "true"  # provider config travels as strings


def test_outputs(build_run):
    run = build_run("prod")
    mc = run.one(Azure.MANAGED_CLUSTER)
    out = run.outputs
    assert out["aks.cluster_name"] == "plat-prod-aks"
    assert out["aks.cluster_id"] == mc.id
    assert out["aks.resource_group_name"] == "plat-prod-core-rg"
    assert out["aks.node_resource_group"] == "plat-prod-aks-nodes-rg"
    assert out["aks.oidc_issuer_url"] == mc.outputs["oidcIssuerProfile"]["issuerURL"]
    assert out["aks.oidc_issuer_url"].startswith("https://")
    kubelet = mc.outputs["identityProfile"]["kubeletidentity"]
    assert out["aks.kubelet_identity_object_id"] == kubelet["objectId"]
    assert out["aks.kubelet_identity_client_id"] == kubelet["clientId"]
    assert not {k for k in run.secret_outputs if not k.endswith("kubeconfig")}


def test_children_are_parented_and_k8s_provider_is_exposed(build_run):
    run = build_run("dev")
    component = run.one(COMPONENT, "aks")
    for token in (Azure.MANAGED_CLUSTER, Azure.MAINTENANCE_CONFIGURATION, Azure.DIAGNOSTIC_SETTING, K8S_PROVIDER):
        found = run.of_type(token)
        assert found and all(r.parent == component.urn for r in found), token


def test_cluster_names(build_run):
    mc = build_run("dev").one(Azure.MANAGED_CLUSTER)
    assert mc.get("resourceName") == "plat-dev-aks"
    assert mc.get("dnsPrefix") == "plat-dev-aks"
    assert mc.get("nodeResourceGroup") == "plat-dev-aks-nodes-rg"
    assert mc.get("kubernetesVersion") == "1.36"  # Pulumi.dev.yaml's pin, inside AKS standard support
    assert mc.get("location") == "westeurope"
    assert mc.get("tags.owner") == "platform-team@example.com"


def test_two_clusters_in_one_program_do_not_collide(run_component):
    run = run_component(build_cluster(stack_raw_config("prod"), names=("aks-a", "aks-b")), stack="prod")
    clusters = run.of_type(Azure.MANAGED_CLUSTER)
    assert len(clusters) == 2
    for key in ("resourceName", "dnsPrefix", "nodeResourceGroup"):
        assert len({c.get(key) for c in clusters}) == 2, f"Azure {key} collides"
    assert len({d.get("name") for d in run.of_type(Azure.DIAGNOSTIC_SETTING)}) == 2
    custom = [r for r in run.resources if r.custom]
    assert len({(r.type, r.name) for r in custom}) == len(custom), "Pulumi names collide"
    # Each cluster's windows target that cluster.
    assert sorted(m.get("resourceName") for m in run.of_type(Azure.MAINTENANCE_CONFIGURATION)) == [
        "plat-prod-aks-a",
        "plat-prod-aks-a",
        "plat-prod-aks-b",
        "plat-prod-aks-b",
    ]
    assert run.outputs["aks-a.kubeconfig"] != run.outputs["aks-b.kubeconfig"]
    assert {"aks-a.kubeconfig", "aks-b.kubeconfig"} <= run.secret_outputs


def test_protect_can_be_overridden(run_component):
    def build() -> None:
        wiring.aks_cluster(parse_config(stack_raw_config("dev")), protect=True)

    mc = run_component(build).one(Azure.MANAGED_CLUSTER)
    assert mc.protect is True
    assert all("vnetSubnetID" not in p for p in mc.get("agentPoolProfiles"))


@pytest.mark.parametrize("bad", ["AKS", "aks_1", "a" * 60])
def test_invalid_component_name_is_rejected(run_component, bad: str):
    def build() -> None:
        wiring.aks_cluster(parse_config(stack_raw_config("dev")), bad)

    with pytest.raises(ValueError, match="AksCluster name"):
        run_component(build)


def test_identities_for_role_assignments(build_run):
    """Other components grant roles to these: the control-plane identity and the Key Vault CSI add-on's."""
    run = build_run("prod")
    mc, out = run.one(Azure.MANAGED_CLUSTER), run.outputs
    csi = mc.outputs["addonProfiles"]["azureKeyvaultSecretsProvider"]["identity"]
    assert out["aks.tenant_id"] == TENANT_ID
    assert out["aks.identity_principal_id"] == mc.outputs["identity"]["principalId"]
    client, principal = out["aks.secrets_provider_client_id"], out["aks.secrets_provider_object_id"]
    assert (client, principal) == (csi["clientId"], csi["objectId"])
    assert client and principal and out["aks.identity_principal_id"]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_control_plane_identity_is_network_contributor_on_the_node_subnet(build_run, stack):
    """Autoscaler and upgrade VMSS writes join the node subnet with the cluster identity (system-assigned,
    so Pulumi must grant it after the cluster exists, as `az aks create` would)."""
    run = build_run(stack)
    mc, subnet = run.one(Azure.MANAGED_CLUSTER), run.one(Azure.SUBNET)
    ra = run.one(Azure.ROLE_ASSIGNMENT, "aks-subnet-network-contributor")
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
        wiring.aks_cluster(parse_config(stack_raw_config("dev")))

    assert run_component(build).of_type(Azure.ROLE_ASSIGNMENT) == []


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_azure_policy_addon_has_a_denying_pod_security_assignment(build_run, stack):
    """An enabled add-on with no assignment enforces nothing: the baseline initiative is assigned with Deny."""
    run = build_run(stack)
    mc = run.one(Azure.MANAGED_CLUSTER)
    assert mc.get("addonProfiles.azurepolicy.enabled") is True
    pa = run.one(Azure.POLICY_ASSIGNMENT)
    assert pa.get("policyDefinitionId") == (
        "/providers/Microsoft.Authorization/policySetDefinitions/a8640138-9b0a-4a28-b8cb-1666c838647d"
    )
    assert pa.get("scope") == "/".join(mc.id.split("/")[:5])  # the cluster's resource group
    assert pa.get("enforcementMode") == "Default"
    assert pa.get("parameters.effect") == {"value": "Deny"}
    excluded = pa.get("parameters.excludedNamespaces.value")
    assert {"kube-system", "gatekeeper-system", "istio-system"} <= set(excluded)
    # App and gateway namespaces are never exempt.
    assert not {"shop", "payments", "istio-ingress", "istio-egress", "sealed-secrets"} & set(excluded)
