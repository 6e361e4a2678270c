"""ApiServerSubnet + AksCluster: KMS on the private vault runs with API Server VNet Integration (prod).

"If a cluster has KMS turned on and has a private key vault, it must use the API Server VNet Integration"
(use-kms-etcd-encryption); with a bring-your-own VNet the API server subnet is delegated to AKS and the cluster
identity holds Network Contributor on it and on the node subnet before the cluster exists
(api-server-vnet-integration).
"""

from __future__ import annotations

import pulumi
import pytest

from components.api_server_subnet import AKS_DELEGATION_SERVICE
from stack_config import load_config
from tests.components import wiring
from tests.conftest import cached_stack_run, network_contributor_grants, stack_raw_config
from tests.resource_types import Azure
from tools.mocks import SUBSCRIPTION_ID
from tools.program_runner import ProgramRun, run_program

BYO_VNET = (
    f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/hub-rg/providers/Microsoft.Network/virtualNetworks/spoke-vnet"
)


def build() -> None:
    """Only what the components need: without a private vault the API server subnet still follows etcdEncryption."""
    cfg = load_config()
    vault = wiring.key_vault(cfg)
    kms = wiring.etcd_encryption(cfg, vault)
    wiring.aks_cluster(cfg, kms=kms.settings, api_server_subnet_id=f"{BYO_VNET}/subnets/api-server")


@pytest.fixture(scope="module")
def program() -> ProgramRun:
    """The real program for prod: VNet, node, private-endpoint, API server and firewall subnets."""
    return cached_stack_run("prod")


def test_prod_api_server_subnet_is_delegated_to_aks_with_the_configured_cidr(program):
    subnet = program.one(Azure.SUBNET, "api-server-subnet")
    assert subnet.get("addressPrefix") == "10.40.8.96/27"
    assert subnet.get("delegations") == [{"name": "aks-api-server", "serviceName": AKS_DELEGATION_SERVICE}]
    assert subnet.get("routeTable") is None  # the node route table (default route to the firewall) is not here
    assert subnet.protect  # prod: VNet Integration cannot be turned off, the subnet stays
    # One subnet write at a time in the VNet: after the node and private-endpoint subnets, before the firewall's.
    earlier = {program.one(Azure.SUBNET, "core-nodes-subnet").urn, program.one(Azure.SUBNET, "vault-pe-subnet").urn}
    assert earlier <= set(subnet.dependencies)
    assert subnet.urn in program.one(Azure.SUBNET, "egress-fw-subnet").dependencies


def test_prod_cluster_uses_vnet_integration_in_that_subnet_and_stays_private(program):
    profile = program.one(Azure.MANAGED_CLUSTER).get("apiServerAccessProfile")
    assert profile["enableVnetIntegration"] is True
    assert profile["subnetId"] == program.one(Azure.SUBNET, "api-server-subnet").id
    assert profile["enablePrivateCluster"] is True and profile["disableRunCommand"] is True
    kms = program.one(Azure.MANAGED_CLUSTER).get("securityProfile.azureKeyVaultKms")
    assert kms["keyVaultNetworkAccess"] == "Private"


def test_identity_holds_network_contributor_on_both_subnets_before_the_cluster(program):
    principal = program.one(Azure.USER_ASSIGNED_IDENTITY).outputs["principalId"]
    grants = network_contributor_grants(program, principal)
    api_server, nodes = (
        program.one(Azure.SUBNET, "api-server-subnet").id,
        program.one(Azure.SUBNET, "core-nodes-subnet").id,
    )
    assert set(grants) == {api_server, nodes}
    cluster = program.one(Azure.MANAGED_CLUSTER)
    for grant in grants.values():
        assert grant.get("principalType") == "ServicePrincipal"
        assert grant.urn in cluster.dependencies


def test_api_server_nsg_admits_the_documented_traffic_and_no_internet_on_a_private_cluster(program):
    rules = {r["name"]: r for r in program.one(Azure.NETWORK_SECURITY_GROUP, "api-server-nsg").get("securityRules")}
    nodes = rules["allow-nodes-to-api-server"]
    assert (nodes["sourceAddressPrefix"], nodes["destinationPortRanges"]) == ("10.40.0.0/22", ["443", "4443"])
    probe = rules["allow-azure-load-balancer"]
    assert (probe["sourceAddressPrefix"], probe["destinationPortRanges"]) == ("AzureLoadBalancer", ["9988"])
    assert rules["allow-kubectl-from-vnet"]["sourceAddressPrefix"] == "VirtualNetwork"  # peered CI runners
    assert "allow-public-api-server" not in rules
    assert rules["deny-internet-inbound"]["priority"] == 4096
    assert all(r["priority"] < 4096 for r in rules.values() if r["access"] == "Allow")


def test_a_public_cluster_keeps_its_allow_list_on_the_public_endpoint():
    # dev with KMS turned on: a public API server, a public vault, and the default API server subnet.
    raw = {**stack_raw_config("dev")["cluster"], "etcdEncryption": True}
    run = run_program("dev", overrides={"cluster": raw})
    profile = run.one(Azure.MANAGED_CLUSTER).get("apiServerAccessProfile")
    assert profile["enableVnetIntegration"] is True
    assert profile["subnetId"] == run.one(Azure.SUBNET, "api-server-subnet").id
    assert run.one(Azure.SUBNET, "api-server-subnet").get("addressPrefix") == "10.20.8.96/27"  # the default
    # AKS filters the public endpoint with the same allow-list (office egress and the CI runners).
    assert set(profile["authorizedIPRanges"]) == {"203.0.113.0/24", "198.51.100.16/28"}
    assert "enablePrivateCluster" not in profile
    rules = {r["name"]: r for r in run.one(Azure.NETWORK_SECURITY_GROUP, "api-server-nsg").get("securityRules")}
    public = rules["allow-public-api-server"]
    assert (public["sourceAddressPrefix"], public["destinationPortRanges"]) == ("Internet", ["443"])
    assert public["priority"] < rules["deny-internet-inbound"]["priority"]


def test_bring_your_own_vnet_uses_the_given_api_server_subnet(build_run):
    run = build_run("prod")
    assert not run.of_type(Azure.SUBNET)  # the program creates no subnet for a brought VNet
    principal = run.one(Azure.USER_ASSIGNED_IDENTITY).outputs["principalId"]
    byo = f"{BYO_VNET}/subnets/api-server"
    assert run.one(Azure.MANAGED_CLUSTER).get("apiServerAccessProfile.subnetId") == byo
    assert set(network_contributor_grants(run, principal)) == {byo}


def test_vnet_integration_without_the_user_assigned_identity_is_refused():
    def program() -> None:
        cfg = load_config()
        wiring.aks_cluster(cfg, api_server_subnet_id=f"{BYO_VNET}/subnets/api-server")
        pulumi.export("unreachable", True)

    with pytest.raises(Exception, match="API Server VNet Integration needs the user-assigned control-plane identity"):
        run_program("prod", program=program)
