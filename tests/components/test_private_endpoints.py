"""VaultPrivateEndpoint and RunnerPeering as the program wires them: a private vault the nodes and runners resolve."""

from __future__ import annotations

import pytest

from components.private_endpoints import VAULT_PRIVATE_DNS_ZONE
from components.runner_peering import vnet_parts
from tests.resource_types import Azure
from tools.program_runner import ProgramRun, run_program

RUNNERS = (
    "/subscriptions/0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d/resourceGroups/ci-rg"
    "/providers/Microsoft.Network/virtualNetworks/ci-runners"
)


@pytest.fixture(scope="module")
def prod() -> ProgramRun:
    raw_network = {
        "vnetCidr": "10.40.0.0/16",
        "nodeSubnetCidr": "10.40.0.0/22",
        "egressFirewall": True,
        "firewallSubnetCidr": "10.40.8.0/26",
        "privateEndpointSubnetCidr": "10.40.8.64/27",
        "ingressPrivateIp": "10.40.3.254",
        "runnerVnetId": RUNNERS,
    }
    from tests.conftest import stack_raw_config

    cluster = stack_raw_config("prod")["cluster"]
    cluster["network"] = raw_network
    return run_program("prod", overrides={"cluster": cluster})


def test_prod_vault_answers_only_on_its_private_endpoint(prod):
    assert prod.one(Azure.VAULT).get("properties.publicNetworkAccess") == "Disabled"
    endpoint = prod.one(Azure.PRIVATE_ENDPOINT)
    [connection] = endpoint.get("privateLinkServiceConnections")
    assert connection["groupIds"] == ["vault"]
    assert connection["privateLinkServiceId"] == prod.one(Azure.VAULT).id
    subnet = prod.one(Azure.SUBNET, "vault-pe-subnet")
    assert endpoint.get("subnet.id") == subnet.id
    assert subnet.get("addressPrefix") == "10.40.8.64/27"
    # NSG rules apply to the endpoints only with this policy on the subnet.
    assert subnet.get("privateEndpointNetworkPolicies") == "NetworkSecurityGroupEnabled"


def test_vault_name_resolves_privately_in_the_cluster_and_runner_vnets(prod):
    zone = prod.one(Azure.PRIVATE_DNS_ZONE)
    assert zone.get("privateZoneName") == VAULT_PRIVATE_DNS_ZONE and zone.get("location") == "global"
    links = {link.get("virtualNetwork.id"): link for link in prod.of_type(Azure.PRIVATE_DNS_ZONE_LINK)}
    vnet = prod.one(Azure.VIRTUAL_NETWORK)
    assert set(links) == {vnet.id, RUNNERS}
    assert all(link.get("registrationEnabled") is False for link in links.values())
    group = prod.one(Azure.PRIVATE_DNS_ZONE_GROUP)
    assert group.get("privateDnsZoneConfigs") == [{"name": "vault", "privateDnsZoneId": zone.id}]


def test_the_vault_is_written_once_the_private_path_exists(prod):
    needed = {prod.one(Azure.PRIVATE_ENDPOINT).urn, prod.one(Azure.PRIVATE_DNS_ZONE_GROUP).urn}
    written = {r.name: r for r in [*prod.of_type(Azure.VAULT_SECRET), *prod.of_type(Azure.VAULT_KEY)]}
    # The sealing key, the mesh root CA and the etcd KMS key: nothing reaches a private vault before its endpoint.
    assert set(written) == {"sealing-key-vault-secret-1", "mesh-ca-root-vault-secret", "etcd-kms-key"}
    for resource in written.values():
        assert needed <= set(resource.dependencies), resource.name


def test_runner_vnet_is_peered_both_ways_before_the_cluster(prod):
    peerings = {p.name: p for p in prod.of_type(Azure.VIRTUAL_NETWORK_PEERING)}
    to_runners, from_runners = peerings["runners-to-runners"], peerings["runners-from-runners"]
    assert to_runners.get("remoteVirtualNetwork.id") == RUNNERS
    assert (from_runners.get("resourceGroupName"), from_runners.get("virtualNetworkName")) == vnet_parts(RUNNERS)
    assert from_runners.get("remoteVirtualNetwork.id") == prod.one(Azure.VIRTUAL_NETWORK).id
    assert all(p.get("allowForwardedTraffic") is False for p in peerings.values())
    assert {p.urn for p in peerings.values()} <= set(prod.one(Azure.MANAGED_CLUSTER).dependencies)


def test_private_api_server_resolves_through_public_dns_for_peered_runners(prod):
    profile = prod.one(Azure.MANAGED_CLUSTER).get("apiServerAccessProfile")
    assert profile["enablePrivateCluster"] is True
    assert profile["privateDNSZone"] == "none" and profile["enablePrivateClusterPublicFQDN"] is True


def test_dev_vault_stays_public_behind_its_firewall(stack_run):
    dev = stack_run("dev")
    assert dev.one(Azure.VAULT).get("properties.publicNetworkAccess") == "Enabled"
    assert dev.one(Azure.VAULT).get("properties.networkAcls.defaultAction") == "Deny"
    assert dev.of_type(Azure.PRIVATE_ENDPOINT) == [] and dev.of_type(Azure.PRIVATE_DNS_ZONE) == []
