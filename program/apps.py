"""The app namespaces: injection and default deny, the admission policies that guard them, each team's tenancy."""

from __future__ import annotations

import pulumi

from components.admission_policies import AdmissionPolicies, AdmissionPoliciesArgs
from components.app_namespaces import AppNamespaces, AppNamespacesArgs
from components.app_tenancy import AppTenancy, AppTenancyArgs
from program.upstream import Mesh
from stack_config import PlatformConfig


def app_namespaces_args(cfg: PlatformConfig, mesh: Mesh) -> AppNamespacesArgs:
    return AppNamespacesArgs(
        config=cfg.app_namespaces,
        istiod_revisions=mesh.revisions,
        trust_domain=mesh.trust_domain,
        ingress_namespace=cfg.ingress.namespace,
        egress_namespace=cfg.egress.namespace,
        depends_on=mesh.ready,
        istiod_namespace=mesh.root_namespace,
        mtls_exception_namespaces=frozenset(e.namespace for e in cfg.istio.mtls_exceptions),
    )


def app_tenancy_args(cfg: PlatformConfig, cluster_id: pulumi.Input[str], namespaces: AppNamespaces) -> AppTenancyArgs:
    return AppTenancyArgs(config=cfg.app_namespaces, cluster_id=cluster_id, namespaces=namespaces.namespaces)


def app_namespaces(
    cfg: PlatformConfig, mesh: Mesh, cluster_id: pulumi.Input[str], in_cluster: pulumi.ResourceOptions
) -> AppNamespaces:
    """The namespaces, the pack's rules enforced at admission in them, and each team's access to its own."""
    namespaces = AppNamespaces("apps", app_namespaces_args(cfg, mesh), opts=in_cluster)
    # The pack's workload and mesh rules, enforced by the API server for whatever deploys into app namespaces.
    AdmissionPolicies("admission", AdmissionPoliciesArgs(depends_on=mesh.ready), opts=in_cluster)
    # Each team's access, Istio Roles, quota and limits, in its own namespace only.
    AppTenancy("tenancy", app_tenancy_args(cfg, cluster_id, namespaces), opts=in_cluster)
    return namespaces
