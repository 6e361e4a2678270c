"""The Azure foundation: resource group, network and workspace; the vault and the keys kept in it.

The vault and the cluster do not depend on each other (without KMS): nothing here waits for the cluster.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi

from components.api_server_subnet import ApiServerSubnet
from components.azure_placement import AzurePlacement
from components.base import PlatformBase, PlatformBaseArgs
from components.key_vault import KeyVault, KeyVaultArgs
from components.mesh_ca import MeshCa, MeshCaArgs
from components.platform_outputs import ROLE_ENVIRONMENT, ROLE_KEY_OWNER
from components.private_endpoints import VaultPrivateEndpoint, VaultPrivateEndpointArgs
from components.sealing_key import SealingKey, SealingKeyArgs
from components.stack_settings import checked_stack_settings
from program.upstream import Foundation
from stack_config import NetworkConfig, PlatformConfig


def protected(cfg: PlatformConfig) -> bool:
    """Prod, and the non-prod key owner (the shared keys live only in its vault): protected from deletion."""
    return cfg.is_prod or cfg.stack_role == ROLE_KEY_OWNER


def own_firewall(network: NetworkConfig) -> bool:
    """The program builds the egress firewall (in its own VNet; an existing subnet has someone else's)."""
    return network.egress_firewall and not network.existing_subnet_id


def platform_base_args(cfg: PlatformConfig, settings_checked: pulumi.Input[str] | None) -> PlatformBaseArgs:
    """An environment gets the node network; the key owner runs no cluster and gets none."""
    network = cfg.cluster.network if cfg.stack_role == ROLE_ENVIRONMENT else None
    return PlatformBaseArgs(
        environment=cfg.environment,
        resource_prefix=cfg.resource_prefix,
        location=cfg.location,
        log_retention_days=cfg.cluster.log_retention_days,
        tags=cfg.tags,
        network=network,
        settings_checked=settings_checked,
        protect=protected(cfg),
        # Behind the program's own firewall the ingress is reached through its DNAT, with no IP of its own.
        ingress_ip_group=network is not None and not own_firewall(network),
    )


def platform_base(cfg: PlatformConfig) -> PlatformBase:
    """Resource group, workspace and (for an environment) the node network; the stack's tags, computed once."""
    # Nothing is placed before the stack's fixed settings are checked against its last update.
    return PlatformBase("core", platform_base_args(cfg, checked_stack_settings(cfg)))


def placement(cfg: PlatformConfig, base: Foundation) -> AzurePlacement:
    """Where the stack's Azure components go: the platform resource group, the stack's region, prefix and tags."""
    return AzurePlacement(
        resource_prefix=cfg.resource_prefix,
        location=cfg.location,
        resource_group_name=base.resource_group_name,
        tags=base.tags,
    )


@dataclass(frozen=True)
class VaultAndKeys:
    """The environment's vault, its private endpoint (public access off) and the keys kept in it."""

    vault: KeyVault
    endpoint: VaultPrivateEndpoint | None
    sealing_key: SealingKey
    mesh_ca: MeshCa

    @property
    def endpoint_ready(self) -> list[pulumi.Resource]:
        """What a write into a private vault waits for: the endpoint and its DNS record (none when public)."""
        return list(self.endpoint.ready) if self.endpoint else []


def key_vault_args(cfg: PlatformConfig, base: Foundation) -> KeyVaultArgs:
    return KeyVaultArgs(
        config=cfg.key_vault,
        placement=placement(cfg, base),
        is_prod=cfg.is_prod,
        deployer_principal_type=cfg.deployer_principal_type,
        log_analytics_workspace_id=base.log_analytics_workspace_id,
        # The nodes read the ingress certificate from the vault (Key Vault CSI driver).
        network_subnet_ids=[base.node_subnet_id] if base.node_subnet_id is not None else [],
        protect=protected(cfg),
    )


def _kept_in_vault(
    cfg: PlatformConfig, base: Foundation, vault_name: pulumi.Input[str], writes_ready: Sequence[pulumi.Resource]
) -> dict[str, Any]:
    """Where key material goes: the vault, protected like it, written once the vault accepts writes."""
    return {
        "placement": placement(cfg, base),
        "vault_name": vault_name,
        "protect": protected(cfg),
        "depends_on": writes_ready,
    }


def sealing_key_args(
    cfg: PlatformConfig, base: Foundation, vault_name: pulumi.Input[str], writes_ready: Sequence[pulumi.Resource]
) -> SealingKeyArgs:
    return SealingKeyArgs(config=cfg.sealed_secrets, **_kept_in_vault(cfg, base, vault_name, writes_ready))


def mesh_ca_args(
    cfg: PlatformConfig, base: Foundation, vault_name: pulumi.Input[str], writes_ready: Sequence[pulumi.Resource]
) -> MeshCaArgs:
    return MeshCaArgs(
        config=cfg.mesh_ca, environment=cfg.environment, **_kept_in_vault(cfg, base, vault_name, writes_ready)
    )


def vault_and_keys(cfg: PlatformConfig, base: PlatformBase) -> VaultAndKeys:
    """The vault (private endpoint when public access is off), the sealing key(s) and the mesh CA in it."""
    vault = KeyVault("vault", key_vault_args(cfg, base))
    endpoint = vault_private_endpoint(cfg, base, vault) if cfg.key_vault.public_network_access == "Disabled" else None
    # Key material is written once the deployer may write and, for a private vault, can reach it.
    writes_ready = [vault.writer_role_assignment, *(endpoint.ready if endpoint else [])]
    return VaultAndKeys(
        vault=vault,
        endpoint=endpoint,
        sealing_key=SealingKey("sealing-key", sealing_key_args(cfg, base, vault.vault_name, writes_ready)),
        mesh_ca=MeshCa("mesh-ca", mesh_ca_args(cfg, base, vault.vault_name, writes_ready)),
    )


def vault_private_endpoint(cfg: PlatformConfig, base: PlatformBase, vault: KeyVault) -> VaultPrivateEndpoint:
    """The vault's only way in when public access is off: a private endpoint in the cluster VNet."""
    net = cfg.cluster.network
    existing = net.existing_subnet_id
    vnet_id = existing.rsplit("/subnets/", 1)[0] if existing else base.vnet_id
    assert vnet_id is not None  # config validation: a private vault needs an environment stack's network
    return VaultPrivateEndpoint(
        "vault-pe",
        VaultPrivateEndpointArgs(
            placement=placement(cfg, base),
            vault_id=vault.vault_id,
            virtual_network_id=vnet_id,
            virtual_network_name=base.vnet_name,
            subnet_cidr=None if existing else net.private_endpoint_subnet_cidr,
            existing_subnet_id=existing,
            linked_vnet_ids=[net.runner_vnet_id] if net.runner_vnet_id else [],
            depends_on=earlier_subnets(base),
        ),
    )


def earlier_subnets(
    base: PlatformBase, endpoint: VaultPrivateEndpoint | None = None, api_server: ApiServerSubnet | None = None
) -> list[pulumi.Resource]:
    """What the program's next subnet in the cluster VNet waits for: those it made there before, in their order.

    Azure refuses concurrent subnet writes on one VNet, so the subnets are created one after another: the
    nodes', the vault private endpoint's, the API server's, then the firewall's. Each names what exists so far.
    """
    made = (base.node_subnet, endpoint.subnet if endpoint else None, api_server.subnet if api_server else None)
    return [subnet for subnet in made if subnet is not None]
