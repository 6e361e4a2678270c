"""Issue 13: what a real first `pulumi up` from CI needs, and what keeps state safe (config side).

Each test fails on the code before the fix: the deployer's principal type, the CI runner ranges fed to
both allow-lists, public-only vault rules.
"""

from __future__ import annotations

import pytest

from stack_config import ConfigError, parse_config
from stack_config.deployer import AZURE_CLI_USER, detect_deployer
from tests.conftest import stack_raw_config
from tests.test_config import problems_for, with_changes
from tools.program_runner import run_program

ROLE = "azure-native:authorization:RoleAssignment"
CI_ENV = {"ARM_USE_OIDC": "true", "ARM_CLIENT_ID": "a1b2c3d4-e5f6-4789-abcd-ef0123456789"}


# --------------------------------------------------------------------------- item 1: principal types


@pytest.mark.parametrize(
    ("env", "provider", "expected"),
    [
        (CI_ENV, {}, "ServicePrincipal"),  # the workflow's OIDC app
        ({}, {"azure-native:clientId": "x", "azure-native:useOidc": "true"}, "ServicePrincipal"),
        ({"ARM_CLIENT_ID": "x", "ARM_CLIENT_SECRET": "s"}, {}, "ServicePrincipal"),
        ({"ARM_USE_MSI": "true"}, {}, "ServicePrincipal"),  # a managed identity is a service principal to ARM
        ({}, {}, "User"),  # nothing configured: the Azure CLI's signed-in user
        ({"ARM_CLIENT_ID": "x"}, {}, "User"),  # a client ID alone is no credential: still the Azure CLI
    ],
)
def test_deployer_principal_type_is_detected_from_the_provider_credentials(env, provider, expected):
    assert detect_deployer(env, provider).principal_type == expected


def test_detected_type_is_the_config_default_and_an_explicit_value_wins():
    raw = stack_raw_config("dev")
    assert parse_config(raw).deployer_principal_type == "User"
    assert parse_config(raw, deployer=detect_deployer(CI_ENV, {})).deployer_principal_type == "ServicePrincipal"
    assert (
        parse_config({**raw, "deployerPrincipalType": "ServicePrincipal"}, deployer=AZURE_CLI_USER)
    ).deployer_principal_type == "ServicePrincipal"


def test_a_principal_type_the_credentials_contradict_is_a_config_error():
    raw = {**stack_raw_config("prod"), "deployerPrincipalType": "User"}
    with pytest.raises(ConfigError) as err:
        parse_config(raw, deployer=detect_deployer(CI_ENV, {}))
    assert any(
        p.startswith("deployerPrincipalType: got 'User'") and "UnmatchedPrincipalType" in p for p in err.value.problems
    )


def test_an_unknown_principal_type_and_an_undetectable_one_are_config_errors():
    problems = problems_for("dev", {"deployerPrincipalType": "Group"})
    assert any(p.startswith("deployerPrincipalType: got 'Group'; allowed: User, ServicePrincipal") for p in problems)
    with pytest.raises(ConfigError) as err:
        parse_config(
            stack_raw_config("dev"), deployer=detect_deployer({}, {"azure-native:useDefaultAzureCredential": "true"})
        )
    assert any(p.startswith("deployerPrincipalType: required") for p in err.value.problems)


@pytest.mark.parametrize("stack", ["dev", "prod", "nonprod-keys"])
def test_every_role_assignment_states_its_principal_type(stack):
    run = run_program(stack)
    roles = run.of_type(ROLE)
    assert roles
    missing = [r.name for r in roles if r.inputs.get("principalType") not in ("User", "ServicePrincipal", "Group")]
    assert missing == []


def test_the_deployer_role_assignment_follows_the_detected_type(monkeypatch):
    monkeypatch.setenv("ARM_USE_OIDC", "true")
    monkeypatch.setenv("ARM_CLIENT_ID", CI_ENV["ARM_CLIENT_ID"])
    run = run_program("nonprod-keys")
    officer = run.one(ROLE, "vault-deployer-secrets-officer")
    assert officer.inputs["principalType"] == "ServicePrincipal"


# --------------------------------------------------------------------------- item 2: CI runner ranges


def test_ci_runner_cidrs_join_both_allow_lists_once():
    cfg = parse_config(
        with_changes(
            "dev",
            {
                "ciRunnerCidrs": ["198.51.100.16/28", "203.0.113.0/24"],
                "cluster.apiServerAuthorizedIpRanges": ["203.0.113.0/24"],
                "keyVault.allowedCidrs": ["192.0.2.0/28"],
            },
        )
    )
    assert cfg.cluster.api_server_authorized_ip_ranges == ("203.0.113.0/24", "198.51.100.16/28")
    assert cfg.key_vault.allowed_cidrs == ("192.0.2.0/28", "198.51.100.16/28", "203.0.113.0/24")


def test_the_stacks_declare_the_ci_runners_once_and_both_lists_get_them():
    for stack in ("dev", "prod"):
        run = run_program(stack)
        cluster = run.one("azure-native:containerservice:ManagedCluster")
        vault = run.one("azure-native:keyvault:Vault")
        ranges = cluster.get("apiServerAccessProfile.authorizedIPRanges")
        rules = [r["value"] for r in vault.get("properties.networkAcls.ipRules")]
        assert "198.51.100.16/28" in rules
        if stack == "dev":
            assert "198.51.100.16/28" in ranges
        else:  # prod's API server is private: runners reach it through the peering (docs/network.md)
            assert ranges is None and cluster.get("apiServerAccessProfile.enablePrivateCluster") is True
    assert "ciRunnerCidrs" in stack_raw_config("nonprod-keys")


def test_ci_runner_cidrs_satisfy_the_prod_api_server_requirement():
    cfg = parse_config(
        with_changes("prod", {"ciRunnerCidrs": ["198.51.100.16/28"], "cluster.apiServerAuthorizedIpRanges": None})
    )
    assert cfg.cluster.api_server_authorized_ip_ranges == ("198.51.100.16/28",)


# --------------------------------------------------------------------------- item 5: public vault rules


@pytest.mark.parametrize(
    "cidr",
    ["10.1.0.0/16", "172.20.0.0/16", "192.168.1.0/24", "127.0.0.1/32", "169.254.0.0/16", "100.64.0.0/10", "0.0.0.0/0"],
)
def test_vault_ip_rules_and_ci_runners_accept_public_ranges_only(cidr):
    problems = problems_for("dev", {"keyVault.allowedCidrs": ["203.0.113.0/24", cidr], "ciRunnerCidrs": [cidr]})
    assert any(p.startswith(f"keyVault.allowedCidrs[1]: got '{cidr}'") and "public" in p for p in problems)
    assert any(p.startswith(f"ciRunnerCidrs[0]: got '{cidr}'") for p in problems)
