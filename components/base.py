"""The per-environment foundation: resource groups, node network and Log Analytics workspace.

The node subnet gets a network security group (inbound from the internet: the ingress ports only) and,
when ``cluster.network.egressFirewall`` is on, a route table that ``EgressFirewall`` fills with the default
route to the firewall: both exist before the cluster, as AKS requires for ``userDefinedRouting``.

Everything else in the stack lands in (or reports to) what this component creates. An ingress with a public
IP of its own gets a second, otherwise empty resource group for it (``ingress_ip_group``): the cluster identity
needs Network Contributor on the IP's group, and that grant must not reach the platform group with the vault
and the VNet (docs/edges.md). The non-production key-owner stack (``stackRole: sealingKeyOwner``) needs only the
resource group and the workspace (its Key Vault sends diagnostics there): it gets no network.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
from pulumi_azure_native import authorization, network, operationalinsights, resources

from components.azure_network import subnet_behind_nsg
from components.azure_roles import derived_name
from components.registered_outputs import register_attributes
from components.subnet_nsg import node_subnet_rules
from stack_config import NetworkConfig


def platform_tags(tags: Mapping[str, str], environment: str) -> dict[str, str]:
    """The tags of every taggable Azure resource: the configured ones plus environment and owner."""
    return {**tags, "environment": environment, "managedBy": "pulumi"}


@dataclass(frozen=True)
class PlatformBaseArgs:
    """Inputs of :class:`PlatformBase`.

    ``network`` is ``cluster.network`` (CIDRs or an existing subnet ID); ``None`` creates no network
    (the key-owner stack runs no cluster). ``tags`` are the stack's configured tags.
    """

    environment: str
    resource_prefix: str  # PlatformConfig.resource_prefix, e.g. "plat-dev"
    location: str
    log_retention_days: int  # cluster.logRetentionDays
    tags: Mapping[str, str] = field(default_factory=dict)
    network: NetworkConfig | None = None
    # components.stack_settings.checked_stack_settings: the resource group (and so everything in it) waits
    # for the check that namePrefix/environment/location did not change on an existing stack.
    settings_checked: pulumi.Input[str] | None = None
    # Prod and the non-prod key owner: the group holds the vault (and the cluster) and the network and
    # workspace hold its audit trail and connectivity: Pulumi refuses to delete or replace them, and an Azure
    # CanNotDelete lock stops a delete from outside Pulumi (portal, CLI, another tool) too.
    protect: bool = False
    # The ingress gateway's load balancer takes a public IP of its own (no firewall DNAT in front): that IP
    # gets its own resource group, the only scope of the cluster identity's Network Contributor grant.
    ingress_ip_group: bool = False


class PlatformBase(pulumi.ComponentResource):
    """Resource group, VNet + node subnet (or an existing subnet) and the Log Analytics workspace.

    Azure names are ``<namePrefix>-<environment>-<component name>-<kind>`` (e.g. ``plat-dev-core-rg``),
    so two instances in one subscription, or in one program, never collide. ``tags`` is computed here
    once, for every taggable Azure resource of the stack.
    """

    tags: dict[str, str]
    resource_group_name: pulumi.Output[str]
    resource_group_id: pulumi.Output[str]
    vnet_id: pulumi.Output[str] | None
    vnet_name: pulumi.Output[str] | None
    node_subnet_id: pulumi.Output[str] | None
    node_subnet: network.Subnet | None  # later subnets of the VNet wait for it (one subnet write at a time)
    route_table_name: pulumi.Output[str] | None  # egressFirewall: EgressFirewall adds the default route
    ingress_ip_resource_group_name: pulumi.Output[str] | None  # ingress_ip_group: holds the ingress IP only
    log_analytics_workspace_id: pulumi.Output[str]
    log_analytics_workspace_name: pulumi.Output[str]

    def __init__(self, name: str, args: PlatformBaseArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("platform:base:PlatformBase", name, None, opts)
        base_name = derived_name("PlatformBase", name, args.resource_prefix, 52)
        self.tags = platform_tags(args.tags, args.environment)
        self._protect = args.protect
        rg = self._resource_group(f"{name}-rg", f"{base_name}-rg", args, self.tags)
        if args.protect:
            self._lock(name, rg)
        self.resource_group_name = rg.name
        self.resource_group_id = rg.id
        self.vnet_id = None
        self.vnet_name = None
        self.node_subnet_id = None
        self.node_subnet = None
        self.route_table_name = None
        self.ingress_ip_resource_group_name = None
        if args.ingress_ip_group:
            # Tagged with its purpose: an empty-looking group that someone might otherwise tidy away.
            ip_rg = self._resource_group(
                f"{name}-ingress-rg", f"{base_name}-ingress-rg", args, {**self.tags, "platform-role": "ingress"}
            )
            self.ingress_ip_resource_group_name = ip_rg.name
        if args.network is not None and args.network.existing_subnet_id:
            # Bring-your-own network (hub-and-spoke, firewall egress): the subnet is managed elsewhere.
            self.node_subnet_id = pulumi.Output.from_input(args.network.existing_subnet_id)
        elif args.network is not None:
            self._network(name, base_name, args.network, args.location, rg)
        workspace = self._workspace(name, base_name, args, rg)
        self.log_analytics_workspace_id = workspace.id
        self.log_analytics_workspace_name = workspace.name

        register_attributes(
            self,
            "tags",
            "resource_group_name",
            "resource_group_id",
            "vnet_id",
            "vnet_name",
            "node_subnet_id",
            "route_table_name",
            "ingress_ip_resource_group_name",
            "log_analytics_workspace_id",
            "log_analytics_workspace_name",
        )

    def _child(self) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, protect=self._protect)

    def _resource_group(
        self, pulumi_name: str, rg_name: str, args: PlatformBaseArgs, tags: Mapping[str, str]
    ) -> resources.ResourceGroup:
        """A resource group that waits for the stack-settings check (nothing is placed before it passes)."""
        return resources.ResourceGroup(
            pulumi_name,
            resource_group_name=(
                pulumi.Output.from_input(args.settings_checked).apply(lambda _: rg_name)
                if args.settings_checked is not None
                else rg_name
            ),
            location=args.location,
            tags=dict(tags),
            opts=self._child(),
        )

    def _lock(self, name: str, rg: resources.ResourceGroup) -> None:
        # A CanNotDelete lock on the group covers everything in it (locks apply to child resources) against
        # any management-plane delete, Pulumi's included, until someone with Microsoft.Authorization/locks/*
        # (Owner, User Access Administrator) removes it (learn.microsoft.com, "Lock your resources to protect
        # your infrastructure"). Data-plane deletes (vault secrets) are not management-plane and still work.
        authorization.ManagementLockAtResourceGroupLevel(
            f"{name}-rg-delete-lock",
            lock_name="platform-cannot-delete",
            resource_group_name=rg.name,
            level=authorization.LockLevel.CAN_NOT_DELETE,
            notes="Holds the environment's Key Vault and sealing keys (and its cluster): deleting them loses data. "
            "Managed by Pulumi (platform); see docs/deployment.md before removing.",
            opts=self._child(),
        )

    def _network(
        self, name: str, base_name: str, net: NetworkConfig, location: str, rg: resources.ResourceGroup
    ) -> None:
        child = self._child()
        vnet = network.VirtualNetwork(
            f"{name}-vnet",
            virtual_network_name=f"{base_name}-vnet",
            resource_group_name=rg.name,
            location=location,
            address_space=network.AddressSpaceArgs(address_prefixes=[net.vnet_cidr]),
            tags=self.tags,
            opts=child,
        )
        route_table = None
        if net.egress_firewall:
            route_table = network.RouteTable(
                f"{name}-nodes-rt",
                route_table_name=f"{base_name}-nodes-rt",
                resource_group_name=rg.name,
                location=location,
                # Routes learned from a VPN/ExpressRoute gateway must not let node traffic bypass the firewall.
                disable_bgp_route_propagation=True,
                tags=self.tags,
                opts=child,
            )
            self.route_table_name = route_table.name
        subnet = subnet_behind_nsg(
            f"{name}-nodes",
            f"{base_name}-nodes",
            "nodes",
            node_subnet_rules(net),
            address_prefix=net.node_subnet_cidr,
            virtual_network_name=vnet.name,
            resource_group_name=rg.name,
            location=location,
            tags=self.tags,
            route_table=route_table,
            # The nodes reach Key Vault (the CSI driver reads the ingress certificate) through the
            # vault firewall, which admits this subnet by its service endpoint.
            service_endpoints=["Microsoft.KeyVault"],
            opts=child,
        )
        self.vnet_id = vnet.id
        self.vnet_name = vnet.name
        self.node_subnet_id = subnet.id
        self.node_subnet = subnet

    def _workspace(
        self, name: str, base_name: str, args: PlatformBaseArgs, rg: resources.ResourceGroup
    ) -> operationalinsights.Workspace:
        return operationalinsights.Workspace(
            f"{name}-law",
            workspace_name=f"{base_name}-law",
            resource_group_name=rg.name,
            location=args.location,
            sku=operationalinsights.WorkspaceSkuArgs(name=operationalinsights.WorkspaceSkuNameEnum.PER_GB2018),
            # Audit logs must outlive an incident investigation; prod keeps them longer.
            retention_in_days=args.log_retention_days,
            features=operationalinsights.WorkspaceFeaturesArgs(
                # Readers of one resource's logs see only that resource's logs, not the whole workspace.
                enable_log_access_using_only_resource_permissions=True,
            ),
            tags=self.tags,
            opts=self._child(),
        )
