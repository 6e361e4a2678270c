"""Network resources several components create the same way: a subnet behind its NSG, a static public IP.

Every subnet the platform creates for workloads or endpoints sits behind a network security group and has
no implicit internet egress (``defaultOutboundAccess: false``): the firewall or the cluster's load balancer
is the only way out. Every public address is a Standard, static IPv4 address that outlives its consumer.
The rules of those NSGs are in :mod:`components.subnet_nsg`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pulumi
from pulumi_azure_native import network

from components.azure_placement import AzurePlacement


def subnet_behind_nsg(
    name: str,
    azure_prefix: str,
    subnet_name: str,
    rules: Sequence[network.SecurityRuleArgs],
    *,
    address_prefix: pulumi.Input[str] | None,
    virtual_network_name: pulumi.Input[str] | None,
    resource_group_name: pulumi.Input[str],
    location: str,
    tags: Mapping[str, str],
    route_table: network.RouteTable | None = None,
    service_endpoints: Sequence[str] = (),
    private_endpoint_network_policies: network.VirtualNetworkPrivateEndpointNetworkPolicies | None = None,
    delegations: Sequence[network.DelegationArgs] = (),
    depends_on: Sequence[pulumi.Resource] = (),
    opts: pulumi.ResourceOptions,
) -> network.Subnet:
    """``<name>-subnet`` (``subnet_name``) behind ``<name>-nsg`` (``<azure_prefix>-nsg``, these rules).

    The subnet is a standalone resource: with network API >= 2023-09-01 a VNet update that omits ``subnets``
    keeps them, so the VNet and its subnets never fight over the subnet list. ``depends_on`` holds the subnet
    only (earlier subnets of the VNet: one subnet write at a time).
    """
    nsg = network.NetworkSecurityGroup(
        f"{name}-nsg",
        network_security_group_name=f"{azure_prefix}-nsg",
        resource_group_name=resource_group_name,
        location=location,
        security_rules=list(rules),
        tags=tags,
        opts=opts,
    )
    return network.Subnet(
        f"{name}-subnet",
        subnet_name=subnet_name,
        virtual_network_name=virtual_network_name,
        resource_group_name=resource_group_name,
        address_prefix=address_prefix,
        # No implicit internet egress: the firewall (egressFirewall) or the cluster's load balancer is the way out.
        default_outbound_access=False,
        network_security_group=network.NetworkSecurityGroupArgs(id=nsg.id),
        route_table=network.RouteTableArgs(id=route_table.id) if route_table is not None else None,
        service_endpoints=[network.ServiceEndpointPropertiesFormatArgs(service=s) for s in service_endpoints] or None,
        private_endpoint_network_policies=private_endpoint_network_policies,
        delegations=list(delegations) or None,
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=list(depends_on)))
        if depends_on
        else opts,
    )


def static_public_ip(
    resource_name: str,
    ip_name: str,
    *,
    role: str,
    zones: Sequence[str],
    placement: AzurePlacement,
    opts: pulumi.ResourceOptions,
) -> network.PublicIPAddress:
    """A Standard, regional, static IPv4 address, zone-redundant over ``zones`` (none: no zone), tagged with its role,
    in ``placement``'s group and region.

    DNS records and partners' allow-lists point at it: callers protect it in prod (a deleted IP is gone for good).
    """
    return network.PublicIPAddress(
        resource_name,
        public_ip_address_name=ip_name,
        resource_group_name=placement.resource_group_name,
        location=placement.location,
        sku=network.PublicIPAddressSkuArgs(
            name=network.PublicIPAddressSkuName.STANDARD, tier=network.PublicIPAddressSkuTier.REGIONAL
        ),
        public_ip_allocation_method=network.IPAllocationMethod.STATIC,
        public_ip_address_version=network.IPVersion.I_PV4,
        zones=list(zones) or None,
        tags={**placement.tags, "platform-role": role},
        opts=opts,
    )
