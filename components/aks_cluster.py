"""The AKS cluster (azure-native ``containerservice``, API 2025-09-01) and its Kubernetes provider.

Every security setting is explicit and carries the threat it answers. Node images and Kubernetes
patches are refreshed by AKS itself inside weekly maintenance windows; ``ignore_changes`` keeps
``pulumi up`` from reverting what the auto-upgrader moved. See docs/aks.md.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
from pulumi_azure_native import authorization
from pulumi_azure_native import containerservice as cs

from components.aks_profiles import (
    AUTO_SCALER_PROFILE,
    AZURE_MONITOR_PROFILE,
    KEY_VAULT_CSI_ADDON,
    STORAGE_PROFILE,
    addon_profiles,
    agent_pools,
    api_server_access,
    cluster_identity,
    ignored_upgrade_paths,
    network_profile,
    security_profile,
)
from components.azure_placement import AzurePlacement
from components.azure_roles import NETWORK_CONTRIBUTOR, derived_name, resource_group_id, role_definition_id
from components.diagnostic_settings import logs_to_workspace
from components.key_material import ClusterKms
from components.mesh_names import ROOT_NAMESPACE
from components.registered_outputs import register_attributes
from stack_config import ClusterConfig, MaintenanceWindow

# AKS-reserved names: a MaintenanceConfiguration with any other name does not drive these upgrades.
NODE_OS_SCHEDULE = "aksManagedNodeOSUpgradeSchedule"
AUTO_UPGRADE_SCHEDULE = "aksManagedAutoUpgradeSchedule"

# Control-plane logs sent to Log Analytics: who changed what (audit, minus reads), Entra ID
# authentication decisions (guard) and API server errors.
DIAGNOSTIC_LOG_CATEGORIES = ("kube-audit-admin", "guard", "kube-apiserver")
# Every audit event including get/list/watch (table AKSAudit): the only record of who read the sealing-key
# Secret. "AKSAuditAdmin ... excluding events with the get and list verbs" (Azure Monitor table reference).
AUDIT_READS_CATEGORY = "kube-audit"

# Built-in initiative "Kubernetes cluster pod security baseline standards for Linux-based workloads"
# (Azure/azure-policy built-in-policies/policySetDefinitions/Kubernetes/Kubernetes_PSPBaselineStandard.json):
# no privileged containers, host network/PID/IPC, added capabilities or hostPath volumes, enforced by the
# add-on's Gatekeeper at admission in every namespace but the excluded ones. Baseline, not the "restricted"
# initiative: that one also demands fsGroup/supplementalGroups/runAsGroup on every pod, which the injected
# Istio containers do not set; app namespaces get restricted from Pod Security Admission and the
# platform's ValidatingAdmissionPolicies instead (docs/aks.md).
POD_SECURITY_BASELINE_INITIATIVE = (
    "/providers/Microsoft.Authorization/policySetDefinitions/a8640138-9b0a-4a28-b8cb-1666c838647d"
)
# The initiative's own default exclusions, plus istio-system: the Istio CNI node agent runs privileged with
# hostPath mounts there (it installs the redirect into each node's CNI chain), and nothing else runs there.
POD_SECURITY_EXCLUDED_NAMESPACES = ("kube-system", "gatekeeper-system", "azure-arc", ROOT_NAMESPACE)


@dataclass(frozen=True)
class AksClusterArgs:
    """Inputs of :class:`AksCluster`: the ``cluster`` config section and where the cluster lives.

    ``node_subnet_id`` None lets AKS create its own VNet (not recommended outside tests).
    """

    config: ClusterConfig
    placement: AzurePlacement  # the cluster is "<prefix>-<component name>"
    is_prod: bool
    log_analytics_workspace_id: pulumi.Input[str]
    node_subnet_id: pulumi.Input[str] | None = None
    protect: bool | None = None  # default: protect in prod
    # EgressFirewall.ready (userDefinedRouting: the route and the firewall exist before any node boots) and
    # RunnerPeering.ready (a private API server is reached through it).
    depends_on: Sequence[pulumi.Resource] = ()
    # EtcdEncryption.settings: KMS etcd encryption and the user-assigned control-plane identity it needs.
    kms: ClusterKms | None = None
    # ApiServerSubnet.subnet_id (or cluster.network.existingApiServerSubnetId): API Server VNet Integration, which
    # KMS with a private vault requires. Needs ``kms`` (its identity is granted the subnet before the cluster).
    api_server_subnet_id: pulumi.Input[str] | None = None
    # EgressFirewall.egress_public_ip_addresses, when the program builds the firewall: the nodes reach a public API
    # server from these, so they join its authorized IP ranges (aks_profiles.authorized_ip_ranges).
    firewall_egress_ips: pulumi.Input[Sequence[str]] | None = None
    audit_reads: bool = True  # observability.auditReads: also collect kube-audit (reads included)


def diagnostic_log_categories(audit_reads: bool) -> tuple[str, ...]:
    """The control-plane log categories sent to the workspace; reads of Secrets only with ``audit_reads``."""
    return (*DIAGNOSTIC_LOG_CATEGORIES, AUDIT_READS_CATEGORY) if audit_reads else DIAGNOSTIC_LOG_CATEGORIES


def maintenance_window_args(window: MaintenanceWindow) -> cs.MaintenanceWindowArgs:
    """A weekly planned-maintenance window as the AKS API wants it."""
    return cs.MaintenanceWindowArgs(
        schedule=cs.ScheduleArgs(
            weekly=cs.WeeklyScheduleArgs(
                day_of_week=cs.WeekDay(window.day_of_week), interval_weeks=window.interval_weeks
            )
        ),
        start_time=window.start_time,
        utc_offset=window.utc_offset,
        duration_hours=window.duration_hours,
    )


class MissingIdentityError(ValueError):
    """The cluster came back without an identity the program grants roles to."""


def require_identity(value: str | None, cluster_name: str, what: str) -> str:
    """An identity's ID, or a clear error: a role assignment with ``principalId: ""`` fails far from the cause."""
    if not value:
        raise MissingIdentityError(
            f"AKS cluster {cluster_name}: {what} is missing from the cluster's state, so the role assignments "
            "for it cannot be made; check that the cluster uses a system-assigned identity and that the add-on "
            "is enabled (az aks show --query identity / addonProfiles), then run `pulumi refresh` and `up` again"
        )
    return value


def _decode_kubeconfig(encoded: str) -> str:
    return base64.b64decode(encoded).decode("utf-8")


# --------------------------------------------------------------------------- the component


class AksCluster(pulumi.ComponentResource):
    """A hardened AKS cluster with auto-upgrade windows, audit logs and a Kubernetes provider.

    The Azure cluster name is ``<namePrefix>-<environment>-<component name>`` (e.g. ``plat-prod-aks``);
    its node resource group is ``<cluster name>-nodes-rg``. Two instances never collide.
    """

    cluster_name: pulumi.Output[str]
    cluster_id: pulumi.Output[str]
    resource_group_name: pulumi.Output[str]
    oidc_issuer_url: pulumi.Output[str]
    kubelet_identity_object_id: pulumi.Output[str]
    kubelet_identity_client_id: pulumi.Output[str]
    node_resource_group: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    k8s_provider: k8s.Provider
    # Beyond the contract, for role assignments other components make:
    tenant_id: pulumi.Output[str]
    identity_principal_id: pulumi.Output[str]  # control-plane identity (e.g. Network Contributor on a static IP)
    secrets_provider_client_id: pulumi.Output[str]  # azureKeyvaultSecretsProvider add-on identity
    secrets_provider_object_id: pulumi.Output[str]

    def __init__(self, name: str, args: AksClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("platform:aks:Cluster", name, None, opts)
        # Also the cluster's DNS prefix.
        cluster_name = derived_name("AksCluster", name, args.placement.resource_prefix, 53, "the cluster name")
        child = pulumi.ResourceOptions(parent=self)
        self.tenant_id = authorization.get_client_config_output(opts=pulumi.InvokeOptions(parent=self)).tenant_id

        # A user-assigned identity (KMS) exists before the cluster: its grants come first and the cluster waits.
        early = self._grants_before_cluster(name, cluster_name, args)
        cluster = self._managed_cluster(name, cluster_name, args, early)
        self._expose(cluster, cluster_name, args)
        if args.kms is None and args.node_subnet_id is not None:
            self._subnet_grant(f"{name}-subnet", cluster_name, self.identity_principal_id, args.node_subnet_id, "node")
        for pulumi_suffix, config_name, window in (
            ("node-os-window", NODE_OS_SCHEDULE, args.config.node_os_maintenance),
            ("auto-upgrade-window", AUTO_UPGRADE_SCHEDULE, args.config.auto_upgrade_maintenance),
        ):
            cs.MaintenanceConfiguration(
                f"{name}-{pulumi_suffix}",
                config_name=config_name,
                resource_group_name=args.placement.resource_group_name,
                resource_name_=cluster.name,
                maintenance_window=maintenance_window_args(window),
                opts=child,
            )
        # Resource-specific tables AKSAudit, AKSAuditAdmin, AKSControlPlane (AKSAudit exists only as one).
        logs_to_workspace(
            name,
            cluster_name,
            cluster.id,
            args.log_analytics_workspace_id,
            log_categories=diagnostic_log_categories(args.audit_reads),
            opts=child,
        )
        self._pod_security_assignment(name, cluster_name, cluster)
        self._kubernetes_provider(name, cluster, args)
        self._register()

    # ---------------------------------------------------------------- the cluster

    def _managed_cluster(
        self, name: str, cluster_name: str, args: AksClusterArgs, after: list[pulumi.Resource]
    ) -> cs.ManagedCluster:
        cc = args.config
        pools = agent_pools(cc, args.node_subnet_id)
        autoscaled = [i for i, p in enumerate(pools) if p.enable_auto_scaling]
        return cs.ManagedCluster(
            f"{name}-cluster",
            resource_name_=cluster_name,
            resource_group_name=args.placement.resource_group_name,
            location=args.placement.location,
            dns_prefix=cluster_name,
            node_resource_group=f"{cluster_name}-nodes-rg",
            kubernetes_version=cc.kubernetes_version,
            sku=cs.ManagedClusterSKUArgs(
                name=cs.ManagedClusterSKUName.BASE, tier=cs.ManagedClusterSKUTier(cc.sku_tier)
            ),
            # Past a minor's end of standard support AKS refuses it without the LTS plan.
            support_plan=cs.KubernetesSupportPlan(cc.support_plan),
            identity=cluster_identity(args.kms),
            # Entra ID sign-in and Azure RBAC for Kubernetes authorization: access is granted, audited
            # and revoked in one place.
            aad_profile=cs.ManagedClusterAADProfileArgs(
                managed=True,
                enable_azure_rbac=True,
                admin_group_object_ids=list(cc.admin_group_object_ids),
                tenant_id=self.tenant_id,
            ),
            enable_rbac=True,
            # No static client certificate that outlives a leaver and cannot be revoked.
            disable_local_accounts=True,
            api_server_access_profile=api_server_access(
                cc, args.is_prod, args.api_server_subnet_id, args.firewall_egress_ips
            ),
            auto_upgrade_profile=cs.ManagedClusterAutoUpgradeProfileArgs(
                # Nodes get patched images weekly without anyone running an upgrade.
                node_os_upgrade_channel=cs.NodeOSUpgradeChannel(cc.node_os_upgrade_channel),
                upgrade_channel=cs.UpgradeChannel(cc.upgrade_channel),
            ),
            # Workloads use federated tokens, never stored cloud credentials.
            oidc_issuer_profile=cs.ManagedClusterOIDCIssuerProfileArgs(enabled=True),
            security_profile=security_profile(args.log_analytics_workspace_id, args.kms),
            network_profile=network_profile(cc),
            addon_profiles=addon_profiles(args.log_analytics_workspace_id),
            azure_monitor_profile=AZURE_MONITOR_PROFILE,
            agent_pool_profiles=pools,
            auto_scaler_profile=AUTO_SCALER_PROFILE,
            storage_profile=STORAGE_PROFILE,
            tags=dict(args.placement.tags),
            opts=pulumi.ResourceOptions(
                parent=self,
                ignore_changes=ignored_upgrade_paths(autoscaled),
                # A replace-triggering change must fail loudly in prod, not delete every workload.
                protect=args.is_prod if args.protect is None else args.protect,
                depends_on=[*args.depends_on, *after],
            ),
        )

    def _grants_before_cluster(self, name: str, cluster_name: str, args: AksClusterArgs) -> list[pulumi.Resource]:
        """The user-assigned identity's subnet grants and KMS access: all exist before the cluster is created."""
        if args.kms is None:
            if args.api_server_subnet_id is not None:
                raise ValueError(
                    f"AksCluster {name!r}: API Server VNet Integration needs the user-assigned control-plane identity "
                    "(kms): its grant on the API server subnet must exist before the cluster"
                )
            return []
        principal = args.kms.identity_principal_id
        grants: list[pulumi.Resource] = []
        if args.node_subnet_id is not None:
            grants.append(self._subnet_grant(f"{name}-subnet", cluster_name, principal, args.node_subnet_id, "node"))
        if args.api_server_subnet_id is not None:
            # "The cluster identity needs permissions to both the API server subnet and the node subnet. Lack of
            # permissions at the API server subnet can cause a provisioning failure." (api-server-vnet-integration)
            grants.append(
                self._subnet_grant(
                    f"{name}-api-server-subnet", cluster_name, principal, args.api_server_subnet_id, "API server"
                )
            )
        return [*grants, *args.kms.ready]

    def _subnet_grant(
        self,
        prefix: str,
        cluster_name: str,
        principal_id: pulumi.Input[str],
        subnet_id: pulumi.Input[str],
        which: str,
    ) -> authorization.RoleAssignment:
        # Nodes live in a subnet outside the node resource group: the control-plane identity needs
        # subnets/join+read there, or autoscaler/upgrade VMSS writes fail with LinkedAuthorizationFailed; the API
        # server subnet likewise (AKS injects its load balancer there). Network Contributor is the role both AKS
        # pages name, scoped to the one subnet. A system-assigned identity exists only once the cluster does, so
        # its grant follows it (the Azure CLI does the same on `az aks create --vnet-subnet-id`); a user-assigned
        # one (KMS) is granted before the cluster is created.
        subnet = pulumi.Output.from_input(subnet_id)
        return authorization.RoleAssignment(
            f"{prefix}-network-contributor",
            principal_id=principal_id,
            # A managed identity is a service principal; stating it skips Entra ID's lookup of a new identity,
            # which can fail with PrincipalNotFound while it replicates.
            principal_type=authorization.PrincipalType.SERVICE_PRINCIPAL,
            role_definition_id=subnet.apply(lambda i: role_definition_id(i, NETWORK_CONTRIBUTOR)),
            scope=subnet,
            description=f"AKS {cluster_name} control plane joins and reads its {which} subnet",
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _pod_security_assignment(self, name: str, cluster_name: str, cluster: cs.ManagedCluster) -> None:
        # The Azure Policy add-on alone enforces nothing: without an assignment Gatekeeper has no constraint.
        # Assigned on the cluster's resource group, the scope AKS documents (learn.microsoft.com/azure/aks/
        # use-azure-policy); the group holds this environment's cluster only.
        authorization.PolicyAssignment(
            f"{name}-pod-security-baseline",
            policy_assignment_name="aks-pod-security-baseline",
            display_name=f"{cluster_name}: Kubernetes pod security baseline (deny)",
            scope=cluster.id.apply(resource_group_id),
            policy_definition_id=POD_SECURITY_BASELINE_INITIATIVE,
            enforcement_mode=authorization.EnforcementMode.DEFAULT,
            parameters={
                # Deny, not the initiative's default Audit: a privileged pod is refused, not only reported.
                "effect": authorization.ParameterValuesValueArgs(value="Deny"),
                "excludedNamespaces": authorization.ParameterValuesValueArgs(
                    value=list(POD_SECURITY_EXCLUDED_NAMESPACES)
                ),
            },
            opts=pulumi.ResourceOptions(parent=self),
        )

    # ---------------------------------------------------------------- provider and outputs

    def _kubernetes_provider(self, name: str, cluster: cs.ManagedCluster, args: AksClusterArgs) -> None:
        credentials = cs.list_managed_cluster_user_credentials_output(
            resource_group_name=args.placement.resource_group_name,
            resource_name=cluster.name,
            # Entra ID clusters: an exec kubeconfig that calls kubelogin, no embedded secret token.
            format="exec",
            opts=pulumi.InvokeOutputOptions(parent=self),
        )
        self.kubeconfig = pulumi.Output.secret(
            credentials.kubeconfigs.apply(lambda kcs: _decode_kubeconfig(kcs[0].value))
        )
        self.k8s_provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=self.kubeconfig,
            # Server-side apply: field ownership is tracked, so Pulumi never overwrites what a
            # controller (HPA, istiod) manages.
            enable_server_side_apply=True,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _expose(self, cluster: cs.ManagedCluster, cluster_name: str, args: AksClusterArgs) -> None:
        self.cluster_name = cluster.name
        self.cluster_id = cluster.id
        self.resource_group_name = pulumi.Output.from_input(args.placement.resource_group_name)
        self.node_resource_group = cluster.node_resource_group.apply(lambda v: v or "")
        self.oidc_issuer_url = cluster.oidc_issuer_profile.apply(lambda p: (p.issuer_url if p else None) or "")
        kubelet = cluster.identity_profile.apply(lambda ids: (ids or {}).get("kubeletidentity"))
        self.kubelet_identity_object_id = kubelet.apply(lambda i: (i.object_id if i else None) or "")
        self.kubelet_identity_client_id = kubelet.apply(lambda i: (i.client_id if i else None) or "")
        # Role assignments and the certificate's SecretProviderClass use these: missing is an error, never "".
        self.identity_principal_id = (
            args.kms.identity_principal_id
            if args.kms
            else cluster.identity.apply(
                lambda i: require_identity(i.principal_id if i else None, cluster_name, "the control-plane identity")
            )
        )
        csi = cluster.addon_profiles.apply(lambda a: (a or {}).get(KEY_VAULT_CSI_ADDON) or None)
        addon = f"the {KEY_VAULT_CSI_ADDON} add-on identity"
        self.secrets_provider_client_id = csi.apply(
            lambda a: require_identity(a.identity.client_id if a and a.identity else None, cluster_name, addon)
        )
        self.secrets_provider_object_id = csi.apply(
            lambda a: require_identity(a.identity.object_id if a and a.identity else None, cluster_name, addon)
        )

    def _register(self) -> None:
        register_attributes(
            self,
            "cluster_name",
            "cluster_id",
            "resource_group_name",
            "oidc_issuer_url",
            "kubelet_identity_object_id",
            "kubelet_identity_client_id",
            "node_resource_group",
            "kubeconfig",
            "tenant_id",
            "identity_principal_id",
            "secrets_provider_client_id",
            "secrets_provider_object_id",
        )
