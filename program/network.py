"""The outbound path: the firewall on the nodes' way out and the CI runners' way in.

The cluster waits for both (``AksClusterArgs.depends_on``): no node boots before its way out exists, and a
private API server is reached through the peering.
"""

from __future__ import annotations

import pulumi

from components.api_server_subnet import ApiServerSubnet, ApiServerSubnetArgs
from components.base import PlatformBase
from components.egress_firewall import EgressFirewall, EgressFirewallArgs
from components.runner_peering import RunnerPeering, RunnerPeeringArgs
from program.foundation import VaultAndKeys, earlier_subnets, own_firewall, placement
from stack_config import PlatformConfig


def vault_host(uri: str) -> str:
    return uri.removeprefix("https://").split("/", 1)[0]


def api_server_subnet(cfg: PlatformConfig, base: PlatformBase, keys: VaultAndKeys) -> ApiServerSubnet | None:
    """With KMS (its private vault needs API Server VNet Integration): the API server's own delegated subnet.

    None without KMS, and with ``existingSubnetId`` (the subnet is brought: ``existingApiServerSubnetId``).
    """
    net = cfg.cluster.network
    if not cfg.cluster.etcd_encryption or net.existing_subnet_id or base.vnet_name is None:
        return None
    return ApiServerSubnet(
        "api-server",
        ApiServerSubnetArgs(
            config=net,
            private_cluster=cfg.cluster.private_cluster,
            placement=placement(cfg, base),
            virtual_network_name=base.vnet_name,
            protect=cfg.is_prod,
            depends_on=earlier_subnets(base, keys.endpoint),
        ),
    )


def api_server_subnet_id(cfg: PlatformConfig, subnet: ApiServerSubnet | None) -> pulumi.Input[str] | None:
    """The subnet AKS puts the API server in: the program's, the brought one, or none (no KMS)."""
    if not cfg.cluster.etcd_encryption:
        return None
    return subnet.subnet_id if subnet else cfg.cluster.network.existing_api_server_subnet_id


def egress_firewall(
    cfg: PlatformConfig, base: PlatformBase, keys: VaultAndKeys, api_server: ApiServerSubnet | None = None
) -> EgressFirewall | None:
    """The firewall when ``cluster.network.egressFirewall`` is on (it needs the node network's route table)."""
    if not own_firewall(cfg.cluster.network) or base.route_table_name is None or base.vnet_name is None:
        return None
    return EgressFirewall(
        "egress-fw",
        EgressFirewallArgs(
            config=cfg.cluster.network,
            egress=cfg.egress,
            placement=placement(cfg, base),
            log_analytics_workspace_id=base.log_analytics_workspace_id,
            virtual_network_name=base.vnet_name,
            route_table_name=base.route_table_name,
            private_cluster=cfg.cluster.private_cluster,
            is_prod=cfg.is_prod,
            availability_zones=cfg.cluster.system_pool.availability_zones,
            # A public vault is reached by the CSI driver over its public name, through the firewall.
            node_fqdns=[] if keys.endpoint else [keys.vault.vault_uri.apply(vault_host)],
            depends_on=earlier_subnets(base, keys.endpoint, api_server),
        ),
    )


def runner_peering(cfg: PlatformConfig, base: PlatformBase) -> RunnerPeering | None:
    """The peering with the CI runners' VNet (``cluster.network.runnerVnetId``), when there is one."""
    runner_vnet_id = cfg.cluster.network.runner_vnet_id
    if not runner_vnet_id or base.vnet_name is None or base.vnet_id is None:
        return None
    return RunnerPeering(
        "runners",
        RunnerPeeringArgs(
            resource_group_name=base.resource_group_name,
            virtual_network_name=base.vnet_name,
            virtual_network_id=base.vnet_id,
            runner_vnet_id=runner_vnet_id,
        ),
    )


def outbound_path(
    cfg: PlatformConfig, base: PlatformBase, keys: VaultAndKeys
) -> tuple[EgressFirewall | None, list[pulumi.Resource], pulumi.Input[str] | None]:
    """The firewall (or None), what the cluster waits for (the firewall's rules and route, the peering) and the
    API server subnet (KMS: API Server VNet Integration)."""
    api_server = api_server_subnet(cfg, base, keys)
    firewall = egress_firewall(cfg, base, keys, api_server)
    peering = runner_peering(cfg, base)
    ready = [*(firewall.ready if firewall else []), *(peering.ready if peering else [])]
    return firewall, ready, api_server_subnet_id(cfg, api_server)
