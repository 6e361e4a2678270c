"""EgressFirewall as the program wires it: policy and rules from config, logs, the route, outboundType, ingress DNAT."""

from __future__ import annotations

import pytest

from components.egress_firewall import AKS_ADDON_FQDNS, AKS_FQDN_TAG, MESH_RULE
from tests.conftest import k8s_manifest, stack_raw_config
from tests.resource_types import Azure, K8s
from tools.program_runner import ProgramRun, run_program

HOSTS = ["login.microsoftonline.com", "graph.microsoft.com", "api.example.org"]


@pytest.fixture(scope="module")
def prod() -> ProgramRun:
    return run_program("prod", overrides={"egress": {"hosts": HOSTS}})


@pytest.fixture(scope="module")
def dev() -> ProgramRun:
    return run_program("dev")


def rules_of(run: ProgramRun, group: str) -> dict[str, dict]:
    collections = run.one(Azure.FIREWALL_RULE_COLLECTION_GROUP, f"egress-fw-{group}").get("ruleCollections")
    return {rule["name"]: rule for c in collections for rule in c["rules"]}


def test_firewall_standard_in_its_own_subnet_with_a_policy_that_denies_threats(prod):
    firewall = prod.one(Azure.FIREWALL)
    assert firewall.get("sku") == {"name": "AZFW_VNet", "tier": "Standard"}
    [config] = firewall.get("ipConfigurations")
    subnet = prod.one(Azure.SUBNET, "egress-fw-subnet")
    assert subnet.get("subnetName") == "AzureFirewallSubnet" and subnet.get("addressPrefix") == "10.40.8.0/26"
    assert config["subnet"]["id"].endswith("/subnets/AzureFirewallSubnet")
    assert firewall.get("zones") == ["1", "2", "3"]
    policy = prod.one(Azure.FIREWALL_POLICY)
    assert policy.get("sku") == {"tier": "Standard"} and policy.get("threatIntelMode") == "Deny"
    pip = prod.one(Azure.PUBLIC_IP_ADDRESS, "egress-fw-pip")
    assert pip.get("publicIPAllocationMethod") == "Static" and pip.protect is True


def test_mesh_rule_is_generated_from_the_egress_allow_list(prod):
    rule = rules_of(prod, "mesh-egress")[MESH_RULE]
    assert rule["targetFqdns"] == HOSTS
    assert rule["protocols"] == [{"protocolType": "Https", "port": 443}]
    assert rule["sourceAddresses"] == ["10.40.0.0/22"]
    # The same hosts as the mesh's ServiceEntries.
    entries = {h for e in prod.k8s_objects("ServiceEntry") for h in k8s_manifest(e)["spec"]["hosts"]}
    assert entries == set(HOSTS)


def test_aks_rules_use_the_fqdn_tag_and_the_addon_hosts_and_no_tunnel_for_a_private_cluster(prod):
    rules = rules_of(prod, "aks-egress")
    assert rules["aks-fqdn-tag"]["fqdnTags"] == [AKS_FQDN_TAG]
    assert rules["aks-addons"]["targetFqdns"] == list(AKS_ADDON_FQDNS)
    # Private API server: no 1194/9000 tunnel; the private vault needs no public FQDN either.
    assert set(rules) == {"aks-fqdn-tag", "aks-addons", "azure-monitor", "azure-monitor-service-tag"}


def test_container_insights_and_managed_prometheus_get_through_the_firewall(prod):
    """Without these the monitoring agents behind the firewall cannot onboard, fetch their DCRs or ingest."""
    rules = rules_of(prod, "aks-egress")
    fqdns = set(rules["azure-monitor"]["targetFqdns"])
    assert {"*.ingest.monitor.azure.com", "global.handler.control.monitor.azure.com"} <= fqdns
    assert "westeurope.handler.control.monitor.azure.com" in fqdns
    # And the AzureMonitor service tag on 443, in the network collection.
    network_rules = [
        r
        for g in prod.of_type(Azure.FIREWALL_RULE_COLLECTION_GROUP)
        if g.name == "egress-fw-aks-egress"
        for c in g.get("ruleCollections")
        for r in c["rules"]
        if r.get("ruleType") == "NetworkRule"
    ]
    assert [r["destinationAddresses"] for r in network_rules] == [["AzureMonitor"]]


def test_public_cluster_behind_the_firewall_gets_the_tunnel_ports_and_the_public_vault(run_stack):
    cluster = stack_raw_config("dev")["cluster"]
    cluster["network"]["egressFirewall"] = True
    run = run_stack("dev", overrides={"cluster": cluster})
    rules = rules_of(run, "aks-egress")
    assert rules["aks-tunnel-udp-1194"]["destinationAddresses"] == ["AzureCloud.westeurope"]
    assert rules["aks-tunnel-tcp-9000"]["ipProtocols"] == ["TCP"]
    [vault_host] = rules["node-services"]["targetFqdns"]
    assert vault_host.endswith(".vault.azure.net")
    assert run.one(Azure.MANAGED_CLUSTER).get("networkProfile.outboundType") == "userDefinedRouting"


def test_rule_groups_are_written_one_at_a_time_before_the_firewall(prod):
    groups = {g.name: g for g in prod.of_type(Azure.FIREWALL_RULE_COLLECTION_GROUP)}
    assert [g.get("priority") for g in groups.values()] == [100, 200, 300]
    assert groups["egress-fw-ingress-dnat"].urn in groups["egress-fw-aks-egress"].dependencies
    assert groups["egress-fw-aks-egress"].urn in groups["egress-fw-mesh-egress"].dependencies
    assert {g.urn for g in groups.values()} <= set(prod.one(Azure.FIREWALL).dependencies)


def test_denied_and_allowed_flows_are_logged_to_the_workspace(prod):
    diag = prod.one(Azure.DIAGNOSTIC_SETTING, "egress-fw-diagnostics")
    assert diag.get("logAnalyticsDestinationType") == "Dedicated"
    assert {entry["category"] for entry in diag.get("logs")} >= {"AZFWApplicationRule", "AZFWNetworkRule"}
    assert diag.get("workspaceId").endswith("/workspaces/plat-prod-core-law")


def test_node_subnet_routes_everything_to_the_firewall_before_the_cluster_exists(prod):
    table = prod.one(Azure.ROUTE_TABLE)
    assert table.get("disableBgpRoutePropagation") is True
    nodes = prod.one(Azure.SUBNET, "core-nodes-subnet")
    assert nodes.get("routeTable.id").endswith("/routeTables/plat-prod-core-nodes-rt")
    default = prod.one(Azure.ROUTE, "egress-fw-default-route")
    assert default.get("addressPrefix") == "0.0.0.0/0"
    assert default.get("nextHopType") == "VirtualAppliance"
    assert default.get("nextHopIpAddress") == "10.40.8.4"  # Azure's first usable address of AzureFirewallSubnet
    cluster = prod.one(Azure.MANAGED_CLUSTER)
    assert cluster.get("networkProfile.outboundType") == "userDefinedRouting"
    assert {default.urn, prod.one(Azure.FIREWALL).urn} <= set(cluster.dependencies)


def test_ingress_comes_through_the_firewall_dnat_to_an_internal_load_balancer(prod):
    rules = rules_of(prod, "ingress-dnat")
    pip = prod.one(Azure.PUBLIC_IP_ADDRESS, "egress-fw-pip").outputs["ipAddress"]
    assert rules["ingress-443"]["destinationAddresses"] == [pip]
    assert rules["ingress-443"]["translatedAddress"] == "10.40.3.254"
    assert {r["destinationPorts"][0] for r in rules.values()} == {"80", "443"}
    release = next(r for r in prod.of_type(K8s.HELM_RELEASE) if r.get("name") == "istio-ingressgateway")
    annotations = release.get("values.service.annotations")
    assert annotations["service.beta.kubernetes.io/azure-load-balancer-internal"] == "true"
    assert annotations["service.beta.kubernetes.io/azure-load-balancer-ipv4"] == "10.40.3.254"
    # No public IP of its own: the address app teams point DNS at is the firewall's.
    assert [p.name for p in prod.of_type(Azure.PUBLIC_IP_ADDRESS)] == ["egress-fw-pip"]
    assert prod.outputs["ingressPublicIp"] == pip


def test_dev_keeps_load_balancer_outbound_and_builds_no_firewall(dev):
    assert dev.of_type(Azure.FIREWALL) == [] and dev.of_type(Azure.ROUTE_TABLE) == []
    assert dev.one(Azure.MANAGED_CLUSTER).get("networkProfile.outboundType") == "loadBalancer"
    assert dev.one(Azure.SUBNET, "core-nodes-subnet").get("routeTable") is None
