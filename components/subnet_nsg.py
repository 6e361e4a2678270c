"""Network security group rules of the subnets the program creates (pure builders, no resources).

NSGs filter inbound traffic only where it matters here: outbound AKS dependencies are FQDNs, which an NSG
cannot express, so outbound is the firewall's job (AKS "Outbound network and FQDN rules": "you can't use
NSGs"). Azure's default rules stay underneath (AllowVnetInBound 65000, AllowAzureLoadBalancerInBound 65001,
DenyAllInBound 65500); the explicit rules below make the intent visible and close the internet at 4096.

``AzureFirewallSubnet`` gets no NSG: Azure Firewall runs its own NIC-level NSGs and disables subnet NSGs on
that subnet (Azure Firewall FAQ, "Are Network Security Groups (NSGs) supported on the AzureFirewallSubnet?").
"""

from __future__ import annotations

from pulumi_azure_native import network

from components.mesh_names import HTTP_PORT, HTTPS_PORT
from stack_config import NetworkConfig

ALLOW = network.SecurityRuleAccess.ALLOW
DENY = network.SecurityRuleAccess.DENY
INBOUND = network.SecurityRuleDirection.INBOUND
ANY = network.SecurityRuleProtocol.ASTERISK
TCP = network.SecurityRuleProtocol.TCP
DENY_INTERNET_PRIORITY = 4096
WEB_PORTS = (str(HTTP_PORT), str(HTTPS_PORT))  # the ingress gateway: 80 only redirects to 443
HTTPS_ONLY = (str(HTTPS_PORT),)


def _rule(
    name: str,
    priority: int,
    description: str,
    *,
    source: str,
    destination: str = "*",
    protocol: network.SecurityRuleProtocol = ANY,
    ports: tuple[str, ...] = ("*",),
    access: network.SecurityRuleAccess = ALLOW,
) -> network.SecurityRuleArgs:
    return network.SecurityRuleArgs(
        name=name,
        priority=priority,
        direction=INBOUND,
        access=access,
        protocol=protocol,
        source_address_prefix=source,
        source_port_range="*",
        destination_address_prefix=destination,
        destination_port_ranges=list(ports) if ports != ("*",) else None,
        destination_port_range="*" if ports == ("*",) else None,
        description=description,
    )


def _allow_tcp(
    name: str, priority: int, description: str, *, source: str, ports: tuple[str, ...], destination: str = "*"
) -> network.SecurityRuleArgs:
    """An allow for TCP on ``ports``: every port a subnet opens is a TCP port."""
    return _rule(name, priority, description, source=source, destination=destination, protocol=TCP, ports=ports)


def _https_from_vnet(name: str, priority: int, description: str) -> network.SecurityRuleArgs:
    """HTTPS from the VNet, which includes peered networks (the CI runners' VNet): how clients reach a private API."""
    return _allow_tcp(name, priority, description, source="VirtualNetwork", ports=HTTPS_ONLY)


def _deny_inbound(
    description: str, *, source: str = "Internet", name: str = "deny-internet-inbound"
) -> network.SecurityRuleArgs:
    """The last rule of every list: what no allow above admits is refused, at :data:`DENY_INTERNET_PRIORITY`."""
    return _rule(name, DENY_INTERNET_PRIORITY, description, source=source, access=DENY)


def node_subnet_rules(net: NetworkConfig) -> list[network.SecurityRuleArgs]:
    """Inbound to the nodes: what Azure CNI Overlay needs, health probes, the ingress ports, nothing from the internet.

    CNI Overlay does not encapsulate pod traffic, so subnet NSG rules apply to it; these three allows are the
    ones its docs require before any deny (node to node, node to pod, pod to pod).
    """
    nodes, pods = net.node_subnet_cidr, net.pod_cidr
    if net.egress_firewall and net.firewall_subnet_cidr and net.ingress_private_ip:
        # Behind the firewall, clients arrive through its DNAT (source: the firewall subnet) at the internal LB.
        ingress = _allow_tcp(
            "allow-ingress-from-firewall",
            140,
            "HTTP/HTTPS from the firewall's DNAT to the ingress gateway's internal load balancer",
            source=net.firewall_subnet_cidr,
            destination=f"{net.ingress_private_ip}/32",
            ports=WEB_PORTS,
        )
    else:
        ingress = _allow_tcp(
            "allow-ingress-from-internet",
            140,
            "HTTP/HTTPS from the internet to the ingress gateway's public load balancer",
            source="Internet",
            ports=WEB_PORTS,
        )
    return [
        _rule("allow-node-to-node", 100, "CNI Overlay: node CIDR to node CIDR", source=nodes, destination=nodes),
        _rule(
            "allow-node-to-pod",
            110,
            "CNI Overlay: node CIDR to pod CIDR (service routing)",
            source=nodes,
            destination=pods,
        ),
        _rule(
            "allow-pod-to-pod",
            120,
            "CNI Overlay: pod CIDR to pod CIDR (pods, services, DNS)",
            source=pods,
            destination=pods,
        ),
        _rule("allow-azure-load-balancer", 130, "load balancer health probes", source="AzureLoadBalancer"),
        ingress,
        _deny_inbound("nothing else from the internet reaches a node"),
    ]


def private_endpoint_subnet_rules() -> list[network.SecurityRuleArgs]:
    """Inbound to private endpoints: HTTPS from the VNet (and peered runner VNets), nothing else."""
    return [
        _https_from_vnet(
            "allow-https-from-vnet",
            100,
            "HTTPS to the private endpoints from the VNet and peered networks (nodes, CI runners)",
        ),
        _deny_inbound("nothing else reaches a private endpoint", source="*", name="deny-all-inbound"),
    ]


# API Server VNet Integration, "NSG security rules": "APIServer Subnet CIDR | Cluster Subnet | TCP | 443 and 4443 |
# Required to enable communication between Nodes and the API server" and "APIServer Subnet CIDR | Azure Load
# Balancer | TCP | 9988 | Required to enable communication between Azure Load Balancer and the API server".
API_SERVER_PORTS = ("443", "4443")
API_SERVER_PROBE_PORT = "9988"


def api_server_subnet_rules(net: NetworkConfig, private_cluster: bool) -> list[network.SecurityRuleArgs]:
    """Inbound to the API server's internal load balancer: the nodes, Azure's probes and the clients it admits."""
    rules = [
        _allow_tcp(
            "allow-nodes-to-api-server",
            100,
            "nodes to the API server (443 and 4443), API Server VNet Integration",
            source=net.node_subnet_cidr,
            ports=API_SERVER_PORTS,
        ),
        _allow_tcp(
            "allow-azure-load-balancer",
            110,
            "Azure Load Balancer to the API server (9988), API Server VNet Integration",
            source="AzureLoadBalancer",
            ports=(API_SERVER_PROBE_PORT,),
        ),
        _https_from_vnet(
            "allow-kubectl-from-vnet", 120, "kubectl and Pulumi from the VNet and peered networks (CI runners)"
        ),
    ]
    if not private_cluster:
        # The public endpoint stays filtered by apiServerAccessProfile.authorizedIPRanges, which AKS applies with
        # VNet Integration too (up to 2,000 ranges, api-server-authorized-ip-ranges); the NSG does not repeat the
        # list, since AKS adds its own addresses to it (the API server's and the cluster's outbound IPs).
        rules.append(
            _allow_tcp(
                "allow-public-api-server",
                130,
                "HTTPS to the public API server endpoint; authorizedIPRanges decides who gets in",
                source="Internet",
                ports=HTTPS_ONLY,
            )
        )
    return [*rules, _deny_inbound("nothing else from the internet reaches the API server subnet")]
