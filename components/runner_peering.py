"""The CI runners' way in: the cluster VNet and the runners' VNet peered in both directions.

With a private API server and a private vault, ``pulumi up`` runs from inside the network: the runners live in
their own VNet (``cluster.network.runnerVnetId``), and the first ``up`` creates both peerings before anything it
deploys needs them (the vault's zone is linked to that VNet by ``VaultPrivateEndpoint``). A peering only
becomes ``Connected`` once both sides exist, so the deploying identity needs
``Microsoft.Network/virtualNetworks/virtualNetworkPeerings/write`` on the runners' VNet too (docs/network.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import network


def vnet_parts(vnet_id: str) -> tuple[str, str]:
    """(resource group, name) of a VNet resource ID."""
    parts = vnet_id.strip("/").split("/")
    lower = [p.lower() for p in parts]
    return parts[lower.index("resourcegroups") + 1], parts[lower.index("virtualnetworks") + 1]


@dataclass(frozen=True)
class RunnerPeeringArgs:
    """Inputs of :class:`RunnerPeering`: the cluster VNet and ``cluster.network.runnerVnetId``."""

    resource_group_name: pulumi.Input[str]  # the cluster VNet's resource group
    virtual_network_name: pulumi.Input[str]  # PlatformBase.vnet_name
    virtual_network_id: pulumi.Input[str]  # PlatformBase.vnet_id
    runner_vnet_id: str


class RunnerPeering(pulumi.ComponentResource):
    """``platform:network:RunnerPeering``: cluster VNet <-> runners' VNet, plain access, no transit."""

    ready: list[pulumi.Resource]  # the Kubernetes provider's first call waits for the path to the API server

    def __init__(self, name: str, args: RunnerPeeringArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("platform:network:RunnerPeering", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        runner_rg, runner_vnet = vnet_parts(args.runner_vnet_id)
        to_runners = _peering(
            f"{name}-to-runners",
            f"to-{runner_vnet}",
            args.virtual_network_name,
            args.resource_group_name,
            args.runner_vnet_id,
            child,
        )
        from_runners = _peering(
            f"{name}-from-runners",
            pulumi.Output.from_input(args.virtual_network_name).apply(lambda n: f"to-{n}"),
            runner_vnet,
            runner_rg,
            args.virtual_network_id,
            child,
        )
        self.ready = [to_runners, from_runners]
        self.register_outputs({})


def _peering(
    resource_name: str,
    peering_name: pulumi.Input[str],
    vnet_name: pulumi.Input[str],
    resource_group_name: pulumi.Input[str],
    remote_vnet_id: pulumi.Input[str],
    opts: pulumi.ResourceOptions,
) -> network.VirtualNetworkPeering:
    return network.VirtualNetworkPeering(
        resource_name,
        virtual_network_peering_name=peering_name,
        virtual_network_name=vnet_name,
        resource_group_name=resource_group_name,
        remote_virtual_network=network.SubResourceArgs(id=remote_vnet_id),
        allow_virtual_network_access=True,
        # The runners' network is not a transit: nothing it forwards or routes enters the cluster VNet.
        allow_forwarded_traffic=False,
        allow_gateway_transit=False,
        use_remote_gateways=False,
        opts=opts,
    )
