"""The API server's subnet (API Server VNet Integration): the control plane's internal load balancer in the VNet.

KMS etcd encryption runs in ``Private`` mode here (the vault is never open to the internet), and "If a cluster has
KMS turned on and has a private key vault, it must use the API Server VNet Integration tunnel. Konnectivity isn't
supported" (learn.microsoft.com, "Add Key Management Service etcd encryption to an AKS cluster"). With a
bring-your-own VNet, "you must create and delegate an API server subnet to ``Microsoft.ContainerService/
managedClusters``, which grants the AKS service permissions to inject the API server pods and internal load
balancer into that subnet. You can't use the subnet for any other workloads ... The minimum supported API server
subnet size is a /28" (learn.microsoft.com, "API Server VNet Integration"). The cluster identity's grant on this
subnet is ``AksCluster``'s (it needs the identity); the subnet only has to exist first.

No route table: the subnet holds the control plane's load balancer, whose traffic goes to the nodes and to the
vault's private endpoints inside the VNet; neither AKS page asks for (or against) a route to the firewall here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
from pulumi_azure_native import network

from components.azure_network import subnet_behind_nsg
from components.azure_placement import AzurePlacement
from components.registered_outputs import register_attributes
from components.subnet_nsg import api_server_subnet_rules
from stack_config import NetworkConfig

AKS_DELEGATION_SERVICE = "Microsoft.ContainerService/managedClusters"
API_SERVER_SUBNET_NAME = "api-server"


@dataclass(frozen=True)
class ApiServerSubnetArgs:
    """Inputs of :class:`ApiServerSubnet`: ``cluster.network`` (its ``apiServerSubnetCidr``) and the VNet."""

    config: NetworkConfig
    private_cluster: bool  # cluster.privateCluster: no public endpoint, so no internet rule on the NSG
    placement: AzurePlacement
    virtual_network_name: pulumi.Input[str]
    # Prod: the cluster cannot leave VNet Integration ("Feature cannot be disabled"); Pulumi refuses to delete it.
    protect: bool = False
    depends_on: Sequence[pulumi.Resource] = ()  # earlier subnets of the VNet: one subnet write at a time


class ApiServerSubnet(pulumi.ComponentResource):
    """``platform:network:ApiServerSubnet``: a subnet delegated to AKS for the API server, with its NSG."""

    subnet_id: pulumi.Output[str]
    subnet: network.Subnet  # later subnets of the VNet wait for it

    def __init__(self, name: str, args: ApiServerSubnetArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("platform:network:ApiServerSubnet", name, None, opts)
        self.subnet = subnet_behind_nsg(
            name,
            f"{args.placement.resource_prefix}-{name}",
            API_SERVER_SUBNET_NAME,
            api_server_subnet_rules(args.config, args.private_cluster),
            address_prefix=args.config.api_server_subnet_cidr,
            virtual_network_name=args.virtual_network_name,
            resource_group_name=args.placement.resource_group_name,
            location=args.placement.location,
            tags=args.placement.tags,
            # AKS injects the API server's pods and internal load balancer only into a subnet delegated to it.
            delegations=[network.DelegationArgs(name="aks-api-server", service_name=AKS_DELEGATION_SERVICE)],
            depends_on=args.depends_on,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        self.subnet_id = self.subnet.id
        register_attributes(self, "subnet_id")
