"""Azure Firewall on the nodes' outbound path: one allow-list for the mesh and the network, deny and log the rest.

What it builds (docs/network.md):

- the ``AzureFirewallSubnet`` (the name Azure requires) and ``cluster.network.firewallPublicIps`` Standard, static,
  zone-redundant public IPs: the first is the ingress DNAT address and an egress address, the others are egress
  (SNAT) addresses only, so that outbound connections do not run out of SNAT ports;
- a Standard firewall policy, threat intelligence in ``Deny`` mode, with rule collection groups:
  ``ingress-dnat`` (100): the public IP's 80/443 to the ingress gateway's internal load balancer, so ingress
  comes through the firewall and its replies go back the same way (a public load balancer behind a default
  route to the firewall breaks on asymmetric routing: AKS "Limit network traffic with Azure Firewall");
  ``aks-egress`` (200): what AKS itself needs, the ``AzureKubernetesService`` FQDN tag (kept current by
  Microsoft), the hosts of the add-ons this platform enables and, for a public API server, the tunnel ports;
  ``mesh-egress`` (300): the application rule ``mesh-egress-allow-list``, generated from ``egress.hosts``,
  the same list that makes the mesh's ServiceEntries. Anything else is denied by the firewall's default;
- the firewall itself, its application/network/NAT/threat-intel logs in the workspace (``AZFWApplicationRule``
  rows with ``Action == "Deny"`` are the blocked attempts), and the default route of the node subnet's route
  table to its private address.

With CNI Overlay pod egress is SNATed to the node address, so the firewall cannot tell the egress gateway from
another pod: the two layers intersect (a host must be in both), they do not identify workloads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
from pulumi_azure_native import network

from components.azure_network import static_public_ip
from components.azure_placement import AzurePlacement
from components.diagnostic_settings import logs_to_workspace
from components.firewall_rules import (
    MESH_RULE_COLLECTION_GROUP,
    aks_egress_collections,
    ingress_dnat_collections,
    mesh_egress_collections,
)
from components.registered_outputs import register_attributes
from stack_config import EgressConfig, NetworkConfig

FIREWALL_SUBNET = "AzureFirewallSubnet"  # Azure requires exactly this name
# Resource-specific tables (AZFWApplicationRule, ...): who was denied what, and what threat intel blocked.
DIAGNOSTIC_LOG_CATEGORIES = ("AZFWApplicationRule", "AZFWNetworkRule", "AZFWNatRule", "AZFWThreatIntel")


@dataclass(frozen=True)
class EgressFirewallArgs:
    """Inputs of :class:`EgressFirewall`: the ``cluster.network`` and ``egress`` sections and the VNet it joins."""

    config: NetworkConfig
    egress: EgressConfig  # the mesh allow-list: the mesh-egress rule's target FQDNs
    placement: AzurePlacement  # names are "<prefix>-<component name>-..."
    log_analytics_workspace_id: pulumi.Input[str]
    virtual_network_name: pulumi.Input[str]  # PlatformBase.vnet_name
    route_table_name: pulumi.Input[str]  # PlatformBase.route_table_name: gets the default route
    private_cluster: bool  # a public API server also needs the node-to-control-plane tunnel ports
    is_prod: bool
    availability_zones: tuple[str, ...] = ()
    # Hosts the nodes themselves reach beyond AKS, e.g. the vault while it is public (CSI driver).
    node_fqdns: Sequence[pulumi.Input[str]] = ()
    depends_on: Sequence[pulumi.Resource] = ()  # PlatformBase.node_subnet: one subnet write per VNet at a time


class EgressFirewall(pulumi.ComponentResource):
    """``platform:network:EgressFirewall``: the firewall, its policy and rules, logs and the nodes' default route."""

    public_ip_address: pulumi.Output[str]  # the first address: ingress DNAT, and one of the egress addresses
    egress_public_ip_addresses: pulumi.Output[list[str]]  # every address egress leaves from (the first included)
    private_ip_address: pulumi.Output[str]
    allow_list: list[str]
    ready: list[pulumi.Resource]  # the cluster waits for these: no node boots before its way out exists

    def __init__(self, name: str, args: EgressFirewallArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("platform:network:EgressFirewall", name, None, opts)
        base_name = f"{args.placement.resource_prefix}-{name}"
        subnet = self._subnet(name, args)
        ips = self._public_ips(name, base_name, args)
        self.public_ip_address = ips[0].ip_address.apply(lambda ip: ip or "")
        self.egress_public_ip_addresses = pulumi.Output.all(*(ip.ip_address for ip in ips)).apply(
            lambda addresses: [a or "" for a in addresses]
        )
        policy = self._policy(name, base_name, args)
        groups = self._rule_collection_groups(name, args, policy, self.public_ip_address)
        firewall = self._firewall(name, base_name, args, policy, subnet, ips, groups)
        self.private_ip_address = firewall.ip_configurations.apply(_first_private_ip)
        logs_to_workspace(
            name,
            base_name,
            firewall.id,
            args.log_analytics_workspace_id,
            log_categories=DIAGNOSTIC_LOG_CATEGORIES,
            opts=pulumi.ResourceOptions(parent=self),
        )
        routes = self._routes(name, args, self.private_ip_address, self.public_ip_address)
        self.allow_list = list(args.egress.host_names)
        self.ready = [firewall, *groups, *routes]
        register_attributes(self, "public_ip_address", "egress_public_ip_addresses", "private_ip_address", "allow_list")

    # ---------------------------------------------------------------- the firewall and its addresses

    def _subnet(self, name: str, args: EgressFirewallArgs) -> network.Subnet:
        # Not subnet_behind_nsg: Azure manages AzureFirewallSubnet and it takes no NSG (policies/rules/network.py
        # NSG_EXEMPT_SUBNETS).
        return network.Subnet(
            f"{name}-subnet",
            subnet_name=FIREWALL_SUBNET,
            virtual_network_name=args.virtual_network_name,
            resource_group_name=args.placement.resource_group_name,
            address_prefix=args.config.firewall_subnet_cidr,
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on)),
        )

    def _public_ips(self, name: str, base_name: str, args: EgressFirewallArgs) -> list[network.PublicIPAddress]:
        """``cluster.network.firewallPublicIps`` addresses: the first one (DNAT and SNAT), then the SNAT-only ones.

        Each address gives 2,496 SNAT ports per firewall instance (Azure Firewall "Scale SNAT ports with Azure NAT
        Gateway"): one address runs out under load, 20 is what AKS recommends for production (stack_config/cluster.py).
        """
        # The ingress DNS records and partners' allow-lists point at these addresses: prod must not lose them.
        kept = pulumi.ResourceOptions(parent=self, protect=args.is_prod)
        suffixes_and_roles = [
            ("pip", "egress-firewall"),
            *((f"snat-pip-{n}", "egress-firewall-snat") for n in range(1, args.config.firewall_public_ips)),
        ]
        return [
            static_public_ip(
                f"{name}-{suffix}",
                f"{base_name}-{suffix}",
                role=role,
                zones=args.availability_zones,
                placement=args.placement,
                opts=kept,
            )
            for suffix, role in suffixes_and_roles
        ]

    def _policy(self, name: str, base_name: str, args: EgressFirewallArgs) -> network.FirewallPolicy:
        return network.FirewallPolicy(
            f"{name}-policy",
            firewall_policy_name=f"{base_name}-policy",
            resource_group_name=args.placement.resource_group_name,
            location=args.placement.location,
            sku=network.FirewallPolicySkuArgs(tier=network.FirewallPolicySkuTier.STANDARD),
            # Known-malicious addresses and domains are dropped, not merely alerted on.
            threat_intel_mode=network.AzureFirewallThreatIntelMode.DENY,
            tags=args.placement.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _firewall(
        self,
        name: str,
        base_name: str,
        args: EgressFirewallArgs,
        policy: network.FirewallPolicy,
        subnet: network.Subnet,
        ips: list[network.PublicIPAddress],
        groups: list[network.FirewallPolicyRuleCollectionGroup],
    ) -> network.AzureFirewall:
        first, *snat_only = ips
        return network.AzureFirewall(
            f"{name}-firewall",
            azure_firewall_name=f"{base_name}-fw",
            resource_group_name=args.placement.resource_group_name,
            location=args.placement.location,
            sku=network.AzureFirewallSkuArgs(
                name=network.AzureFirewallSkuName.AZF_W_V_NET, tier=network.AzureFirewallSkuTier.STANDARD
            ),
            firewall_policy=network.SubResourceArgs(id=policy.id),
            ip_configurations=[
                network.AzureFirewallIPConfigurationArgs(
                    name="ipconfig",
                    subnet=network.SubResourceArgs(id=subnet.id),
                    public_ip_address=network.SubResourceArgs(id=first.id),
                ),
                # Only the first configuration names the subnet (the Azure quickstart "azurefirewall-with-zones-
                # sandbox": `subnet: ((i == 0) ? azureFirewallSubnetJSON : json('null'))`); the others add an address.
                *(
                    network.AzureFirewallIPConfigurationArgs(
                        name=f"snat-ipconfig-{n}", public_ip_address=network.SubResourceArgs(id=ip.id)
                    )
                    for n, ip in enumerate(snat_only, start=1)
                ),
            ],
            zones=list(args.availability_zones) or None,
            tags=args.placement.tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=groups),
        )

    # ---------------------------------------------------------------- rules

    def _rule_collection_groups(
        self, name: str, args: EgressFirewallArgs, policy: network.FirewallPolicy, public_ip: pulumi.Output[str]
    ) -> list[network.FirewallPolicyRuleCollectionGroup]:
        # Azure updates one rule collection group of a policy at a time: each waits for the one before.
        groups: list[network.FirewallPolicyRuleCollectionGroup] = []
        for group_name, priority, collections in (
            ("ingress-dnat", 100, ingress_dnat_collections(args.config, public_ip)),
            ("aks-egress", 200, aks_egress_collections(args)),
            (MESH_RULE_COLLECTION_GROUP, 300, mesh_egress_collections(args.config, args.egress)),
        ):
            if not collections:
                continue
            groups.append(
                network.FirewallPolicyRuleCollectionGroup(
                    f"{name}-{group_name}",
                    rule_collection_group_name=group_name,
                    firewall_policy_name=policy.name,
                    resource_group_name=args.placement.resource_group_name,
                    priority=priority,
                    rule_collections=collections,
                    opts=pulumi.ResourceOptions(parent=self, depends_on=groups[-1:]),
                )
            )
        return groups

    def _routes(
        self, name: str, args: EgressFirewallArgs, private_ip: pulumi.Output[str], public_ip: pulumi.Output[str]
    ) -> list[network.Route]:
        child = pulumi.ResourceOptions(parent=self)
        return [
            # userDefinedRouting needs exactly this: 0.0.0.0/0 to a virtual appliance (AKS "Customize cluster
            # egress with outbound types"); AKS refuses a default route to the Internet.
            network.Route(
                f"{name}-default-route",
                route_name="default-via-firewall",
                route_table_name=args.route_table_name,
                resource_group_name=args.placement.resource_group_name,
                address_prefix="0.0.0.0/0",
                next_hop_type=network.RouteNextHopType.VIRTUAL_APPLIANCE,
                next_hop_ip_address=private_ip,
                opts=child,
            ),
            # Traffic to the firewall's own public address (the ingress DNAT) goes straight out, as in the AKS
            # firewall walkthrough's "fwinternet" route.
            network.Route(
                f"{name}-public-ip-route",
                route_name="firewall-public-ip-internet",
                route_table_name=args.route_table_name,
                resource_group_name=args.placement.resource_group_name,
                address_prefix=public_ip.apply(lambda ip: f"{ip}/32"),
                next_hop_type=network.RouteNextHopType.INTERNET,
                opts=child,
            ),
        ]


def _first_private_ip(configs: Sequence[network.outputs.AzureFirewallIPConfigurationResponse] | None) -> str:
    return (configs[0].private_ip_address or "") if configs else ""
