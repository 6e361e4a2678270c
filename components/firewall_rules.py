"""The egress firewall policy's rule collections, as plain data (``components/egress_firewall.py`` deploys them).

- ``ingress-dnat`` (100): the first public IP's 443/80 to the ingress gateway's internal load balancer;
- ``aks-egress`` (200): what AKS itself needs: the ``AzureKubernetesService`` FQDN tag, the add-ons' hosts, Azure
  Monitor and, for a public API server, the tunnel ports;
- ``mesh-egress`` (300): the application rule ``mesh-egress-allow-list`` generated from ``egress.hosts``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pulumi
from pulumi_azure_native import network

from components.mesh_names import HTTP_PORT, HTTPS_PORT
from stack_config import EgressConfig, NetworkConfig

if TYPE_CHECKING:
    from components.egress_firewall import EgressFirewallArgs

AKS_FQDN_TAG = "AzureKubernetesService"
MESH_RULE_COLLECTION_GROUP = "mesh-egress"
MESH_RULE = "mesh-egress-allow-list"  # policies/rules/network.py compares this rule with the ServiceEntries
# Add-ons this platform enables (Azure Policy, Defender) beyond the FQDN tag; AKS "Outbound network and FQDN
# rules", sections "Azure Policy" and "Microsoft Defender for Containers".
AKS_ADDON_FQDNS = (
    "data.policy.core.windows.net",
    "store.policy.core.windows.net",
    "dc.services.visualstudio.com",
    "*.ods.opinsights.azure.com",
    "*.oms.opinsights.azure.com",
)
# Container Insights and managed Prometheus (components/observability.py) behind a firewall: AKS "Outbound network
# and FQDN rules", section "Azure Monitor - Managed Prometheus, Container Insights ...": these application rules plus
# the AzureMonitor:443 service tag, and "<cluster-region>.handler.control.monitor.azure.com" (added per location).
AZURE_MONITOR_FQDNS = (
    "*.monitoring.azure.com",
    "login.microsoftonline.com",
    "global.handler.control.monitor.azure.com",
    "*.ingest.monitor.azure.com",
    "*.metrics.ingest.monitor.azure.com",
)
AZURE_MONITOR_SERVICE_TAG = "AzureMonitor"


def _https() -> network.FirewallPolicyRuleApplicationProtocolArgs:
    return network.FirewallPolicyRuleApplicationProtocolArgs(
        protocol_type=network.FirewallPolicyRuleApplicationProtocolType.HTTPS, port=HTTPS_PORT
    )


def _http() -> network.FirewallPolicyRuleApplicationProtocolArgs:
    return network.FirewallPolicyRuleApplicationProtocolArgs(
        protocol_type=network.FirewallPolicyRuleApplicationProtocolType.HTTP, port=HTTP_PORT
    )


def _application_rule(
    name: str,
    description: str,
    sources: list[str],
    protocols: list[network.FirewallPolicyRuleApplicationProtocolArgs],
    *,
    fqdns: Sequence[pulumi.Input[str]] = (),
    fqdn_tags: Sequence[str] = (),
) -> network.ApplicationRuleArgs:
    """Application rule: these sources may reach these FQDNs (or FQDN tags) over these protocols."""
    return network.ApplicationRuleArgs(
        rule_type="ApplicationRule",
        name=name,
        description=description,
        source_addresses=sources,
        protocols=protocols,
        target_fqdns=list(fqdns) or None,
        fqdn_tags=list(fqdn_tags) or None,
    )


def _allow(name: str, priority: int, rules: list) -> network.FirewallPolicyFilterRuleCollectionArgs:
    return network.FirewallPolicyFilterRuleCollectionArgs(
        rule_collection_type="FirewallPolicyFilterRuleCollection",
        name=name,
        priority=priority,
        action=network.FirewallPolicyFilterRuleCollectionActionArgs(
            type=network.FirewallPolicyFilterRuleCollectionActionType.ALLOW
        ),
        rules=rules,
    )


def ingress_dnat_collections(
    net: NetworkConfig, public_ip: pulumi.Input[str]
) -> list[network.FirewallPolicyNatRuleCollectionArgs]:
    """The public IP's 80 and 443 translated to the ingress gateway's internal load balancer."""
    if not net.ingress_private_ip:
        return []
    rules = [
        network.NatRuleArgs(
            rule_type="NatRule",
            name=f"ingress-{port}",
            ip_protocols=[network.FirewallPolicyRuleNetworkProtocol.TCP],
            source_addresses=["*"],
            destination_addresses=[public_ip],
            destination_ports=[str(port)],
            translated_address=net.ingress_private_ip,
            translated_port=str(port),
        )
        for port in (HTTPS_PORT, HTTP_PORT)
    ]
    return [
        network.FirewallPolicyNatRuleCollectionArgs(
            rule_collection_type="FirewallPolicyNatRuleCollection",
            name="ingress",
            priority=100,
            action=network.FirewallPolicyNatRuleCollectionActionArgs(
                type=network.FirewallPolicyNatRuleCollectionActionType.DNAT
            ),
            rules=rules,
        )
    ]


def aks_egress_collections(args: EgressFirewallArgs) -> list[network.FirewallPolicyFilterRuleCollectionArgs]:
    """What AKS and its add-ons need, from the node subnet: the FQDN tag, add-on hosts, the tunnel ports."""
    nodes = [args.config.node_subnet_cidr]
    application = [
        _application_rule(
            "aks-fqdn-tag",
            "Every FQDN AKS requires, kept current by Microsoft",
            nodes,
            [_http(), _https()],
            fqdn_tags=[AKS_FQDN_TAG],
        ),
        _application_rule("aks-addons", "Azure Policy and Defender add-ons", nodes, [_https()], fqdns=AKS_ADDON_FQDNS),
        _application_rule(
            "azure-monitor",
            "Container Insights and managed Prometheus: agent onboarding, data collection rules, ingestion",
            nodes,
            [_https()],
            fqdns=[*AZURE_MONITOR_FQDNS, f"{args.placement.location}.handler.control.monitor.azure.com"],
        ),
    ]
    if args.node_fqdns:
        application.append(
            _application_rule(
                "node-services",
                "Services the nodes reach over their public endpoint (the vault while it is public)",
                nodes,
                [_https()],
                fqdns=args.node_fqdns,
            )
        )
    # Metrics and logs to Azure Monitor and Log Analytics (the same AKS section's "Required network rules").
    monitor_rule = network.NetworkRuleArgs(
        rule_type="NetworkRule",
        name="azure-monitor-service-tag",
        source_addresses=nodes,
        destination_addresses=[AZURE_MONITOR_SERVICE_TAG],
        destination_ports=["443"],
        ip_protocols=[network.FirewallPolicyRuleNetworkProtocol.TCP],
    )
    rules = [monitor_rule]
    if not args.private_cluster:
        # A public API server: nodes open the tunnel to the control plane (not needed for private clusters).
        rules += [
            network.NetworkRuleArgs(
                rule_type="NetworkRule",
                name=f"aks-tunnel-{protocol.lower()}-{port}",
                source_addresses=nodes,
                destination_addresses=[f"AzureCloud.{args.placement.location}"],
                destination_ports=[port],
                ip_protocols=[protocol],
            )
            for protocol, port in (
                (network.FirewallPolicyRuleNetworkProtocol.UDP, "1194"),
                (network.FirewallPolicyRuleNetworkProtocol.TCP, "9000"),
            )
        ]
    return [_allow("aks-network", 100, rules), _allow("aks-application", 200, application)]


def mesh_egress_collections(
    net: NetworkConfig, egress: EgressConfig
) -> list[network.FirewallPolicyFilterRuleCollectionArgs]:
    """The mesh allow-list again, at the network: HTTPS to exactly the hosts the ServiceEntries name."""
    hosts = list(egress.host_names)
    if not hosts:
        return []
    return [
        _allow(
            MESH_RULE_COLLECTION_GROUP,
            300,
            [
                _application_rule(
                    MESH_RULE,
                    "egress.hosts: the same list as the mesh's ServiceEntries",
                    [net.node_subnet_cidr],
                    [_https()],
                    fqdns=hosts,
                )
            ],
        )
    ]
