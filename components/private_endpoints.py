"""The Key Vault's private endpoint: its subnet and NSG, the ``privatelink.vaultcore.azure.net`` zone and links.

With ``keyVault.publicNetworkAccess: Disabled`` (prod) the vault answers only here. The zone group writes the
endpoint's A record into the private zone, and the zone is linked to the cluster VNet (nodes, the CSI driver)
and to the CI runners' VNet (``cluster.network.runnerVnetId``), so ``<vault>.vault.azure.net`` resolves to the
private address from both. Zone name and group id: "Azure Private Endpoint private DNS zone values"
(Key Vault: ``vault``, ``privatelink.vaultcore.azure.net``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
from pulumi_azure_native import network, privatedns

from components.azure_network import subnet_behind_nsg
from components.azure_placement import AzurePlacement
from components.registered_outputs import register_attributes
from components.subnet_nsg import private_endpoint_subnet_rules

VAULT_PRIVATE_DNS_ZONE = "privatelink.vaultcore.azure.net"
VAULT_GROUP_ID = "vault"


@dataclass(frozen=True)
class VaultPrivateEndpointArgs:
    """Inputs of :class:`VaultPrivateEndpoint`.

    Either ``subnet_cidr`` (a subnet the component creates in ``virtual_network_name``, with its NSG) or
    ``existing_subnet_id`` (``cluster.network.existingSubnetId``: the endpoint goes into that subnet).
    """

    placement: AzurePlacement
    vault_id: pulumi.Input[str]
    virtual_network_id: pulumi.Input[str]  # linked to the zone: the cluster's VNet
    virtual_network_name: pulumi.Input[str] | None = None
    subnet_cidr: str | None = None  # cluster.network.privateEndpointSubnetCidr
    existing_subnet_id: pulumi.Input[str] | None = None
    linked_vnet_ids: Sequence[str] = ()  # cluster.network.runnerVnetId: the runners resolve the vault too
    depends_on: Sequence[pulumi.Resource] = ()  # earlier subnets of the VNet: one subnet write at a time


class VaultPrivateEndpoint(pulumi.ComponentResource):
    """``platform:network:VaultPrivateEndpoint``: the vault reachable on a private address, resolvable by name."""

    private_endpoint_id: pulumi.Output[str]
    private_dns_zone_id: pulumi.Output[str]
    subnet: network.Subnet | None  # later subnets of the VNet wait for it
    ready: list[pulumi.Resource]  # what writes to the vault wait for: the endpoint and its DNS record

    def __init__(self, name: str, args: VaultPrivateEndpointArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("platform:network:VaultPrivateEndpoint", name, None, opts)
        base_name = f"{args.placement.resource_prefix}-{name}"
        subnet_id, self.subnet = self._subnet(name, base_name, args)
        endpoint = self._endpoint(name, base_name, subnet_id, args)
        zone, links = self._private_dns_zone(name, base_name, args)
        # The endpoint's A record in the zone: what makes <vault>.vault.azure.net resolve to the private address.
        zone_group = network.PrivateDnsZoneGroup(
            f"{name}-zone-group",
            private_dns_zone_group_name="default",
            private_endpoint_name=endpoint.name,
            resource_group_name=args.placement.resource_group_name,
            private_dns_zone_configs=[
                network.PrivateDnsZoneConfigArgs(name=VAULT_GROUP_ID, private_dns_zone_id=zone.id)
            ],
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.private_endpoint_id = endpoint.id
        self.private_dns_zone_id = zone.id
        self.ready = [endpoint, zone_group, *links]
        register_attributes(self, "private_endpoint_id", "private_dns_zone_id")

    def _endpoint(
        self, name: str, base_name: str, subnet_id: pulumi.Input[str], args: VaultPrivateEndpointArgs
    ) -> network.PrivateEndpoint:
        return network.PrivateEndpoint(
            f"{name}-endpoint",
            private_endpoint_name=f"{base_name}-pe",
            resource_group_name=args.placement.resource_group_name,
            location=args.placement.location,
            subnet=network.SubnetArgs(id=subnet_id),
            private_link_service_connections=[
                network.PrivateLinkServiceConnectionArgs(
                    name=f"{base_name}-vault",
                    private_link_service_id=args.vault_id,
                    group_ids=[VAULT_GROUP_ID],
                )
            ],
            tags=args.placement.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _private_dns_zone(
        self, name: str, base_name: str, args: VaultPrivateEndpointArgs
    ) -> tuple[privatedns.PrivateZone, list[privatedns.VirtualNetworkLink]]:
        """The privatelink zone and its links to the cluster VNet and the runners' VNets, which resolve through it."""
        child = pulumi.ResourceOptions(parent=self)
        zone = privatedns.PrivateZone(
            f"{name}-zone",
            private_zone_name=VAULT_PRIVATE_DNS_ZONE,
            resource_group_name=args.placement.resource_group_name,
            location="global",
            tags=args.placement.tags,
            opts=child,
        )
        links = [
            privatedns.VirtualNetworkLink(
                f"{name}-link-{label}",
                virtual_network_link_name=f"{base_name}-{label}",
                private_zone_name=zone.name,
                resource_group_name=args.placement.resource_group_name,
                location="global",
                virtual_network=privatedns.SubResourceArgs(id=vnet_id),
                # Resolution only: no VM registers its own name in a privatelink zone.
                registration_enabled=False,
                tags=args.placement.tags,
                opts=child,
            )
            for label, vnet_id in (
                ("cluster-vnet", args.virtual_network_id),
                *((f"runner-vnet-{i}", v) for i, v in enumerate(args.linked_vnet_ids)),
            )
        ]
        return zone, links

    def _subnet(
        self, name: str, base_name: str, args: VaultPrivateEndpointArgs
    ) -> tuple[pulumi.Input[str], network.Subnet | None]:
        if args.existing_subnet_id is not None:
            return args.existing_subnet_id, None
        subnet = subnet_behind_nsg(
            name,
            base_name,
            "private-endpoints",
            private_endpoint_subnet_rules(),
            address_prefix=args.subnet_cidr,
            virtual_network_name=args.virtual_network_name,
            resource_group_name=args.placement.resource_group_name,
            location=args.placement.location,
            tags=args.placement.tags,
            # Without this, NSG rules do not apply to the private endpoints of the subnet.
            private_endpoint_network_policies=network.VirtualNetworkPrivateEndpointNetworkPolicies.NETWORK_SECURITY_GROUP_ENABLED,
            depends_on=args.depends_on,
            opts=pulumi.ResourceOptions(parent=self),
        )
        return subnet.id, subnet
