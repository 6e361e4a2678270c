"""Azure inputs against the installed azure-native SDK: a typo at any depth is reported with its path."""

from __future__ import annotations

import copy

import pytest

from tests.resource_types import Azure
from tools import azure_schema


@pytest.fixture
def vault(stack_run) -> dict:
    """The prod vault's recorded inputs, a copy to change one field of."""
    return copy.deepcopy(stack_run("prod").one(Azure.VAULT).inputs)


def problems(type_token: str, inputs: dict, secret_paths=()) -> dict[str, str]:
    return dict(azure_schema.check_inputs(type_token, inputs, secret_paths))


@pytest.mark.parametrize("stack", ["dev", "prod", "nonprod-keys"])
def test_the_real_stacks_send_only_what_the_sdk_declares(stack_run, stack):
    run = stack_run(stack)
    assert any(r.type.startswith("azure-native:") for r in run.resources)
    findings = azure_schema.check(run.resources)
    assert findings == [], "\n".join(map(str, findings))


def test_a_nested_typo_is_reported_with_its_path_and_the_right_name(vault):
    vault["properties"]["networkAcls"]["defaultActon"] = vault["properties"]["networkAcls"].pop("defaultAction")
    assert problems(Azure.VAULT, vault) == {
        "properties.networkAcls.defaultActon": "unknown property of NetworkRuleSetArgs (did you mean 'defaultAction'?)",
    }


def test_a_wrong_case_name_is_reported_as_such(stack_run):
    cluster = copy.deepcopy(stack_run("prod").one(Azure.MANAGED_CLUSTER).inputs)
    profile = cluster["autoUpgradeProfile"]
    profile["nodeOsUpgradeChannel"] = profile.pop("nodeOSUpgradeChannel")
    cluster["agentPoolProfiles"][0]["vmsize"] = cluster["agentPoolProfiles"][0].pop("vmSize")
    assert problems(Azure.MANAGED_CLUSTER, cluster) == {
        "autoUpgradeProfile.nodeOsUpgradeChannel": "unknown property of ManagedClusterAutoUpgradeProfileArgs "
        "(wrong case: the property is 'nodeOSUpgradeChannel')",
        "agentPoolProfiles[0].vmsize": "unknown property of ManagedClusterAgentPoolProfileArgs "
        "(wrong case: the property is 'vmSize')",
    }


def test_a_value_outside_a_closed_enum_is_reported(vault):
    # keyvault SkuName is typed as the bare enum in the SDK: the provider accepts nothing else.
    vault["properties"]["sku"]["name"] = "Standard"
    found = problems(Azure.VAULT, vault)
    assert found == {
        "properties.sku.name": "'Standard' is not a value of SkuName: allowed 'standard', 'premium' "
        "(did you mean 'standard'?)"
    }


def test_an_open_enum_accepts_a_new_value_but_not_another_type(vault):
    # keyvault SkuFamily is Union[str, SkuFamily] (an extensible Azure enum): new values are Azure's to add.
    vault["properties"]["sku"]["family"] = "B"
    assert problems(Azure.VAULT, vault) == {}
    vault["properties"]["sku"]["family"] = 1
    assert problems(Azure.VAULT, vault) == {"properties.sku.family": "expected a string (SkuFamily), got 1"}


def test_wrong_types_missing_and_empty_required_values_are_reported(vault):
    vault["properties"]["enableSoftDelete"] = "true"
    vault["properties"]["tenantId"] = ""
    vault["properties"]["networkAcls"]["ipRules"] = {"value": "203.0.113.0/24"}
    del vault["resourceGroupName"]
    assert problems(Azure.VAULT, vault) == {
        "properties.enableSoftDelete": "expected bool, got 'true'",
        "properties.tenantId": "required by VaultPropertiesArgs, empty",
        "properties.networkAcls.ipRules": "expected a list, got {'value': '203.0.113.0/24'}",
        "resourceGroupName": "required by VaultArgs, missing",
    }


def test_unknown_values_are_not_checked(vault):
    vault["properties"]["tenantId"] = None  # an Output not resolved at preview time
    assert problems(Azure.VAULT, vault) == {}


def test_a_secret_value_is_never_shown(stack_run):
    secret = copy.deepcopy(stack_run("prod").one(Azure.VAULT_SECRET, "sealing-key-vault-secret-1"))
    assert secret.secret_paths
    secret.inputs["properties"]["value"] = 12345
    found = problems(secret.type, secret.inputs, secret.secret_paths)
    assert found == {"properties.value": "expected str, got [secret]"}


def test_a_type_the_sdk_does_not_have_is_a_finding_not_a_crash():
    class Resource:
        type, name, urn, inputs, secret_paths = "azure-native:keyvault/v20990101:Vault", "v", "urn:v", {}, []

    (finding,) = azure_schema.check([Resource()])
    assert "not a resource of the installed pulumi_azure_native" in finding.message
    assert finding.level == "mandatory"


def test_a_resource_named_like_a_nested_type_uses_its_own_arguments(stack_run):
    # network.VirtualNetworkArgs is a peering's remote network; the resource's own are VirtualNetworkInitArgs.
    assert azure_schema.args_class(Azure.VIRTUAL_NETWORK).__name__ == "VirtualNetworkInitArgs"
    vnet = stack_run("prod").one(Azure.VIRTUAL_NETWORK)
    assert problems(vnet.type, vnet.inputs) == {}
