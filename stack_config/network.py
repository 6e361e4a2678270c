"""Rules between ``cluster.network``, ``keyVault`` and ``egress``: one allow-list, a closed network path in prod.

The program's own firewall takes its application rules from ``egress.hosts`` (the list that also makes the
mesh's ServiceEntries), so the two cannot differ. A firewall the program does not manage (``existingSubnetId``
behind a hub firewall) is declared in ``cluster.network.existingFirewallFqdns`` and must list the same hosts:
a host only the mesh admits is dropped at the firewall, a host only the firewall admits is a hole beside the mesh.
"""

from __future__ import annotations

import dataclasses

from stack_config.cluster import NetworkConfig, api_server_subnet_checked, network_subnets_checked
from stack_config.spec import Read

NETWORK = "cluster.network"
# api-server-authorized-ip-ranges: "You can specify up to 200 authorized IP ranges. To go beyond this limit, consider
# using API Server VNet Integration, which supports up to 2,000 authorized IP ranges."
AUTHORIZED_IP_RANGES_MAX = 200
AUTHORIZED_IP_RANGES_MAX_VNET_INTEGRATION = 2000


def check_network(s: Read) -> None:
    """Top-level rules across sections (run after every section is read)."""
    v, ctx = s.values, s.ctx
    if not ctx.full_environment:
        if v["key_vault"].public_network_access == "Disabled":
            s.r.problem(
                "keyVault.publicNetworkAccess",
                "Disabled",
                "allowed on environment stacks only: its private endpoint lives in the cluster VNet",
            )
        return
    net = v["cluster"].network
    _authorized_ranges_fit(s)
    if net.existing_subnet_id and net.egress_firewall:
        _same_allow_list(s, v["egress"].host_names, net.existing_firewall_fqdns)
    vault = v["key_vault"]
    # With existingSubnetId the private endpoint goes into that subnet; otherwise into its own subnet.
    if vault.public_network_access == "Disabled" and not net.existing_subnet_id:
        network_subnets_checked(_section(s, net))
    # KMS runs in Private mode (the vault is never open to the internet), which needs API Server VNet Integration:
    # "If a cluster has KMS turned on and has a private key vault, it must use the API Server VNet Integration".
    if v["cluster"].etcd_encryption:
        api_server_subnet_checked(_section(s, net), private_vault=vault.public_network_access == "Disabled")
    elif net.existing_api_server_subnet_id:
        s.r.report(
            f"{NETWORK}.existingApiServerSubnetId",
            "only with cluster.etcdEncryption: true (the API server moves into the VNet for KMS only)",
        )


def _authorized_ranges_fit(s: Read) -> None:
    """Behind the program's firewall, a restricted public API server also authorizes every firewall address
    (components/aks_profiles.py): the configured ranges (ciRunnerCidrs included) and those must fit AKS's limit."""
    cluster = s.values["cluster"]
    net, ranges = cluster.network, cluster.api_server_authorized_ip_ranges
    if cluster.private_cluster or not ranges or not net.egress_firewall or net.existing_subnet_id:
        return
    # API Server VNet Integration comes with etcdEncryption (components/aks_profiles.py, api_server_access).
    limit = AUTHORIZED_IP_RANGES_MAX_VNET_INTEGRATION if cluster.etcd_encryption else AUTHORIZED_IP_RANGES_MAX
    if len(ranges) + net.firewall_public_ips > limit:
        s.r.problem(
            f"{NETWORK}.firewallPublicIps",
            net.firewall_public_ips,
            f"with {len(ranges)} cluster.apiServerAuthorizedIpRanges (ciRunnerCidrs included) at most "
            f"{limit - len(ranges)}: every firewall address joins those ranges, and AKS accepts at most {limit}",
        )


def _same_allow_list(s: Read, mesh: tuple[str, ...], firewall: tuple[str, ...]) -> None:
    only_mesh = [h for h in mesh if h not in firewall]
    only_firewall = [h for h in firewall if h not in mesh]
    if only_mesh:
        s.r.report(
            "egress.hosts",
            f"{', '.join(only_mesh)} in the mesh allow-list but not in {NETWORK}.existingFirewallFqdns: "
            "the firewall would drop the connection; add the host there (and to the firewall) or remove it here",
        )
    if only_firewall:
        s.r.report(
            f"{NETWORK}.existingFirewallFqdns",
            f"{', '.join(only_firewall)} admitted by the firewall but not in egress.hosts: "
            "a way out beside the mesh; remove the host (and its firewall rule) or add it to egress.hosts",
        )


def _section(s: Read, net: NetworkConfig) -> Read:
    """A reader positioned on ``cluster.network`` with its values, for the subnet checks."""
    inner = Read(s.r, NETWORK, {}, s.ctx)
    inner.values = dataclasses.asdict(net)
    return inner
