"""The AKS cluster's profiles as the ``ManagedCluster`` API takes them (pure builders, no resources).

Node pools, API server access, identity and KMS, the security, network, add-on, autoscaler, monitoring and
storage profiles, and the inputs ``ignore_changes`` leaves to AKS: each setting with the threat it answers.
:class:`components.aks_cluster.AksCluster` puts them together. See docs/aks.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi
from pulumi_azure_native import containerservice as cs

from components.key_material import ClusterKms
from stack_config import ClusterConfig

# Container Insights through the managed-identity Azure Monitor agent (ama-logs pods in kube-system); the
# config keys follow Microsoft's onboarding Bicep (microsoft/Docker-Provider, onboarding-msi-bicep).
CONTAINER_INSIGHTS_ADDON = "omsagent"

KEY_VAULT_CSI_ADDON = "azureKeyvaultSecretsProvider"

SYSTEM_POOL = "system"
USER_POOL = "user"


def ignored_upgrade_paths(autoscaled_pool_indexes: list[int]) -> list[str]:
    """Inputs AKS itself moves after an upgrade or autoscaling; Pulumi must not put them back.

    ``count`` is ignored only on autoscaled pools, so resizing the fixed system pool still works.
    """
    paths = [
        "kubernetesVersion",
        "agentPoolProfiles[*].orchestratorVersion",
        "agentPoolProfiles[*].nodeImageVersion",
    ]
    paths += [f"agentPoolProfiles[{i}].count" for i in autoscaled_pool_indexes]
    return paths


def _pool_common(cc: ClusterConfig, subnet_id: pulumi.Input[str] | None) -> dict[str, Any]:
    """Settings every node pool shares."""
    return {
        "type": cs.AgentPoolType.VIRTUAL_MACHINE_SCALE_SETS,
        "os_type": cs.OSType.LINUX,
        # A minimal, Microsoft-maintained host OS: fewer packages to patch between node images.
        "os_sku": cs.OSSKU.AZURE_LINUX,
        "os_disk_type": cs.OSDiskType.MANAGED,
        "max_pods": 110,
        "vnet_subnet_id": subnet_id,
        # Nodes are never directly reachable from the internet.
        "enable_node_public_ip": False,
        # Temp disks and caches encrypted on the host, where the config asks for it (prod).
        "enable_encryption_at_host": cc.encryption_at_host,
        # One extra node at a time per third of the pool: upgrades finish inside the window.
        "upgrade_settings": cs.AgentPoolUpgradeSettingsArgs(max_surge="33%"),
    }


def agent_pools(cc: ClusterConfig, subnet_id: pulumi.Input[str] | None) -> list[cs.ManagedClusterAgentPoolProfileArgs]:
    """The fixed system pool for critical add-ons, then the autoscaled user pool."""
    system_pool, user_pool = cc.system_pool, cc.user_pool
    return [
        cs.ManagedClusterAgentPoolProfileArgs(
            name=SYSTEM_POOL,
            # Critical add-ons (CoreDNS, konnectivity, metrics-server) get nodes no app can starve.
            mode=cs.AgentPoolMode.SYSTEM,
            node_taints=["CriticalAddonsOnly=true:NoSchedule"],
            vm_size=system_pool.vm_size,
            count=system_pool.count,
            enable_auto_scaling=False,
            availability_zones=list(system_pool.availability_zones) or None,
            os_disk_size_gb=system_pool.os_disk_size_gb,
            **_pool_common(cc, subnet_id),
        ),
        cs.ManagedClusterAgentPoolProfileArgs(
            name=USER_POOL,
            mode=cs.AgentPoolMode.USER,
            vm_size=user_pool.vm_size,
            # The initial size; the cluster autoscaler owns it afterwards (ignore_changes below).
            count=user_pool.min_count,
            enable_auto_scaling=True,
            min_count=user_pool.min_count,
            max_count=user_pool.max_count,
            availability_zones=list(user_pool.availability_zones) or None,
            os_disk_size_gb=user_pool.os_disk_size_gb,
            **_pool_common(cc, subnet_id),
        ),
    ]


def authorized_ip_ranges(
    cc: ClusterConfig, firewall_egress_ips: pulumi.Input[Sequence[str]] | None = None
) -> pulumi.Input[Sequence[str]]:
    """Who may reach the public API server: the configured ranges, and the nodes' own egress behind the firewall.

    Behind the program's firewall (userDefinedRouting) the nodes reach the API server's public endpoint from the
    firewall's SNAT addresses, which no configured range holds: without them no node joins and the cluster never
    becomes healthy. AKS "Limit network traffic with Azure Firewall": "If you use secure access to the AKS API server
    with authorized IP address ranges, you need to add the firewall public IP into the authorized IP range." AKS adds
    only a load balancer's outbound IPs itself ("AKS adds the API server public IP and the outbound public IP of the
    Standard SKU load balancer to the list of authorized IP ranges by default", api-server-authorized-ip-ranges), and
    "AKS never creates a public IP address for outbound requests if you set an outbound type of UDR"
    (limit-egress-traffic). Every firewall address, since the firewall picks one at random per connection. An empty
    list is no restriction at all: nothing to add there.
    """
    ranges = list(cc.api_server_authorized_ip_ranges)
    if not ranges or firewall_egress_ips is None:
        return ranges
    return pulumi.Output.from_input(firewall_egress_ips).apply(
        lambda ips: list(dict.fromkeys([*ranges, *(f"{ip}/32" for ip in ips)]))
    )


def api_server_access(
    cc: ClusterConfig,
    is_prod: bool,
    api_server_subnet_id: pulumi.Input[str] | None = None,
    firewall_egress_ips: pulumi.Input[Sequence[str]] | None = None,
) -> cs.ManagedClusterAPIServerAccessProfileArgs:
    # Run command executes as cluster-admin from Azure's side, bypassing the IP allow-list.
    disable_run_command = is_prod or not cc.run_command_enabled
    # API Server VNet Integration: the API server behind an internal load balancer in its own delegated subnet,
    # nodes reach it privately with no tunnel. KMS with a private vault works only so ("Konnectivity isn't
    # supported", use-kms-etcd-encryption). `subnetId` "is required when creating a new cluster with BYO Vnet".
    vnet_integration = True if api_server_subnet_id is not None else None
    if cc.private_cluster:
        # No public API endpoint at all; Pulumi runs from inside the network (peered CI runners, docs/network.md).
        return cs.ManagedClusterAPIServerAccessProfileArgs(
            enable_private_cluster=True,
            # "none": no private zone; the API server's name resolves in public DNS to its private address, so a
            # peered runner VNet reaches it with no DNS link to a zone AKS creates only with the cluster.
            private_dns_zone="none",
            enable_private_cluster_public_fqdn=True,
            disable_run_command=disable_run_command,
            enable_vnet_integration=vnet_integration,
            subnet_id=api_server_subnet_id,
        )
    return cs.ManagedClusterAPIServerAccessProfileArgs(
        # Only known egress ranges (office, CI, the firewall's addresses) can reach the API server. With VNet
        # Integration the public endpoint keeps this allow-list ("API Server VNet Integration, which supports up to
        # 2,000 authorized IP ranges", api-server-authorized-ip-ranges).
        authorized_ip_ranges=authorized_ip_ranges(cc, firewall_egress_ips),
        disable_run_command=disable_run_command,
        enable_vnet_integration=vnet_integration,
        subnet_id=api_server_subnet_id,
    )


def kms_profile(kms: ClusterKms | None) -> cs.AzureKeyVaultKmsArgs | None:
    if kms is None:
        return None
    return cs.AzureKeyVaultKmsArgs(
        enabled=True,
        key_id=kms.key_id,
        # The vault is never open to the internet, which Public mode requires (docs/aks.md, "etcd encryption").
        key_vault_network_access=cs.KeyVaultNetworkAccessTypes.PRIVATE,
        key_vault_resource_id=kms.vault_id,
    )


def cluster_identity(kms: ClusterKms | None) -> cs.ManagedClusterIdentityArgs:
    if kms is None:
        return cs.ManagedClusterIdentityArgs(type=cs.ResourceIdentityType.SYSTEM_ASSIGNED)
    # "KMS etcd encryption doesn't work with system-assigned managed identity."
    return cs.ManagedClusterIdentityArgs(
        type=cs.ResourceIdentityType.USER_ASSIGNED, user_assigned_identities=[kms.identity_id]
    )


def security_profile(
    log_analytics_workspace_id: pulumi.Input[str], kms: ClusterKms | None = None
) -> cs.ManagedClusterSecurityProfileArgs:
    return cs.ManagedClusterSecurityProfileArgs(
        # Secrets in etcd envelope-encrypted with the stack's Key Vault key (prod).
        azure_key_vault_kms=kms_profile(kms),
        workload_identity=cs.ManagedClusterSecurityProfileWorkloadIdentityArgs(enabled=True),
        # Runtime threat detection for nodes and the control plane.
        defender=cs.ManagedClusterSecurityProfileDefenderArgs(
            log_analytics_workspace_resource_id=log_analytics_workspace_id,
            security_monitoring=cs.ManagedClusterSecurityProfileDefenderSecurityMonitoringArgs(enabled=True),
        ),
        # Removes unused (and often vulnerable) images from nodes weekly.
        image_cleaner=cs.ManagedClusterSecurityProfileImageCleanerArgs(enabled=True, interval_hours=168),
    )


def network_profile(cc: ClusterConfig) -> cs.ContainerServiceNetworkProfileArgs:
    network_policy = cs.NetworkPolicy(cc.network_policy)
    return cs.ContainerServiceNetworkProfileArgs(
        network_plugin=cs.NetworkPlugin.AZURE,
        # Pod IPs from a private overlay range: the VNet only spends addresses on nodes.
        network_plugin_mode=cs.NetworkPluginMode.OVERLAY,
        # Without enforced NetworkPolicies a compromised pod can reach every other pod.
        network_policy=network_policy,
        network_dataplane=(
            cs.NetworkDataplane.CILIUM if network_policy == cs.NetworkPolicy.CILIUM else cs.NetworkDataplane.AZURE
        ),
        pod_cidr=cc.network.pod_cidr,
        service_cidr=cc.network.service_cidr,
        dns_service_ip=cc.network.dns_service_ip,
        load_balancer_sku=cs.LoadBalancerSku.STANDARD,
        # Behind the firewall, the node subnet's route table is the only way out; otherwise the load balancer
        # SNATs every node and pod to the internet, unfiltered.
        outbound_type=(
            cs.OutboundType.USER_DEFINED_ROUTING if cc.network.egress_firewall else cs.OutboundType.LOAD_BALANCER
        ),
    )


def addon_profiles(log_analytics_workspace_id: pulumi.Input[str]) -> dict[str, cs.ManagedClusterAddonProfileArgs]:
    return {
        # Container logs (mesh access logs, istiod, the sealed-secrets controller) to the workspace; the
        # agent authenticates with its managed identity (useAADAuth), no workspace key on the nodes.
        CONTAINER_INSIGHTS_ADDON: cs.ManagedClusterAddonProfileArgs(
            enabled=True,
            config={"logAnalyticsWorkspaceResourceID": log_analytics_workspace_id, "useAADAuth": "true"},
        ),
        # Azure Policy (Gatekeeper) enforces the pod security baseline initiative (AksCluster assigns it) at admission.
        "azurepolicy": cs.ManagedClusterAddonProfileArgs(enabled=True),
        # The CSI driver reads certificates (the ingress wildcard) from Key Vault; rotation keeps
        # a renewed certificate from waiting for a pod restart.
        KEY_VAULT_CSI_ADDON: cs.ManagedClusterAddonProfileArgs(
            enabled=True,
            config={"enableSecretRotation": "true", "rotationPollInterval": "2m"},
        ),
    }


AUTO_SCALER_PROFILE = cs.ManagedClusterPropertiesAutoScalerProfileArgs(
    expander=cs.Expander.LEAST_WASTE,
    balance_similar_node_groups="true",
    # Never evict kube-system pods or pods with local data to save a node.
    skip_nodes_with_system_pods="true",
    skip_nodes_with_local_storage="true",
    scale_down_unneeded_time="10m",
    scale_down_delay_after_add="10m",
    max_graceful_termination_sec="600",
)

# Managed Prometheus: AKS runs the ama-metrics scraper; where it sends the metrics is the data collection
# rule associated with the cluster (components/observability.py).
AZURE_MONITOR_PROFILE = cs.ManagedClusterAzureMonitorProfileArgs(
    metrics=cs.ManagedClusterAzureMonitorProfileMetricsArgs(enabled=True)
)

STORAGE_PROFILE = cs.ManagedClusterStorageProfileArgs(
    disk_csi_driver=cs.ManagedClusterStorageProfileDiskCSIDriverArgs(enabled=True),
    snapshot_controller=cs.ManagedClusterStorageProfileSnapshotControllerArgs(enabled=True),
    # Drivers nobody uses are privileged node daemons nobody patches: off until needed.
    file_csi_driver=cs.ManagedClusterStorageProfileFileCSIDriverArgs(enabled=False),
    blob_csi_driver=cs.ManagedClusterStorageProfileBlobCSIDriverArgs(enabled=False),
)
