"""The per-environment foundation: resource group, node network and Log Analytics workspace.

Everything else in the stack lands in (or reports to) what this component creates. The
non-production key-owner stack (``stackRole: sealingKeyOwner``) needs only the resource group
and the workspace (its Key Vault sends diagnostics there): it gets no network.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

import pulumi
from pulumi_azure_native import network, operationalinsights, resources

from stack_config import PlatformConfig

_AZURE_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,50}[a-z0-9]$")


@dataclass(frozen=True)
class PlatformBaseArgs:
    """Inputs of :class:`PlatformBase`.

    ``config`` is the validated stack config: location, tags, ``cluster.network`` (CIDRs or an
    existing subnet ID) and ``cluster.log_retention_days`` are read from it. ``with_network``
    defaults to "only when the stack runs an environment" (no VNet for the key-owner stack).
    """

    config: PlatformConfig
    with_network: Optional[bool] = None


class PlatformBase(pulumi.ComponentResource):
    """Resource group, VNet + node subnet (or an existing subnet) and the Log Analytics workspace.

    Azure names are ``<namePrefix>-<environment>-<component name>-<kind>`` (e.g. ``plat-dev-core-rg``),
    so two instances in one subscription, or in one program, never collide.
    """

    resource_group_name: pulumi.Output[str]
    resource_group_id: pulumi.Output[str]
    vnet_id: Optional[pulumi.Output[str]]
    node_subnet_id: Optional[pulumi.Output[str]]
    log_analytics_workspace_id: pulumi.Output[str]

    def __init__(self, name: str, args: PlatformBaseArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("platform:base:PlatformBase", name, None, opts)
        cfg = args.config
        net = cfg.cluster.network
        base_name = f"{cfg.resource_prefix}-{name}"
        if not _AZURE_NAME.match(base_name):
            raise ValueError(
                f"PlatformBase name {name!r}: Azure names derived from it ({base_name!r}) must be 2-52 lowercase "
                "letters, digits or '-'"
            )
        tags = {**cfg.tags, "environment": cfg.environment, "managedBy": "pulumi"}
        child = pulumi.ResourceOptions(parent=self)
        with_network = args.with_network if args.with_network is not None else cfg.stack_role == "environment"

        rg = resources.ResourceGroup(
            f"{name}-rg",
            resource_group_name=f"{base_name}-rg",
            location=cfg.location,
            tags=tags,
            opts=child,
        )
        self.resource_group_name = rg.name
        self.resource_group_id = rg.id

        self.vnet_id = None
        self.node_subnet_id = None
        if with_network and net.existing_subnet_id:
            # Bring-your-own network (hub-and-spoke, firewall egress): the subnet is managed elsewhere.
            self.node_subnet_id = pulumi.Output.from_input(net.existing_subnet_id)
        elif with_network:
            vnet = network.VirtualNetwork(
                f"{name}-vnet",
                virtual_network_name=f"{base_name}-vnet",
                resource_group_name=rg.name,
                location=cfg.location,
                address_space=network.AddressSpaceArgs(address_prefixes=[net.vnet_cidr]),
                tags=tags,
                opts=child,
            )
            # A standalone Subnet resource: with network API >= 2023-09-01 a VNet update that omits
            # `subnets` keeps them, so the two resources never fight over the subnet list.
            subnet = network.Subnet(
                f"{name}-nodes-subnet",
                subnet_name="nodes",
                virtual_network_name=vnet.name,
                resource_group_name=rg.name,
                address_prefix=net.node_subnet_cidr,
                # No implicit internet egress for nodes: the cluster's load balancer is the way out.
                default_outbound_access=False,
                # The nodes reach Key Vault (the CSI driver reads the ingress certificate) through the
                # vault firewall, which admits this subnet by its service endpoint.
                service_endpoints=[network.ServiceEndpointPropertiesFormatArgs(service="Microsoft.KeyVault")],
                opts=child,
            )
            self.vnet_id = vnet.id
            self.node_subnet_id = subnet.id

        workspace = operationalinsights.Workspace(
            f"{name}-law",
            workspace_name=f"{base_name}-law",
            resource_group_name=rg.name,
            location=cfg.location,
            sku=operationalinsights.WorkspaceSkuArgs(name=operationalinsights.WorkspaceSkuNameEnum.PER_GB2018),
            # Audit logs must outlive an incident investigation; prod keeps them longer.
            retention_in_days=cfg.cluster.log_retention_days,
            features=operationalinsights.WorkspaceFeaturesArgs(
                # Readers of one resource's logs see only that resource's logs, not the whole workspace.
                enable_log_access_using_only_resource_permissions=True,
            ),
            tags=tags,
            opts=child,
        )
        self.log_analytics_workspace_id = workspace.id

        self.register_outputs(
            {
                "resource_group_name": self.resource_group_name,
                "resource_group_id": self.resource_group_id,
                "vnet_id": self.vnet_id,
                "node_subnet_id": self.node_subnet_id,
                "log_analytics_workspace_id": self.log_analytics_workspace_id,
            }
        )
