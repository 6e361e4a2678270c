"""network rules through the analyzer beyond their one-field cases (test_one_field.py): the firewall subnet
exemption, allow-list parity."""

from __future__ import annotations

from tests.policies.analyzer import (
    UNKNOWN,
    StackResource,
    analyze,
    analyze_stack,
    mesh_rule_collection_group,
    names,
    report,
    set_path,
    valid_cluster,
    valid_node_subnet,
    valid_service_entry,
    valid_vault,
    violations,
)
from tests.resource_types import Azure, Istio

RULE = "network-egress-allow-list-consistent"


def test_firewall_subnet_needs_no_nsg():
    subnet = {**valid_node_subnet(), "subnetName": "AzureFirewallSubnet", "addressPrefix": "10.40.8.0/26"}
    del subnet["networkSecurityGroup"]
    assert violations(analyze(Azure.SUBNET, subnet)) == []


def test_dev_relaxes_load_balancer_outbound_and_a_public_vault_to_advisory():
    cluster = set_path(valid_cluster(), "networkProfile.outboundType", "loadBalancer")
    vault = set_path(valid_vault(), "properties.publicNetworkAccess", "Enabled")
    found = violations(analyze(Azure.MANAGED_CLUSTER, cluster, "dev")) + violations(analyze(Azure.VAULT, vault, "dev"))
    assert names(found) == ["network-aks-outbound-firewall", "network-keyvault-private"]
    assert {d.level for d in found} == {"advisory"}


def entry(name: str, *hosts: str, location: str = "MESH_EXTERNAL") -> StackResource:
    props = valid_service_entry()
    props["metadata"]["name"] = name
    props["spec"]["hosts"] = list(hosts)
    props["spec"]["location"] = location
    return StackResource(Istio.SERVICE_ENTRY, name, props)


def stack_findings(*resources: StackResource) -> list:
    return [d for d in violations(analyze_stack(resources, "prod", with_resources=False)) if d.policy == RULE]


def test_same_hosts_at_the_mesh_and_the_firewall_pass():
    resources = (
        StackResource(
            Azure.FIREWALL_RULE_COLLECTION_GROUP,
            "mesh-egress",
            mesh_rule_collection_group("graph.microsoft.com", "api.github.com"),
        ),
        entry("graph", "graph.microsoft.com"),
        entry("github", "API.github.com"),
        # An in-mesh registration never leaves the network: the firewall need not know it.
        entry("internal", "db.internal.example", location="MESH_INTERNAL"),
    )
    assert stack_findings(*resources) == [], report(analyze_stack(resources, "prod", with_resources=False))


def test_a_host_only_the_mesh_admits_fails():
    found = stack_findings(
        StackResource(
            Azure.FIREWALL_RULE_COLLECTION_GROUP, "mesh-egress", mesh_rule_collection_group("graph.microsoft.com")
        ),
        entry("graph", "graph.microsoft.com"),
        entry("github", "api.github.com"),
    )
    assert len(found) == 1 and found[0].level == "mandatory"
    assert (
        "'api.github.com' is in the mesh allow-list (a ServiceEntry) but not in the firewall rule "
        "'mesh-egress-allow-list'" in found[0].message
    )


def test_a_host_only_the_firewall_admits_fails():
    found = stack_findings(
        StackResource(
            Azure.FIREWALL_RULE_COLLECTION_GROUP,
            "mesh-egress",
            mesh_rule_collection_group("graph.microsoft.com", "paste.example.com"),
        ),
        entry("graph", "graph.microsoft.com"),
    )
    assert len(found) == 1
    assert (
        "'paste.example.com' is admitted by the firewall rule 'mesh-egress-allow-list' but no ServiceEntry names it"
        in found[0].message
    )


def test_a_firewall_without_the_mesh_rule_fails():
    group = mesh_rule_collection_group("graph.microsoft.com")
    group["ruleCollections"][0]["rules"][0]["name"] = "something-else"
    found = stack_findings(
        StackResource(Azure.FIREWALL_RULE_COLLECTION_GROUP, "g", group), entry("graph", "graph.microsoft.com")
    )
    assert len(found) == 1 and "no firewall application rule named 'mesh-egress-allow-list'" in found[0].message


def test_no_firewall_is_not_applicable_and_unknown_hosts_wait():
    assert stack_findings(entry("graph", "graph.microsoft.com")) == []
    group = set_path(mesh_rule_collection_group("x.example.com"), "ruleCollections.0.rules.0.targetFqdns", UNKNOWN)
    resources = (StackResource(Azure.FIREWALL_RULE_COLLECTION_GROUP, "g", group), entry("graph", "graph.microsoft.com"))
    diags = analyze_stack(resources, "prod", with_resources=False)
    assert stack_findings(*resources) == []
    assert any(d.policy == RULE and d.cannot_check for d in diags), report(diags)
