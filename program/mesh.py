"""What runs in the cluster first: the sealed-secrets controller with the platform's keys, Istio and its edges.

Everything here is created through the cluster's Kubernetes provider (``in_cluster``).
"""

from __future__ import annotations

from dataclasses import replace

import pulumi

from components.azure_placement import AzurePlacement
from components.egress_firewall import EgressFirewall
from components.egress_gateway import EgressGateway, EgressGatewayArgs
from components.gateway_release import GatewayMesh
from components.ingress_gateway import IngressGateway, IngressGatewayArgs
from components.istio_mesh import IstioMesh, IstioMeshArgs
from components.key_material import PluginCa
from components.sealed_secrets import SealedSecrets, SealedSecretsArgs
from program.foundation import VaultAndKeys, placement
from program.upstream import ClusterIdentities, Foundation, Mesh, Vault
from stack_config import PlatformConfig


def sealed_secrets(cfg: PlatformConfig, keys: VaultAndKeys, in_cluster: pulumi.ResourceOptions) -> SealedSecrets:
    """The controller, given the platform's key(s) before it starts (it would otherwise make its own)."""
    return SealedSecrets(
        "sealed-secrets",
        SealedSecretsArgs(config=cfg.sealed_secrets, keys=keys.sealing_key.key_pairs),
        opts=in_cluster,
    )


def istio_mesh_args(cfg: PlatformConfig, plugin_ca: PluginCa | None) -> IstioMeshArgs:
    return IstioMeshArgs(
        config=cfg.istio,
        is_prod=cfg.is_prod,
        gateway_namespaces=(cfg.ingress.namespace, cfg.egress.namespace),
        plugin_ca=plugin_ca,
    )


def istio_mesh(cfg: PlatformConfig, keys: VaultAndKeys, in_cluster: pulumi.ResourceOptions) -> IstioMesh:
    """Istio with the cluster's intermediate CA from the mesh CA (the root stays outside the cluster)."""
    return IstioMesh("mesh", istio_mesh_args(cfg, keys.mesh_ca.plugin_ca), opts=in_cluster)


def gateway_mesh(cfg: PlatformConfig, mesh: Mesh) -> GatewayMesh:
    """What both edges take from the mesh: the chart of the default tag's Istio release, injected through that
    tag, talking to every installed istiod, created once the mesh is ready."""
    return GatewayMesh(
        istio_version=cfg.istio.tag_version(mesh.default_tag),
        revision_tag=mesh.default_tag,
        istiod_revisions=mesh.revisions,
        depends_on=mesh.ready,
        istiod_namespace=mesh.root_namespace,
    )


def ingress_ip_placement(cfg: PlatformConfig, base: Foundation) -> AzurePlacement | None:
    """The stack's placement in the ingress IP's own resource group; none without one (behind the firewall)."""
    if base.ingress_ip_resource_group_name is None:
        return None
    return replace(placement(cfg, base), resource_group_name=base.ingress_ip_resource_group_name)


def ingress_gateway_args(
    cfg: PlatformConfig,
    base: Foundation,
    cluster: ClusterIdentities,
    vault: Vault,
    mesh: GatewayMesh,
    firewall: EgressFirewall | None,
) -> IngressGatewayArgs:
    """The public edge: its own static IP, or behind the firewall its DNAT to an internal address."""
    return IngressGatewayArgs(
        config=cfg.ingress,
        mesh=mesh,
        is_prod=cfg.is_prod,
        app_namespaces=cfg.app_namespaces,
        cluster_identity_principal_id=cluster.identity_principal_id,
        availability_zones=cfg.cluster.user_pool.availability_zones,
        key_vault_name=vault.vault_name,
        key_vault_id=vault.vault_id,
        tenant_id=cluster.tenant_id,
        secrets_provider_client_id=cluster.secrets_provider_client_id,
        secrets_provider_object_id=cluster.secrets_provider_object_id,
        internal_address=cfg.cluster.network.ingress_private_ip if firewall else None,
        firewall_public_ip=firewall.public_ip_address if firewall else None,
        placement=ingress_ip_placement(cfg, base),
    )


def egress_gateway_args(cfg: PlatformConfig, mesh: GatewayMesh) -> EgressGatewayArgs:
    """The one exit: the allow-list, for the app namespaces with ``egress: true``."""
    return EgressGatewayArgs(config=cfg.egress, mesh=mesh, is_prod=cfg.is_prod, app_namespaces=cfg.app_namespaces)


def edges(
    cfg: PlatformConfig,
    base: Foundation,
    cluster: ClusterIdentities,
    vault: Vault,
    mesh: Mesh,
    firewall: EgressFirewall | None,
    in_cluster: pulumi.ResourceOptions,
) -> tuple[IngressGateway, EgressGateway]:
    """The mesh's two edges: the public ingress and the one exit, both attached to the mesh the same way."""
    attached = gateway_mesh(cfg, mesh)
    ingress = IngressGateway(
        "ingress", ingress_gateway_args(cfg, base, cluster, vault, attached, firewall), opts=in_cluster
    )
    egress = EgressGateway("egress", egress_gateway_args(cfg, attached), opts=in_cluster)
    return ingress, egress
