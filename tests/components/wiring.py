"""Components built from a stack's validated config the way ``__main__.py`` wires them.

A component test builds what it needs in a line or two and changes only the argument it is about:

    def build() -> None:
        cfg = load_config()
        wiring.ingress_gateway(cfg, wiring.in_cluster(), key_vault_id=VAULT_ID)

Platform-side inputs that come from other components in the real program (resource group,
workspace, identities) get fixed, realistic stand-ins here; keyword arguments replace
any field of the component's ``*Args``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.aks_cluster import AksCluster, AksClusterArgs
from components.app_namespaces import AppNamespaces, AppNamespacesArgs
from components.app_tenancy import AppTenancy, AppTenancyArgs
from components.base import PlatformBase, PlatformBaseArgs, platform_tags
from components.egress_gateway import EgressGateway, EgressGatewayArgs
from components.etcd_encryption import EtcdEncryption, EtcdEncryptionArgs
from components.ingress_gateway import IngressGateway, IngressGatewayArgs
from components.istio_mesh import IstioMesh, IstioMeshArgs
from components.key_vault import KeyVault, KeyVaultArgs
from components.mesh_ca import MeshCa, MeshCaArgs
from components.sealing_key import SealingKey, SealingKeyArgs
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


def in_cluster() -> pulumi.ResourceOptions:
    """A (mocked) Kubernetes provider, as ``__main__.py`` passes the cluster's to every in-cluster component."""
    return pulumi.ResourceOptions(providers=[k8s.Provider("k8s", kubeconfig="<mock kubeconfig>")])


def export_attributes(component: pulumi.ComponentResource, prefix: str, *attributes: str) -> None:
    """Stack outputs ``<prefix>.<attribute>`` of a component's attributes, for tests to read resolved."""
    for attribute in attributes:
        pulumi.export(f"{prefix}.{attribute}", getattr(component, attribute))


def platform_base(cfg: PlatformConfig, name: str = "core", **changes: Any) -> PlatformBase:
    args = PlatformBaseArgs(
        environment=cfg.environment,
        resource_prefix=cfg.resource_prefix,
        location=cfg.location,
        log_retention_days=cfg.cluster.log_retention_days,
        tags=cfg.tags,
        network=cfg.cluster.network if cfg.stack_role == "environment" else None,
    )
    return PlatformBase(name, replace(args, **changes))


def aks_cluster(cfg: PlatformConfig, name: str = "aks", base: PlatformBase | None = None, **changes: Any) -> AksCluster:
    """The cluster in ``base`` (resource group, workspace, node subnet, tags) or in stand-ins without one."""
    args = AksClusterArgs(
        config=cfg.cluster,
        resource_prefix=cfg.resource_prefix,
        location=cfg.location,
        is_prod=cfg.is_prod,
        resource_group_name=base.resource_group_name if base else RESOURCE_GROUP,
        log_analytics_workspace_id=base.log_analytics_workspace_id if base else WORKSPACE_ID,
        tags=base.tags if base else platform_tags(cfg.tags, cfg.environment),
        node_subnet_id=base.node_subnet_id if base else None,
        audit_reads=cfg.observability.audit_reads,
    )
    return AksCluster(name, replace(args, **changes))


def key_vault(cfg: PlatformConfig, name: str = "kv", **changes: Any) -> KeyVault:
    args = KeyVaultArgs(
        config=cfg.key_vault,
        resource_prefix=cfg.resource_prefix,
        location=cfg.location,
        is_prod=cfg.is_prod,
        deployer_principal_type=cfg.deployer_principal_type,
        resource_group_name=RESOURCE_GROUP,
        log_analytics_workspace_id=WORKSPACE_ID,
        protect=cfg.is_prod or cfg.stack_role == "sealingKeyOwner",
        tags=platform_tags(cfg.tags, cfg.environment),
    )
    return KeyVault(name, replace(args, **changes))


def sealing_key(
    cfg: PlatformConfig, vault: KeyVault | None = None, name: str = "sealing", **changes: Any
) -> SealingKey:
    """The key(s) in ``vault`` (waiting for its writer role), or in a vault named ``plat-kv`` without one."""
    args = SealingKeyArgs(
        config=cfg.sealed_secrets,
        resource_prefix=cfg.resource_prefix,
        resource_group_name=RESOURCE_GROUP,
        vault_name=vault.vault_name if vault else "plat-kv",
        protect=cfg.is_prod or cfg.stack_role == "sealingKeyOwner",
        tags=platform_tags(cfg.tags, cfg.environment),
        depends_on=[vault.writer_role_assignment] if vault else [],
    )
    return SealingKey(name, replace(args, **changes))


def etcd_encryption(cfg: PlatformConfig, vault: KeyVault, **changes: Any) -> EtcdEncryption:
    """The KMS key in ``vault`` and the control-plane identity allowed to use it."""
    args = EtcdEncryptionArgs(
        resource_prefix=cfg.resource_prefix,
        location=cfg.location,
        resource_group_name=RESOURCE_GROUP,
        vault_name=vault.vault_name,
        vault_id=vault.vault_id,
        premium_vault=cfg.key_vault.sku == "premium",
        tags=platform_tags(cfg.tags, cfg.environment),
    )
    return EtcdEncryption("etcd-kms", replace(args, **changes))


def mesh_ca(cfg: PlatformConfig, vault: KeyVault | None = None, name: str = "mesh-ca", **changes: Any) -> MeshCa:
    """The mesh CA with its root in ``vault`` (owner, dedicated), or reading the owner stack (sharedReference)."""
    args = MeshCaArgs(
        config=cfg.mesh_ca,
        environment=cfg.environment,
        resource_prefix=cfg.resource_prefix,
        resource_group_name=RESOURCE_GROUP,
        vault_name=vault.vault_name if vault else "plat-kv",
        protect=cfg.is_prod or cfg.stack_role == "sealingKeyOwner",
        tags=platform_tags(cfg.tags, cfg.environment),
        depends_on=[vault.writer_role_assignment] if vault else [],
    )
    return MeshCa(name, replace(args, **changes))


def istio_mesh(cfg: PlatformConfig, opts: pulumi.ResourceOptions, **changes: Any) -> IstioMesh:
    args = IstioMeshArgs(
        config=cfg.istio,
        is_prod=cfg.is_prod,
        gateway_namespaces=(cfg.ingress.namespace, cfg.egress.namespace),
    )
    return IstioMesh("mesh", replace(args, **changes), opts=opts)


def app_namespaces(cfg: PlatformConfig, mesh: IstioMesh, opts: pulumi.ResourceOptions) -> AppNamespaces:
    args = AppNamespacesArgs(
        config=cfg.app_namespaces,
        default_tag=mesh.default_tag,
        istiod_revisions=mesh.revisions,
        trust_domain=mesh.trust_domain,
        ingress_namespace=cfg.ingress.namespace,
        egress_namespace=cfg.egress.namespace,
        depends_on=mesh.ready,
        istiod_namespace=mesh.root_namespace,
        mtls_exception_namespaces=frozenset(e.namespace for e in cfg.istio.mtls_exceptions),
    )
    return AppNamespaces("apps", args, opts=opts)


def app_tenancy(cfg: PlatformConfig, namespaces: AppNamespaces, opts: pulumi.ResourceOptions) -> AppTenancy:
    args = AppTenancyArgs(config=cfg.app_namespaces, cluster_id=CLUSTER_ID, namespaces=namespaces.namespaces)
    return AppTenancy("tenancy", args, opts=opts)


def ingress_gateway(cfg: PlatformConfig, opts: pulumi.ResourceOptions, **changes: Any) -> IngressGateway:
    """The ingress edge with its certificate in ``plat-<env>-kv`` (Key Vault source) unless changed."""
    args = IngressGatewayArgs(
        config=cfg.ingress,
        istio_version=cfg.istio.tag_version(cfg.istio.default_tag),
        revision_tag=cfg.istio.default_tag,
        istiod_revisions=cfg.istio.revision_names,
        resource_prefix=cfg.resource_prefix,
        location=cfg.location,
        is_prod=cfg.is_prod,
        cluster_identity_principal_id=CLUSTER_PRINCIPAL,
        tags=platform_tags(cfg.tags, cfg.environment),
        availability_zones=cfg.cluster.user_pool.availability_zones,
        app_namespaces=cfg.app_namespaces,
        key_vault_name=f"plat-{cfg.environment}-kv",
        tenant_id=TENANT_ID,
        secrets_provider_client_id=ADDON_CLIENT_ID,
        ip_resource_group_name=f"plat-{cfg.environment}-core-ingress-rg",
    )
    return IngressGateway("ingress", replace(args, **changes), opts=opts)


def egress_gateway(cfg: PlatformConfig, opts: pulumi.ResourceOptions, **changes: Any) -> EgressGateway:
    args = EgressGatewayArgs(
        config=cfg.egress,
        istio_version=cfg.istio.tag_version(cfg.istio.default_tag),
        revision_tag=cfg.istio.default_tag,
        istiod_revisions=cfg.istio.revision_names,
        is_prod=cfg.is_prod,
        app_namespaces=cfg.app_namespaces,
    )
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
