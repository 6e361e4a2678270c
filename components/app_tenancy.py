"""AppTenancy: what each app namespace's owning team may do there, and how much of the cluster it may use.

For each configured namespace:

- Azure RBAC for Kubernetes: the team's writer group gets ``Azure Kubernetes Service RBAC Writer``, its
  reader group ``... RBAC Reader``, both at the namespace's scope ``<clusterId>/namespaces/<ns>`` and
  nowhere else (no cluster-wide assignment: a team never sees another team's namespace or Secrets);
- Kubernetes RBAC for the custom resources the built-in AKS roles do not cover (they cover built-in kinds
  only): a ``Role`` granting the team's own routing and authorization kinds (VirtualService, DestinationRule,
  AuthorizationPolicy, RequestAuthentication) and its ``SealedSecrets``, bound to the writer group by its
  Entra object ID; readers get a read-only ``Role``. The perimeter kinds (ServiceEntry, Gateway,
  PeerAuthentication, Sidecar, EnvoyFilter, WasmPlugin) are in no team Role;
- a ``ResourceQuota`` (CPU, memory, pods; no LoadBalancer or NodePort Services: the ingress gateway is the
  only way in) and a ``LimitRange`` (defaults for containers that set nothing, a per-container maximum).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
from pulumi_azure_native import authorization

from components.azure_roles import AKS_RBAC_READER, AKS_RBAC_WRITER, cluster_namespace_scope, role_definition_id
from components.mesh_names import TEAM_ISTIO_KINDS
from components.registered_outputs import register_attributes
from stack_config import AppNamespaceConfig

WRITE_VERBS = ("get", "list", "watch", "create", "update", "patch", "delete")
READ_VERBS = ("get", "list", "watch")
EDITOR_ROLE = "team-editor"
VIEWER_ROLE = "team-viewer"
# Custom resources besides Istio's that a team manages: its sealed secrets (ciphertext only; the controller
# unseals them into Secrets of this namespace). The built-in AKS roles cover no custom resource.
SEALED_SECRETS = ("bitnami.com", "sealedsecrets")
RBAC_API_GROUP = "rbac.authorization.k8s.io"


@dataclass(frozen=True)
class AppTenancyArgs:
    """Inputs of :class:`AppTenancy`: the ``appNamespaces`` config section, the cluster and the namespaces."""

    config: tuple[AppNamespaceConfig, ...]
    cluster_id: pulumi.Input[str]  # AksCluster.cluster_id
    namespaces: Mapping[str, k8s.core.v1.Namespace]  # AppNamespaces.namespaces


def team_role_rules(verbs: tuple[str, ...]) -> list[k8s.rbac.v1.PolicyRuleArgs]:
    """Role rules over the team's custom resources only (its Istio kinds, SealedSecrets), one rule per API group."""
    groups: dict[str, list[str]] = {}
    for group, plural in [(group, plural) for group, plural, _kind in TEAM_ISTIO_KINDS] + [SEALED_SECRETS]:
        groups.setdefault(group, []).append(plural)
    return [
        k8s.rbac.v1.PolicyRuleArgs(api_groups=[group], resources=plurals, verbs=list(verbs))
        for group, plurals in groups.items()
    ]


def group_subject(object_id: str) -> k8s.rbac.v1.SubjectArgs:
    """An Entra ID group as a Kubernetes RBAC subject: AKS puts group object IDs in the user's groups
    (learn.microsoft.com/azure/aks/kubernetes-rbac-entra-id: ``kind: Group``, ``name: <groupObjectId>``)."""
    return k8s.rbac.v1.SubjectArgs(kind="Group", api_group=RBAC_API_GROUP, name=object_id)


def resource_quota_spec(ns: AppNamespaceConfig) -> k8s.core.v1.ResourceQuotaSpecArgs:
    quota = ns.quota
    return k8s.core.v1.ResourceQuotaSpecArgs(
        hard={
            "requests.cpu": quota.cpu,
            "limits.cpu": quota.cpu,
            "requests.memory": quota.memory,
            "limits.memory": quota.memory,
            "pods": str(quota.pods),
            # Every public entry point is the ingress gateway (TLS, JWT, authorization): no Service of its own.
            "services.loadbalancers": "0",
            "services.nodeports": "0",
        }
    )


def limit_range_spec(ns: AppNamespaceConfig) -> k8s.core.v1.LimitRangeSpecArgs:
    limits = ns.container_limits
    default = {"cpu": limits.default_cpu, "memory": limits.default_memory}
    return k8s.core.v1.LimitRangeSpecArgs(
        limits=[
            k8s.core.v1.LimitRangeItemArgs(
                type="Container",
                # A container that sets nothing still counts against the quota and cannot take a whole node.
                default=default,
                default_request=default,
                max={"cpu": limits.max_cpu, "memory": limits.max_memory},
            )
        ]
    )


def _role_in_subscription(role_guid: str, cluster_id: str) -> str:
    return role_definition_id(cluster_id, role_guid)


class AppTenancy(pulumi.ComponentResource):
    """Per app namespace: the owning team's namespace-scoped access, its Istio Roles, its quota and limits."""

    role_assignment_scopes: pulumi.Output[list[str]]

    def __init__(self, name: str, args: AppTenancyArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("platform:tenancy:AppTenancy", name, None, opts)
        cluster_id = pulumi.Output.from_input(args.cluster_id)
        scopes = []
        for ns in args.config:
            namespace = args.namespaces[ns.name]
            prefix = f"{name}-{ns.name}"
            in_namespace = pulumi.ResourceOptions(parent=self, depends_on=[namespace])
            scopes += self._azure_access(prefix, ns, cluster_id)
            self._team_roles(prefix, ns, namespace, in_namespace)
            k8s.core.v1.ResourceQuota(
                f"{prefix}-quota",
                metadata=k8s.meta.v1.ObjectMetaArgs(name="team-quota", namespace=namespace.metadata.name),
                spec=resource_quota_spec(ns),
                opts=in_namespace,
            )
            k8s.core.v1.LimitRange(
                f"{prefix}-limits",
                metadata=k8s.meta.v1.ObjectMetaArgs(name="team-limits", namespace=namespace.metadata.name),
                spec=limit_range_spec(ns),
                opts=in_namespace,
            )
        self.role_assignment_scopes = pulumi.Output.all(*scopes).apply(list)
        register_attributes(self, "role_assignment_scopes")

    def _azure_access(
        self, prefix: str, ns: AppNamespaceConfig, cluster_id: pulumi.Output[str]
    ) -> list[pulumi.Output[str]]:
        """AKS RBAC Writer/Reader for the team's groups on this namespace only; the scopes assigned."""
        scope = cluster_id.apply(lambda cid: cluster_namespace_scope(cid, ns.name))
        scopes = []
        for suffix, group, role in (
            ("writer", ns.writer_group_object_id, AKS_RBAC_WRITER),
            ("reader", ns.reader_group_object_id, AKS_RBAC_READER),
        ):
            if group is None:
                continue
            authorization.RoleAssignment(
                f"{prefix}-aks-rbac-{suffix}",
                principal_id=group,
                principal_type=authorization.PrincipalType.GROUP,
                role_definition_id=cluster_id.apply(functools.partial(_role_in_subscription, role)),
                scope=scope,
                description=f"team {suffix}s of app namespace {ns.name}",
                opts=pulumi.ResourceOptions(parent=self),
            )
            scopes.append(scope)
        return scopes

    def _team_roles(
        self,
        prefix: str,
        ns: AppNamespaceConfig,
        namespace: k8s.core.v1.Namespace,
        opts: pulumi.ResourceOptions,
    ) -> None:
        for role_name, verbs, group in (
            (EDITOR_ROLE, WRITE_VERBS, ns.writer_group_object_id),
            (VIEWER_ROLE, READ_VERBS, ns.reader_group_object_id),
        ):
            if group is None:
                continue
            role = k8s.rbac.v1.Role(
                f"{prefix}-{role_name}",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=role_name, namespace=namespace.metadata.name),
                rules=team_role_rules(verbs),
                opts=opts,
            )
            k8s.rbac.v1.RoleBinding(
                f"{prefix}-{role_name}-binding",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=role_name, namespace=namespace.metadata.name),
                role_ref=k8s.rbac.v1.RoleRefArgs(api_group=RBAC_API_GROUP, kind="Role", name=role_name),
                subjects=[group_subject(group)],
                opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[role])),
            )
