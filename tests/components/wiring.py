"""Components built from a stack's validated config with the program's own wiring (program/).

A component test builds what it needs in a line or two and changes only the argument it is about:

    def build() -> None:
        cfg = load_config()
        wiring.ingress_gateway(cfg, wiring.in_cluster(), key_vault_id=VAULT_ID)

Each builder calls the program's ``*_args`` builder, so the test runs the wiring ``__main__.py`` runs.
What comes from other components in the real program (resource group, workspace, vault, identities,
the mesh's revisions) comes from fixed, realistic stand-ins for those components (program/upstream.py);
keyword arguments replace any field of the component's ``*Args``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.aks_cluster import AksCluster
from components.app_namespaces import AppNamespaces
from components.app_tenancy import AppTenancy
from components.base import PlatformBase, platform_tags
from components.egress_gateway import EgressGateway
from components.etcd_encryption import EtcdEncryption
from components.ingress_gateway import IngressGateway
from components.istio_mesh import IstioMesh
from components.key_vault import KeyVault
from components.mesh_ca import MeshCa
from components.mesh_names import ROOT_NAMESPACE
from components.sealing_key import SealingKey
from program import apps, cluster, foundation, mesh
from program.upstream import Foundation, Mesh
from stack_config import PlatformConfig, load_config
from tools.mocks import SUBSCRIPTION_ID, TENANT_ID

KEY_OWNER_STACK = "contoso/platform/nonprod-keys"  # the non-prod sealing key's owner (sealedSecrets.sharedKeyStack)
RESOURCE_GROUP = "rg-plat"
WORKSPACE_ID = (
    f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/{RESOURCE_GROUP}/providers/"
    "Microsoft.OperationalInsights/workspaces/law"
)
CLUSTER_PRINCIPAL = "0f6a3c1e-2b4d-4e5f-8a9b-0c1d2e3f4a5b"
ADDON_CLIENT_ID = "5e4d3c2b-1a09-4f8e-9d7c-6b5a4f3e2d1c"
CLUSTER_ID = (
    f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/{RESOURCE_GROUP}/providers/"
    "Microsoft.ContainerService/managedClusters/plat-dev-aks"
)


# --------------------------------------------------------------------------- stand-ins for upstream components


@dataclass(frozen=True)
class StandInFoundation:
    """A ``PlatformBase`` without a network: the resource group, the workspace and the stack's tags."""

    resource_group_name: str
    tags: Mapping[str, str]
    log_analytics_workspace_id: str = WORKSPACE_ID
    node_subnet_id: str | None = None
    ingress_ip_resource_group_name: str | None = None


@dataclass(frozen=True)
class StandInVault:
    """A ``KeyVault``, by name and ID."""

    vault_name: str
    vault_id: str


@dataclass(frozen=True)
class StandInCluster:
    """An ``AksCluster``'s identities; no add-on object ID unless a test gives one."""

    cluster_id: str = CLUSTER_ID
    identity_principal_id: str = CLUSTER_PRINCIPAL
    tenant_id: str | None = TENANT_ID
    secrets_provider_client_id: str | None = ADDON_CLIENT_ID
    secrets_provider_object_id: str | None = None


@dataclass(frozen=True)
class StandInMesh:
    """An ``IstioMesh`` installed from the stack's ``istio`` section, with nothing to wait for."""

    default_tag: str
    revisions: tuple[str, ...]
    trust_domain: str
    root_namespace: str = ROOT_NAMESPACE
    ready: Sequence[pulumi.Resource] = field(default_factory=tuple)


def stand_in_base(cfg: PlatformConfig, resource_group_name: str = RESOURCE_GROUP) -> Foundation:
    return StandInFoundation(resource_group_name=resource_group_name, tags=platform_tags(cfg.tags, cfg.environment))


def stand_in_mesh(cfg: PlatformConfig) -> Mesh:
    return StandInMesh(cfg.istio.default_tag, cfg.istio.revision_names, cfg.istio.trust_domain)


def in_cluster() -> pulumi.ResourceOptions:
    """A (mocked) Kubernetes provider, as ``__main__.py`` passes the cluster's to every in-cluster component."""
    return pulumi.ResourceOptions(providers=[k8s.Provider("k8s", kubeconfig="<mock kubeconfig>")])


def export_attributes(component: pulumi.ComponentResource, prefix: str, *attributes: str) -> None:
    """Stack outputs ``<prefix>.<attribute>`` of a component's attributes, for tests to read resolved."""
    for attribute in attributes:
        pulumi.export(f"{prefix}.{attribute}", getattr(component, attribute))


# --------------------------------------------------------------------------- components, wired by program/


def platform_base(cfg: PlatformConfig, name: str = "core", **changes: Any) -> PlatformBase:
    """The foundation as the program builds it, without the check against the stack's previous settings."""
    return PlatformBase(name, replace(foundation.platform_base_args(cfg, settings_checked=None), **changes))


def aks_cluster(cfg: PlatformConfig, name: str = "aks", base: PlatformBase | None = None, **changes: Any) -> AksCluster:
    """The cluster in ``base`` (resource group, workspace, node subnet, tags) or in stand-ins without one."""
    args = cluster.aks_cluster_args(cfg, base or stand_in_base(cfg), depends_on=[], kms=None)
    return AksCluster(name, replace(args, **changes))


def key_vault(cfg: PlatformConfig, name: str = "kv", **changes: Any) -> KeyVault:
    return KeyVault(name, replace(foundation.key_vault_args(cfg, stand_in_base(cfg)), **changes))


def _in_vault(vault: KeyVault | None) -> tuple[pulumi.Input[str], list[pulumi.Resource]]:
    """Where key material is written: ``vault`` once its writer role exists, or a vault named ``plat-kv``."""
    return (vault.vault_name, [vault.writer_role_assignment]) if vault else ("plat-kv", [])


def sealing_key(
    cfg: PlatformConfig, vault: KeyVault | None = None, name: str = "sealing", **changes: Any
) -> SealingKey:
    """The key(s) in ``vault`` (waiting for its writer role), or in a vault named ``plat-kv`` without one."""
    args = foundation.sealing_key_args(cfg, stand_in_base(cfg), *_in_vault(vault))
    return SealingKey(name, replace(args, **changes))


def etcd_encryption(cfg: PlatformConfig, vault: KeyVault, **changes: Any) -> EtcdEncryption:
    """The KMS key in ``vault`` and the control-plane identity allowed to use it."""
    args = cluster.etcd_encryption_args(cfg, stand_in_base(cfg), vault, depends_on=[])
    return EtcdEncryption("etcd-kms", replace(args, **changes))


def mesh_ca(cfg: PlatformConfig, vault: KeyVault | None = None, name: str = "mesh-ca", **changes: Any) -> MeshCa:
    """The mesh CA with its root in ``vault`` (owner, dedicated), or reading the owner stack (sharedReference)."""
    args = foundation.mesh_ca_args(cfg, stand_in_base(cfg), *_in_vault(vault))
    return MeshCa(name, replace(args, **changes))


def istio_mesh(cfg: PlatformConfig, opts: pulumi.ResourceOptions, **changes: Any) -> IstioMesh:
    return IstioMesh("mesh", replace(mesh.istio_mesh_args(cfg, plugin_ca=None), **changes), opts=opts)


def app_namespaces(cfg: PlatformConfig, istio: IstioMesh, opts: pulumi.ResourceOptions) -> AppNamespaces:
    return AppNamespaces("apps", apps.app_namespaces_args(cfg, istio), opts=opts)


def app_tenancy(cfg: PlatformConfig, namespaces: AppNamespaces, opts: pulumi.ResourceOptions) -> AppTenancy:
    return AppTenancy("tenancy", apps.app_tenancy_args(cfg, CLUSTER_ID, namespaces), opts=opts)


def ingress_gateway(cfg: PlatformConfig, opts: pulumi.ResourceOptions, **changes: Any) -> IngressGateway:
    """The ingress edge with its certificate in ``plat-<env>-kv`` (Key Vault source) unless changed."""
    env = cfg.environment
    vault = StandInVault(
        vault_name=f"plat-{env}-kv",
        vault_id=f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/plat-{env}-rg/providers/Microsoft.KeyVault/vaults/"
        f"plat-{env}-kv",
    )
    base = StandInFoundation(
        resource_group_name=f"plat-{env}-rg",
        tags=platform_tags(cfg.tags, cfg.environment),
        ingress_ip_resource_group_name=f"plat-{env}-core-ingress-rg",
    )
    attached = mesh.gateway_mesh(cfg, stand_in_mesh(cfg))
    args = mesh.ingress_gateway_args(cfg, base, StandInCluster(), vault, attached, firewall=None)
    return IngressGateway("ingress", replace(args, **changes), opts=opts)


def egress_gateway(cfg: PlatformConfig, opts: pulumi.ResourceOptions, **changes: Any) -> EgressGateway:
    args = mesh.egress_gateway_args(cfg, mesh.gateway_mesh(cfg, stand_in_mesh(cfg)))
    return EgressGateway("egress", replace(args, **changes), opts=opts)


def mesh_and_app_namespaces() -> None:
    """A program: IstioMesh and AppNamespaces from the stack's config, wired as in ``__main__.py``."""
    cfg = load_config()
    opts = in_cluster()
    app_namespaces(cfg, istio_mesh(cfg, opts), opts)


def tenancy() -> None:
    """A program: the mesh, the app namespaces and their teams' tenancy, wired as in ``__main__.py``."""
    cfg = load_config()
    opts = in_cluster()
    app_tenancy(cfg, app_namespaces(cfg, istio_mesh(cfg, opts), opts), opts)
