"""EgressFirewall as the program wires it: policy and rules from config, logs, the route, outboundType, ingress DNAT."""

from __future__ import annotations

import pytest

from components.firewall_rules import AKS_ADDON_FQDNS, AKS_FQDN_TAG, MESH_RULE, ingress_dnat_collections
from stack_config import parse_config
from stack_config.cluster import FIREWALL_PUBLIC_IPS_MAX
from tests.conftest import cached_stack_run, k8s_manifest, stack_raw_config
from tests.resource_types import Azure, K8s
from tests.test_config import problems_for, with_changes
from tools.program_runner import ProgramRun, run_program

HOSTS = ["login.microsoftonline.com", "graph.microsoft.com", "api.example.org"]


@pytest.fixture(scope="module")
def prod() -> ProgramRun:
    return run_program("prod", overrides={"egress": {"hosts": HOSTS}})


@pytest.fixture(scope="module")
def dev() -> ProgramRun:
    return cached_stack_run("dev")


def dev_behind_the_firewall(**network: object) -> dict:
    cluster = stack_raw_config("dev")["cluster"]
    cluster["network"].update(egressFirewall=True, **network)
    return cluster


@pytest.fixture(scope="module")
def dev_with_three_addresses() -> ProgramRun:
    """Dev behind the program's firewall with three public addresses: the one ingress shares, two SNAT-only."""
    return run_program("dev", overrides={"cluster": dev_behind_the_firewall(firewallPublicIps=3)})


def rules_of(run: ProgramRun, group: str) -> dict[str, dict]:
    collections = run.one(Azure.FIREWALL_RULE_COLLECTION_GROUP, f"egress-fw-{group}").get("ruleCollections")
    return {rule["name"]: rule for c in collections for rule in c["rules"]}


def test_firewall_standard_in_its_own_subnet_with_a_policy_that_denies_threats(prod):
    firewall = prod.one(Azure.FIREWALL)
    assert firewall.get("sku") == {"name": "AZFW_VNet", "tier": "Standard"}
    config = firewall.get("ipConfigurations")[0]
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
    run = run_stack("dev", overrides={"cluster": dev_behind_the_firewall()})
    rules = rules_of(run, "aks-egress")
    assert rules["aks-tunnel-udp-1194"]["destinationAddresses"] == ["AzureCloud.westeurope"]
    assert rules["aks-tunnel-tcp-9000"]["ipProtocols"] == ["TCP"]
    [vault_host] = rules["node-services"]["targetFqdns"]
    assert vault_host.endswith(".vault.azure.net")
    # nonprod's default: one address, the one ingress and egress share.
    assert [c["name"] for c in run.one(Azure.FIREWALL).get("ipConfigurations")] == ["ipconfig"]
    assert [p.name for p in run.of_type(Azure.PUBLIC_IP_ADDRESS)] == ["egress-fw-pip"]
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
    # No public IP of its own: the address app teams point DNS at is the firewall's first.
    assert {p.name for p in prod.of_type(Azure.PUBLIC_IP_ADDRESS)} == {"egress-fw-pip", *SNAT_PIPS}
    assert prod.outputs["ingressPublicIp"] == pip


# --------------------------------------------------------------------------- public IPs: SNAT ports

# Prod's default cluster.network.firewallPublicIps is 20 (AKS: "a minimum of 20 frontend IPs"): the first and 19 more.
SNAT_PIPS = [f"egress-fw-snat-pip-{n}" for n in range(1, 20)]
SNAT_CONFIGS = [f"snat-ipconfig-{n}" for n in range(1, 20)]


def pip_id(run: ProgramRun, name: str) -> str:
    return run.one(Azure.PUBLIC_IP_ADDRESS, name).id or ""


def test_prod_firewall_has_20_public_ips_the_first_unchanged(prod):
    first, *snat = prod.one(Azure.FIREWALL).get("ipConfigurations")
    # The first configuration and its address keep the names an existing stack has: no replacement on update.
    assert first["name"] == "ipconfig"
    assert first["subnet"]["id"].endswith("/subnets/AzureFirewallSubnet")
    assert first["publicIPAddress"]["id"] == pip_id(prod, "egress-fw-pip")
    assert pip_id(prod, "egress-fw-pip").endswith("/publicIPAddresses/plat-prod-egress-fw-pip")
    # The others add SNAT addresses only: no subnet (only the first configuration takes it).
    assert [c["name"] for c in snat] == SNAT_CONFIGS
    assert all("subnet" not in c for c in snat)
    assert [c["publicIPAddress"]["id"] for c in snat] == [pip_id(prod, n) for n in SNAT_PIPS]


def test_every_firewall_address_is_a_protected_zone_redundant_static_standard_ip(prod):
    for name in ["egress-fw-pip", *SNAT_PIPS]:
        pip = prod.one(Azure.PUBLIC_IP_ADDRESS, name)
        assert pip.get("sku") == {"name": "Standard", "tier": "Regional"}, name
        assert pip.get("publicIPAllocationMethod") == "Static" and pip.get("zones") == ["1", "2", "3"], name
        assert pip.protect is True, name  # partners allow-list them: prod must not lose one
        assert pip.get("tags.environment") == "prod" and pip.get("tags.managedBy") == "pulumi", name
    assert prod.one(Azure.PUBLIC_IP_ADDRESS, "egress-fw-pip").get("tags.platform-role") == "egress-firewall"
    snat = prod.one(Azure.PUBLIC_IP_ADDRESS, "egress-fw-snat-pip-1")
    assert snat.get("tags.platform-role") == "egress-firewall-snat"
    assert snat.get("publicIpAddressName") == "plat-prod-egress-fw-snat-pip-1"


def test_ingress_dnat_and_the_internet_route_use_the_first_address_only(prod):
    first = prod.one(Azure.PUBLIC_IP_ADDRESS, "egress-fw-pip").outputs["ipAddress"]
    destinations = {d for rule in rules_of(prod, "ingress-dnat").values() for d in rule["destinationAddresses"]}
    assert destinations == {first}
    assert prod.one(Azure.ROUTE, "egress-fw-public-ip-route").get("addressPrefix") == f"{first}/32"
    assert prod.outputs["ingressPublicIp"] == first
    # The SNAT-only addresses take no inbound traffic, so they need no route of their own.
    assert {r.name for r in prod.of_type(Azure.ROUTE)} == {"egress-fw-default-route", "egress-fw-public-ip-route"}


def test_a_nonprod_firewall_takes_the_configured_number_of_addresses(dev_with_three_addresses):
    run = dev_with_three_addresses
    configs = run.one(Azure.FIREWALL).get("ipConfigurations")
    assert [c["name"] for c in configs] == ["ipconfig", "snat-ipconfig-1", "snat-ipconfig-2"]
    pips = run.of_type(Azure.PUBLIC_IP_ADDRESS)
    assert {p.name for p in pips} == {"egress-fw-pip", "egress-fw-snat-pip-1", "egress-fw-snat-pip-2"}
    assert not any(p.protect for p in pips)  # nonprod: not protected, like the first


def test_the_address_limit_leaves_room_for_the_ingress_dnat_rules():
    """Azure: up to 250 public IPs, "However, DNAT destination rules also count toward the 250 maximum"."""
    net = parse_config(stack_raw_config("prod")).cluster.network
    [dnat] = ingress_dnat_collections(net, "203.0.113.10")
    rules = dnat.rules
    assert isinstance(rules, list)
    assert FIREWALL_PUBLIC_IPS_MAX + len(rules) == 250


def test_dev_keeps_load_balancer_outbound_and_builds_no_firewall(dev):
    assert dev.of_type(Azure.FIREWALL) == [] and dev.of_type(Azure.ROUTE_TABLE) == []
    assert dev.one(Azure.MANAGED_CLUSTER).get("networkProfile.outboundType") == "loadBalancer"
    assert dev.one(Azure.SUBNET, "core-nodes-subnet").get("routeTable") is None


# --------------------------------------------------------------------------- the nodes' way to a public API server


def test_a_public_api_server_behind_the_firewall_authorizes_every_firewall_address(dev_with_three_addresses):
    """Nodes reach the public endpoint from the firewall's SNAT addresses; without them no node ever joins."""
    run = dev_with_three_addresses
    addresses = [
        run.one(Azure.PUBLIC_IP_ADDRESS, name).outputs["ipAddress"]
        for name in ("egress-fw-pip", "egress-fw-snat-pip-1", "egress-fw-snat-pip-2")
    ]
    assert len(set(addresses)) == 3
    assert run.one(Azure.MANAGED_CLUSTER).get("apiServerAccessProfile.authorizedIPRanges") == [
        "203.0.113.0/24",  # the stack's own range, then ciRunnerCidrs (stack_config: merged in config)
        "198.51.100.16/28",
        *(f"{a}/32" for a in addresses),
    ]


HUB_SUBNET = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/spoke/providers/Microsoft.Network/"
    "virtualNetworks/spoke/subnets/nodes"
)


@pytest.mark.parametrize(
    ("case", "cluster_changes", "top_changes", "expected"),
    [
        # Private: no public endpoint, no authorized ranges at all.
        ("private", {"privateCluster": True}, {}, None),
        # No ranges is no restriction (AKS: "If you specify "" or no value ... authorized IP ranges is disabled").
        ("empty", {"apiServerAuthorizedIpRanges": []}, {"ciRunnerCidrs": []}, []),
    ],
)
def test_the_firewall_addresses_join_only_a_restricted_public_api_server(
    run_stack, case, cluster_changes, top_changes, expected
):
    cluster = {**dev_behind_the_firewall(), **cluster_changes}
    run = run_stack("dev", overrides={"cluster": cluster, **top_changes})
    assert run.of_type(Azure.FIREWALL), case
    assert run.one(Azure.MANAGED_CLUSTER).get("apiServerAccessProfile.authorizedIPRanges") == expected, case


def test_behind_a_hub_firewall_the_ranges_are_the_configured_ones(run_stack):
    """The program does not know a hub firewall's addresses: the operator lists them (docs/network.md)."""
    hosts = stack_raw_config("dev")["egress"]["hosts"]
    cluster = dev_behind_the_firewall(existingSubnetId=HUB_SUBNET, existingFirewallFqdns=hosts)
    run = run_stack("dev", overrides={"cluster": cluster})
    assert run.of_type(Azure.FIREWALL) == []
    assert run.one(Azure.MANAGED_CLUSTER).get("networkProfile.outboundType") == "userDefinedRouting"
    assert run.one(Azure.MANAGED_CLUSTER).get("apiServerAccessProfile.authorizedIPRanges") == [
        "203.0.113.0/24",
        "198.51.100.16/28",
    ]


def test_the_firewall_addresses_and_the_configured_ranges_fit_the_aks_limit():
    """AKS: "You can specify up to 200 authorized IP ranges" (2,000 with API Server VNet Integration)."""
    dev = {"cluster.network.egressFirewall": True}  # dev: two ranges, its own and the CI runners'
    [problem] = problems_for("dev", {**dev, "cluster.network.firewallPublicIps": 199})
    assert problem == (
        "cluster.network.firewallPublicIps: got 199; with 2 cluster.apiServerAuthorizedIpRanges (ciRunnerCidrs "
        "included) at most 198: every firewall address joins those ranges, and AKS accepts at most 200"
    )
    assert parse_config(with_changes("dev", {**dev, "cluster.network.firewallPublicIps": 198}))
    # No firewall address joins a private API server's (absent) ranges: no limit to meet.
    assert parse_config(
        with_changes("dev", {**dev, "cluster.network.firewallPublicIps": 248, "cluster.privateCluster": True})
    )
