"""Network rules: one egress allow-list at the mesh and the firewall, a closed outbound path, private vaults, NSGs."""

from __future__ import annotations

from typing import Any

from .common import (
    UNKNOWN,
    Ctx,
    Res,
    Stack,
    as_list,
    as_map,
    expect,
    maps,
    not_applicable,
    one_of_any_case,
    resource_rule,
    stack_rule,
    text,
)
from .frameworks import BOUNDARY, EGRESS

MANAGED_CLUSTER = "azure-native:containerservice:ManagedCluster"
VAULT = "azure-native:keyvault:Vault"
SUBNET = "azure-native:network:Subnet"
RULE_COLLECTION_GROUP = "azure-native:network:FirewallPolicyRuleCollectionGroup"
SERVICE_ENTRY = "networking.istio.io/ServiceEntry"
# The firewall application rule generated from egress.hosts (components/firewall_rules.py MESH_RULE).
MESH_RULE = "mesh-egress-allow-list"
# Subnets Azure reserves for a managed service that does not take a subnet NSG.
NSG_EXEMPT_SUBNETS = ("azurefirewallsubnet", "azurefirewallmanagementsubnet", "gatewaysubnet")


@resource_rule(
    name="network-aks-outbound-firewall",
    domain="network",
    targets=(MANAGED_CLUSTER,),
    severity="high",
    what="AKS sends outbound traffic through a route table to a firewall (networkProfile.outboundType: userDefinedRouting).",
    why="With load-balancer (or NAT gateway) outbound, nodes, kube-system and every pod the mesh does not capture reach any internet host: nothing denies or logs exfiltration outside the sidecars.",
    remediation="Set cluster.network.egressFirewall: true: the node subnet gets a route table to Azure Firewall and networkProfile.outboundType becomes userDefinedRouting.",
    frameworks=EGRESS,
)
def outbound_through_firewall(r: Res, ctx: Ctx) -> None:
    expect(
        r,
        ctx,
        "networkProfile.outboundType",
        one_of_any_case("userDefinedRouting"),
        "set userDefinedRouting with a default route to the firewall (unset means loadBalancer)",
    )


@resource_rule(
    name="network-keyvault-private",
    domain="network",
    targets=(VAULT,),
    severity="high",
    what="Key Vault is reachable only through a private endpoint (properties.publicNetworkAccess: Disabled).",
    why="The vault holds the sealing keys; with a public endpoint a leaked token or a too-wide firewall rule is usable from the internet.",
    remediation="Set keyVault.publicNetworkAccess: Disabled: the program adds a private endpoint, the privatelink.vaultcore.azure.net zone and its VNet links.",
    frameworks=BOUNDARY + ("NIST 800-53 SC-12",),
)
def keyvault_private(r: Res, ctx: Ctx) -> None:
    expect(
        r,
        ctx,
        "properties.publicNetworkAccess",
        one_of_any_case("Disabled"),
        "set it to Disabled (unset means Enabled)",
    )


@resource_rule(
    name="network-subnet-nsg",
    domain="network",
    targets=(SUBNET,),
    severity="medium",
    what="Every subnet has a network security group (except AzureFirewallSubnet, AzureFirewallManagementSubnet and GatewaySubnet, which Azure manages).",
    why="A subnet without an NSG accepts whatever routing lets in; the NSG is the layer that keeps the internet off nodes and private endpoints.",
    remediation="Create a NetworkSecurityGroup (deny inbound from Internet below the explicit allows) and set the subnet's networkSecurityGroup.id.",
    frameworks=BOUNDARY,
)
def subnet_nsg(r: Res, ctx: Ctx) -> None:
    name = r.get("subnetName")
    if not ctx.known(name, "subnetName"):
        return
    if isinstance(name, str) and name.lower() in NSG_EXEMPT_SUBNETS:
        return
    nsg = r.get("networkSecurityGroup")
    if not ctx.known(nsg, "networkSecurityGroup"):
        return
    nsg_id = as_map(nsg).get("id")
    if nsg_id is UNKNOWN:
        ctx.unknown("networkSecurityGroup.id")
    elif not (isinstance(nsg_id, str) and nsg_id):
        ctx.fail(f"subnet {name!r} has no networkSecurityGroup; attach one that denies inbound from the internet")


@stack_rule(
    name="network-egress-allow-list-consistent",
    domain="network",
    targets=(RULE_COLLECTION_GROUP, SERVICE_ENTRY),
    severity="high",
    what=f"The firewall's application rule {MESH_RULE!r} admits exactly the hosts of the mesh's external ServiceEntries.",
    why="One allow-list, two layers: a host only the mesh admits is dropped at the firewall (an outage), a host only the firewall admits is a way out beside the mesh for any pod it does not capture.",
    remediation=f"Generate both from egress.hosts: the firewall rule {MESH_RULE!r} (EgressFirewall) and the ServiceEntries (EgressGateway); never add a host to one alone.",
    frameworks=EGRESS,
)
def allow_list_consistent(stack: Stack, ctx: Ctx) -> None:
    groups = stack.of_types(RULE_COLLECTION_GROUP) or not_applicable(
        "the stack has no firewall policy rule collection group"
    )
    firewall, firewall_undecided = _mesh_rule_fqdns(groups, ctx)
    if firewall is None:
        ctx.fail(
            f"no firewall application rule named {MESH_RULE!r}: the mesh allow-list is not enforced at the network"
        )
        return
    mesh, mesh_undecided = _service_entry_hosts(stack, ctx)
    if firewall_undecided or mesh_undecided:
        return
    for host in sorted(mesh - firewall):
        ctx.fail(f"{host!r} is in the mesh allow-list (a ServiceEntry) but not in the firewall rule {MESH_RULE!r}")
    for host in sorted(firewall - mesh):
        ctx.fail(f"{host!r} is admitted by the firewall rule {MESH_RULE!r} but no ServiceEntry names it")


def _mesh_rule_fqdns(groups: list[Res], ctx: Ctx) -> tuple[set[str] | None, bool]:
    """The target FQDNs of every rule named MESH_RULE (None when there is none), and whether one is unknown."""
    found: set[str] | None = None
    undecided = False
    for group in groups:
        collections = group.get("ruleCollections")
        if not ctx.known(collections, f"{group.name}.ruleCollections"):
            undecided = True
            continue
        for collection in maps(collections):
            rules = collection.get("rules")
            if rules is UNKNOWN:
                ctx.unknown(f"{group.name}.ruleCollections.rules")
                undecided = True
                continue
            for rule in maps(rules):
                if rule.get("name") != MESH_RULE:
                    continue
                found = found if found is not None else set()
                undecided |= _collect(rule.get("targetFqdns"), found, ctx, f"{group.name}.{MESH_RULE}.targetFqdns")
    return found, undecided


def _service_entry_hosts(stack: Stack, ctx: Ctx) -> tuple[set[str], bool]:
    hosts: set[str] = set()
    undecided = False
    for entry in stack.k8s_of("networking.istio.io", "ServiceEntry"):
        spec = entry.get("spec")
        if not ctx.known(spec, f"{entry.name}.spec"):
            undecided = True
            continue
        location = as_map(spec).get("location")
        if location is UNKNOWN:
            ctx.unknown(f"{entry.name}.spec.location")
            undecided = True
            continue
        if location != "MESH_EXTERNAL":
            continue  # in-mesh registrations do not leave the network
        undecided |= _collect(as_map(spec).get("hosts"), hosts, ctx, f"{entry.name}.spec.hosts")
    return hosts, undecided


def _collect(values: Any, into: set[str], ctx: Ctx, path: str) -> bool:
    """Add the known host names in ``values`` (lower-case); True when one is unknown."""
    if not ctx.known(values, path):
        return True
    undecided = False
    for value in as_list(values):
        if value is UNKNOWN:
            ctx.unknown(path)
            undecided = True
        elif text(value):
            into.add(str(value).lower())
    return undecided
