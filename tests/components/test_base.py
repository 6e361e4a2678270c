"""PlatformBase: resource group, node network (or an existing subnet) and the Log Analytics workspace."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Any

import pytest

from stack_config import load_config, parse_config
from tests.components import wiring
from tests.conftest import HUB_NODE_SUBNET, prod_behind_a_hub_config, stack_raw_config
from tests.resource_types import Azure


def build_base(raw: dict[str, Any] | None = None, names: tuple[str, ...] = ("core",)) -> Callable[[], None]:
    """The program: the base component(s), from ``raw`` config or else the stack's own."""

    def build() -> None:
        cfg = parse_config(raw) if raw is not None else load_config()
        for name in names:
            base = wiring.platform_base(cfg, name)
            wiring.export_attributes(
                base,
                name,
                "resource_group_name",
                "resource_group_id",
                "vnet_id",
                "node_subnet_id",
                "log_analytics_workspace_id",
            )

    return build


build = build_base()


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_resource_group_is_named_from_prefix_environment_and_component(build_run, stack):
    run = build_run(stack)
    rg = run.one(Azure.RESOURCE_GROUP, "core-rg")
    assert rg.get("resourceGroupName") == f"plat-{stack}-core-rg"
    assert rg.get("location") == "westeurope"
    assert rg.get("tags.costCenter") == "cc-4711"
    assert rg.get("tags.environment") == stack
    assert run.outputs["core.resource_group_name"] == f"plat-{stack}-core-rg"
    assert run.outputs["core.resource_group_id"].endswith(f"/resourceGroups/plat-{stack}-core-rg")


@pytest.mark.parametrize(
    "stack, vnet_cidr, subnet_cidr",
    [
        ("dev", "10.20.0.0/16", "10.20.0.0/22"),
        ("prod", "10.40.0.0/16", "10.40.0.0/22"),
    ],
)
def test_vnet_and_node_subnet_come_from_config_cidrs(build_run, stack, vnet_cidr, subnet_cidr):
    run = build_run(stack)
    vnet = run.one(Azure.VIRTUAL_NETWORK)
    subnet = run.one(Azure.SUBNET)
    assert vnet.get("addressSpace.addressPrefixes") == [vnet_cidr]
    assert vnet.get("virtualNetworkName") == f"plat-{stack}-core-vnet"
    assert vnet.get("subnets") is None  # the standalone Subnet owns the subnet list
    assert subnet.get("addressPrefix") == subnet_cidr
    assert subnet.get("virtualNetworkName") == f"plat-{stack}-core-vnet"
    assert subnet.get("resourceGroupName") == f"plat-{stack}-core-rg"
    assert subnet.get("defaultOutboundAccess") is False
    assert run.outputs["core.node_subnet_id"] == subnet.id
    assert run.outputs["core.vnet_id"] == vnet.id


@pytest.mark.parametrize("stack, retention", [("dev", 30), ("prod", 365)])
def test_workspace_retention_comes_from_config(build_run, stack, retention):
    run = build_run(stack)
    law = run.one(Azure.LOG_ANALYTICS_WORKSPACE)
    assert law.get("retentionInDays") == retention
    assert law.get("sku.name") == "PerGB2018"
    assert law.get("workspaceName") == f"plat-{stack}-core-law"
    assert law.get("features.enableLogAccessUsingOnlyResourcePermissions") is True
    assert run.outputs["core.log_analytics_workspace_id"] == law.id


def test_workspace_retention_override_is_applied(run_component):
    raw = stack_raw_config("dev")
    raw["cluster"]["logRetentionDays"] = 180
    run = run_component(build_base(raw))
    assert run.one(Azure.LOG_ANALYTICS_WORKSPACE).get("retentionInDays") == 180


def test_existing_subnet_id_creates_no_network(run_component):
    run = run_component(build_base(prod_behind_a_hub_config()), stack="prod")
    assert run.of_type(Azure.VIRTUAL_NETWORK) == [] and run.of_type(Azure.SUBNET) == []
    assert run.outputs["core.node_subnet_id"] == HUB_NODE_SUBNET
    assert run.outputs["core.vnet_id"] is None
    # The firewall is someone else's: the ingress keeps a public IP of its own, in its own group.
    assert {r.name for r in run.of_type(Azure.RESOURCE_GROUP)} == {"core-rg", "core-ingress-rg"} and len(
        run.of_type(Azure.LOG_ANALYTICS_WORKSPACE)
    ) == 1


@pytest.mark.parametrize("protect", [True, False])
def test_ingress_ip_group_is_a_second_group_tagged_for_the_ingress_and_protected_with_the_first(run_component, protect):
    def build() -> None:
        base = wiring.platform_base(load_config(), ingress_ip_group=True, protect=protect)
        wiring.export_attributes(base, "core", "ingress_ip_resource_group_name")

    run = run_component(build)
    main, ip_group = run.one(Azure.RESOURCE_GROUP, "core-rg"), run.one(Azure.RESOURCE_GROUP, "core-ingress-rg")
    assert ip_group.get("resourceGroupName") == "plat-dev-core-ingress-rg"
    assert ip_group.get("tags") == {**main.get("tags"), "platform-role": "ingress"}
    assert ip_group.protect is main.protect is protect
    assert run.outputs["core.ingress_ip_resource_group_name"] == "plat-dev-core-ingress-rg"


@pytest.mark.parametrize("stack, groups", [("dev", ["core-rg", "core-ingress-rg"]), ("prod", ["core-rg"])])
def test_the_ingress_ip_gets_its_group_unless_behind_the_programs_firewall(build_run, stack, groups):
    # program/foundation.py: behind its own firewall (prod) the ingress is reached through the DNAT, with no IP.
    assert sorted(r.name for r in build_run(stack).of_type(Azure.RESOURCE_GROUP)) == sorted(groups)


def test_no_ingress_ip_group_unless_asked(run_component):
    def build() -> None:
        wiring.platform_base(load_config(), ingress_ip_group=False)

    assert [r.name for r in run_component(build).of_type(Azure.RESOURCE_GROUP)] == ["core-rg"]


def test_key_owner_stack_gets_resource_group_and_workspace_only(build_run):
    run = build_run("nonprod-keys")
    # Protected and locked like the shared keys its vault holds (program/foundation.py).
    assert sorted(r.type for r in run.resources if r.custom) == sorted(
        [Azure.RESOURCE_GROUP, Azure.LOG_ANALYTICS_WORKSPACE, Azure.RESOURCE_GROUP_LOCK]
    )
    assert run.one(Azure.RESOURCE_GROUP).get("resourceGroupName") == "plat-nonprod-keys-core-rg"
    assert run.outputs["core.node_subnet_id"] is None
    assert run.outputs["core.vnet_id"] is None


def test_every_child_is_parented_to_the_component(build_run):
    run = build_run("dev")
    component = run.one("platform:base:PlatformBase", "core")
    children = [r for r in run.resources if r.custom]
    assert children and all(r.parent == component.urn for r in children)


def test_two_instances_do_not_collide(run_component):
    run = run_component(build_base(stack_raw_config("dev"), names=("core", "edge")))
    # Each instance: its group and its ingress IP's group, a VNet, a workspace.
    for token, key, count in (
        (Azure.RESOURCE_GROUP, "resourceGroupName", 4),
        (Azure.VIRTUAL_NETWORK, "virtualNetworkName", 2),
        (Azure.LOG_ANALYTICS_WORKSPACE, "workspaceName", 2),
    ):
        found = run.of_type(token)
        assert len(found) == count
        assert len({r.name for r in found}) == count, f"{token}: Pulumi names collide"
        assert len({r.get(key) for r in found}) == count, f"{token}: Azure names collide"


def test_invalid_component_name_is_rejected(run_component):
    def build() -> None:
        wiring.platform_base(parse_config(stack_raw_config("dev")), "Core_1")

    with pytest.raises(ValueError, match="PlatformBase name 'Core_1'"):
        run_component(build)


def _takes_tags(type_token: str) -> bool:
    """Whether the azure-native resource's SDK ``*Args`` has a ``tags`` parameter."""
    _, module, name = type_token.split(":")
    args = getattr(importlib.import_module(f"pulumi_azure_native.{module}"), f"{name}Args")
    return "tags" in inspect.signature(args.__init__).parameters


@pytest.mark.parametrize("stack", ["dev", "prod", "nonprod-keys"])
def test_every_taggable_azure_resource_carries_the_platform_tags(stack_run, raw_config, stack):
    expected = {**raw_config(stack)["tags"], "environment": stack, "managedBy": "pulumi"}
    taggable = [r for r in stack_run(stack).resources if r.type.startswith("azure-native:") and _takes_tags(r.type)]
    assert {r.type for r in taggable} >= {
        Azure.RESOURCE_GROUP,
        Azure.VAULT,
        Azure.VAULT_SECRET,
    }
    for r in taggable:
        assert expected.items() <= (r.get("tags") or {}).items(), r.name
