"""Every subnet the program creates has an NSG (AzureFirewallSubnet excepted); what the rules admit and deny."""

from __future__ import annotations

import pytest

from tests.resource_types import Azure


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_subnet_but_the_firewalls_has_an_nsg(stack_run, stack):
    run = stack_run(stack)
    nsgs = {n.id for n in run.of_type(Azure.NETWORK_SECURITY_GROUP)}
    for subnet in run.of_type(Azure.SUBNET):
        if subnet.get("subnetName") == "AzureFirewallSubnet":
            assert subnet.get("networkSecurityGroup") is None  # Azure disables subnet NSGs there
        else:
            assert subnet.get("networkSecurityGroup.id") in nsgs, subnet.name
    names = {s.get("subnetName") for s in run.of_type(Azure.SUBNET)}
    prod = {"nodes", "AzureFirewallSubnet", "private-endpoints", "api-server"}
    assert names == (prod if stack == "prod" else {"nodes"})


def rules_by_name(run, nsg_name):
    return {r["name"]: r for r in run.one(Azure.NETWORK_SECURITY_GROUP, nsg_name).get("securityRules")}


def test_prod_nodes_take_ingress_only_from_the_firewall_and_nothing_from_the_internet(stack_run):
    rules = rules_by_name(stack_run("prod"), "core-nodes-nsg")
    ingress = rules["allow-ingress-from-firewall"]
    assert ingress["sourceAddressPrefix"] == "10.40.8.0/26"
    assert ingress["destinationAddressPrefix"] == "10.40.3.254/32"
    assert ingress["destinationPortRanges"] == ["80", "443"] and ingress["protocol"] == "Tcp"
    deny = rules["deny-internet-inbound"]
    assert (deny["access"], deny["sourceAddressPrefix"], deny["priority"]) == ("Deny", "Internet", 4096)
    assert "allow-ingress-from-internet" not in rules
    # Every allow outranks the deny.
    assert all(r["priority"] < 4096 for r in rules.values() if r["access"] == "Allow")


def test_cni_overlay_traffic_is_allowed_before_any_deny(stack_run):
    rules = rules_by_name(stack_run("dev"), "core-nodes-nsg")
    pairs = {
        (r["sourceAddressPrefix"], r["destinationAddressPrefix"]) for r in rules.values() if r["access"] == "Allow"
    }
    assert {
        ("10.20.0.0/22", "10.20.0.0/22"),
        ("10.20.0.0/22", "192.168.0.0/16"),
        ("192.168.0.0/16", "192.168.0.0/16"),
    } <= pairs
    assert rules["allow-azure-load-balancer"]["sourceAddressPrefix"] == "AzureLoadBalancer"
    # Without the firewall, the public load balancer brings clients straight from the internet.
    assert rules["allow-ingress-from-internet"]["sourceAddressPrefix"] == "Internet"


def test_private_endpoint_subnet_admits_https_from_the_network_only(stack_run):
    rules = rules_by_name(stack_run("prod"), "vault-pe-nsg")
    assert rules["allow-https-from-vnet"]["sourceAddressPrefix"] == "VirtualNetwork"
    assert rules["allow-https-from-vnet"]["destinationPortRanges"] == ["443"]
    assert rules["deny-all-inbound"]["access"] == "Deny"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_rule_priorities_are_unique_and_in_azure_range(stack_run, stack):
    for nsg in stack_run(stack).of_type(Azure.NETWORK_SECURITY_GROUP):
        priorities = [r["priority"] for r in nsg.get("securityRules")]
        assert len(set(priorities)) == len(priorities) and all(100 <= p <= 4096 for p in priorities), nsg.name
