"""Issue 13: what a real first `pulumi up` from CI needs, and what keeps state safe (config side).

Each test fails on the code before the fix: the deployer's principal type, the CI runner ranges fed to
both allow-lists, public-only vault rules.
"""

from __future__ import annotations

import re

import pytest

from stack_config import ConfigError, parse_config
from stack_config.deployer import AZURE_CLI_USER, detect_deployer
from tests.conftest import (
    cached_stack_run,
    is_network_contributor,
    prod_behind_a_hub_config,
    role_grants,
    stack_raw_config,
)
from tests.resource_types import Azure, K8s
from tests.test_config import problems_for, with_changes
from tools.program_runner import run_program

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
    run = cached_stack_run(stack)
    roles = run.of_type(Azure.ROLE_ASSIGNMENT)
    assert roles
    missing = [r.name for r in roles if r.inputs.get("principalType") not in ("User", "ServicePrincipal", "Group")]
    assert missing == []


def test_the_deployer_role_assignment_follows_the_detected_type(monkeypatch):
    monkeypatch.setenv("ARM_USE_OIDC", "true")
    monkeypatch.setenv("ARM_CLIENT_ID", CI_ENV["ARM_CLIENT_ID"])
    run = run_program("nonprod-keys")
    officer = run.one(Azure.ROLE_ASSIGNMENT, "vault-deployer-secrets-officer")
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
        run = cached_stack_run(stack)
        cluster = run.one(Azure.MANAGED_CLUSTER)
        vault = run.one(Azure.VAULT)
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


# --------------------------------------------------------------------------- item 5: values Azure refuses


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"environment": ""}, "environment"),
        ({"ingress.jwtIssuers": [{**stack_raw_config("prod")["ingress"]["jwtIssuers"][0], "issuer": ""}]}, "issuer"),
        (
            {"ingress.jwtIssuers": [{**stack_raw_config("prod")["ingress"]["jwtIssuers"][0], "audiences": [""]}]},
            "audiences[0]",
        ),
        (
            {
                "ingress.jwtIssuers": [
                    {**stack_raw_config("prod")["ingress"]["jwtIssuers"][0], "requiredClaims": {"roles": [""]}}
                ]
            },
            "requiredClaims.roles",
        ),
    ],
)
def test_an_empty_string_is_not_a_value(changes, path):
    problems = problems_for("prod", changes)
    assert any(p.split(":")[0].endswith(path) for p in problems), problems


def test_a_cluster_without_its_identities_is_a_clear_error_not_an_empty_principal(monkeypatch):
    from tools import mocks

    real = mocks._RESOURCE_OUTPUTS[Azure.MANAGED_CLUSTER]

    def without_identities(m, args):
        rid, state = real(m, args)
        state["identity"] = {"type": "SystemAssigned"}
        state["addonProfiles"] = {k: {**v, "identity": None} for k, v in state["addonProfiles"].items()}
        return rid, state

    monkeypatch.setitem(mocks._RESOURCE_OUTPUTS, Azure.MANAGED_CLUSTER, without_identities)
    recorded: list = []
    with pytest.raises(Exception, match="control-plane identity is missing|add-on identity is missing"):
        run_program("dev", recorded=recorded)
    assert not [r for r in recorded if r.type == Azure.ROLE_ASSIGNMENT and r.inputs.get("principalId") in ("", None)]


# --------------------------------------------------------------------------- item 7: blast radius


def _ingress_annotations(run) -> dict[str, str]:
    release = run.one(K8s.HELM_RELEASE, "ingress-release")
    return release.inputs["values"]["service"]["annotations"]


def test_the_cluster_identity_is_network_contributor_on_the_ingress_ip_group_not_the_platform_group():
    # A public-IP ingress (dev): the grant AKS needs for an IP outside the node resource group
    # (learn.microsoft.com/azure/aks/static-ip) covers a group that holds that IP and nothing else.
    run = cached_stack_run("dev")
    platform_group = run.one(Azure.RESOURCE_GROUP, "core-rg")
    ip_group = run.one(Azure.RESOURCE_GROUP, "core-ingress-rg")
    assert ip_group.inputs["resourceGroupName"] == "plat-dev-core-ingress-rg"
    assert ip_group.inputs["location"] == platform_group.inputs["location"]
    assert ip_group.inputs["tags"] == {**platform_group.inputs["tags"], "platform-role": "ingress"}
    pip = run.one(Azure.PUBLIC_IP_ADDRESS, "ingress-pip")
    assert pip.inputs["resourceGroupName"] == "plat-dev-core-ingress-rg"
    assert pip.inputs["tags"]["platform-role"] == "ingress" and pip.inputs["tags"]["costCenter"] == "cc-4711"
    # Nothing else lives in the IP's group.
    placed = [
        r.name
        for r in run.resources
        if r.type != Azure.RESOURCE_GROUP and r.inputs.get("resourceGroupName") == pip.inputs["resourceGroupName"]
    ]
    assert placed == ["ingress-pip"]
    grant = run.one(Azure.ROLE_ASSIGNMENT, "ingress-pip-network-contributor")
    assert grant.inputs["scope"] == ip_group.id
    grants = role_grants(run, grant.inputs["principalId"])
    assert platform_group.id not in grants
    # Besides the IP's group, only the node subnet (join/read, which the internal-LB path needs too).
    subnet = run.one(Azure.SUBNET, "core-nodes-subnet")
    assert set(grants) == {ip_group.id, subnet.id}
    assert all(is_network_contributor(g) for g in grants.values())
    # The Service names the IP and its group, so the cloud provider looks there.
    annotations = _ingress_annotations(run)
    assert annotations["service.beta.kubernetes.io/azure-load-balancer-resource-group"] == "plat-dev-core-ingress-rg"
    assert annotations["service.beta.kubernetes.io/azure-pip-name"] == pip.inputs["publicIpAddressName"]


def test_behind_the_firewall_there_is_no_ingress_ip_group_and_no_group_wide_grant():
    # Prod: the firewall's DNAT reaches an internal load balancer in the node subnet, whose join/read the
    # subnet grant already covers (learn.microsoft.com/azure/aks/internal-lb); no group-wide grant at all.
    run = cached_stack_run("prod")
    assert [r.name for r in run.of_type(Azure.RESOURCE_GROUP)] == ["core-rg"]
    subnet_grant = run.one(Azure.ROLE_ASSIGNMENT, "aks-subnet-network-contributor")
    grants = role_grants(run, subnet_grant.inputs["principalId"])
    assert not [scope for scope in grants if scope.rstrip("/").split("/")[-2] == "resourceGroups"]
    annotations = _ingress_annotations(run)
    assert annotations["service.beta.kubernetes.io/azure-load-balancer-internal"] == "true"
    assert "service.beta.kubernetes.io/azure-load-balancer-internal-subnet" not in annotations  # the node subnet


def test_the_ingress_ip_group_and_its_ip_are_protected_in_prod():
    # Prod behind a hub's firewall (existingSubnetId) keeps a public-IP ingress: its group and IP are protected.
    run = run_program("prod", overrides={"cluster": prod_behind_a_hub_config()["cluster"]})
    ip_group = run.one(Azure.RESOURCE_GROUP, "core-ingress-rg")
    assert ip_group.protect is True and run.one(Azure.PUBLIC_IP_ADDRESS, "ingress-pip").protect is True
    assert run.one(Azure.ROLE_ASSIGNMENT, "ingress-pip-network-contributor").inputs["scope"] == ip_group.id


# --------------------------------------------------------------------------- item 8: state safety

SETTINGS = {
    "namePrefix": "plat",
    "environment": "dev",
    "location": "westeurope",
    "keyVault.softDeleteRetentionDays": "90",
}


@pytest.mark.parametrize(
    ("recorded", "key"),
    [
        ({**SETTINGS, "namePrefix": "old"}, "namePrefix"),
        ({**SETTINGS, "location": "northeurope"}, "location"),
        ({**SETTINGS, "environment": "dev2"}, "environment"),
        ({**SETTINGS, "keyVault.softDeleteRetentionDays": "30"}, "keyVault.softDeleteRetentionDays"),
    ],
)
def test_a_change_that_replaces_the_stack_is_refused_before_anything_is_placed(recorded, key):
    placed: list = []
    # The engine reports the ConfigError's text, wrapped in the resource that was waiting for it.
    with pytest.raises(ValueError, match=rf"- {re.escape(key)}: got .* this stack was deployed with .*allowRename"):
        run_program("dev", stack_references={"contoso/platform/dev": {"stackSettings": recorded}}, recorded=placed)
    assert not [r for r in placed if r.type == Azure.RESOURCE_GROUP]


def test_allow_rename_lets_the_change_through_and_a_new_stack_has_nothing_to_compare():
    recorded = {"stackSettings": {**SETTINGS, "namePrefix": "old"}}
    run = run_program("dev", overrides={"allowRename": True}, stack_references={"contoso/platform/dev": recorded})
    assert run.outputs["stackSettings"] == SETTINGS
    assert cached_stack_run("dev").outputs["stackSettings"] == SETTINGS  # first deployment: no previous outputs


LONG_LIVED = (
    Azure.RESOURCE_GROUP,
    Azure.VIRTUAL_NETWORK,
    Azure.SUBNET,
    Azure.LOG_ANALYTICS_WORKSPACE,
    Azure.VAULT,
)


@pytest.mark.parametrize(("stack", "protected"), [("prod", True), ("nonprod-keys", True), ("dev", False)])
def test_long_lived_resources_are_protected_and_locked_in_prod_and_on_the_key_owner(stack, protected):
    run = cached_stack_run(stack)
    # The foundation (PlatformBase: group, VNet, node subnet, workspace) and the vault.
    for typ in LONG_LIVED:
        for r in run.of_type(typ):
            if typ == Azure.VAULT or r.parent.endswith("platform:base:PlatformBase::core"):
                assert r.protect is protected, (typ, r.name)
    locks = run.of_type(Azure.RESOURCE_GROUP_LOCK)
    if protected:
        (lock,) = locks
        assert lock.inputs["level"] == "CanNotDelete"
        # The locked group is the one holding the vault (and, in an environment, the cluster).
        locked = lock.inputs["resourceGroupName"]
        assert run.one(Azure.VAULT).inputs["resourceGroupName"] == locked
        for cluster in run.of_type(Azure.MANAGED_CLUSTER):
            assert cluster.inputs["resourceGroupName"] == locked
        assert lock.protect
    else:
        assert locks == []


# --------------------------------------------------------------------------- item 4: the first `up`


def test_the_key_vault_gateway_release_does_not_wait_for_a_certificate_that_does_not_exist_yet():
    run = cached_stack_run("prod")
    release = run.one(K8s.HELM_RELEASE, "ingress-release")
    assert release.inputs.get("skipAwait") is True
    # The CSI volume stays mounted: the pods start once the certificate is in the vault.
    assert any(v.get("csi") for v in release.inputs["values"]["volumes"])
    egress = run.one(K8s.HELM_RELEASE, "egress-release")
    assert not egress.inputs.get("skipAwait")  # the egress gateway needs no certificate: Helm still waits


def test_every_host_must_be_covered_by_the_declared_key_vault_certificate_names():
    problems = problems_for("prod", {"ingress.tlsCertificateDnsNames": ["*.apps.example.com"]})
    assert any(p.startswith("ingress.hosts[1]: got 'api.example.com'") and "not covered" in p for p in problems)
    assert any(
        p.startswith("ingress.tlsCertificateDnsNames: required")
        for p in problems_for("prod", {"ingress.tlsCertificateDnsNames": None})
    )
    # A wildcard covers exactly one label; a wildcard host needs the same wildcard.
    from stack_config.edges import host_covered

    assert host_covered("shop.apps.example.com", ["*.apps.example.com"])
    assert not host_covered("a.shop.apps.example.com", ["*.apps.example.com"])
    assert not host_covered("*.apps.example.com", ["shop.apps.example.com"])
    assert host_covered("*.apps.example.com", ["*.apps.example.com"])


def _certificate(names: list[str]) -> str:
    """A throwaway self-signed certificate with these DNS names (generated here, never stored)."""
    from cryptography.hazmat.primitives.asymmetric import ec

    from tools.mocks import self_signed_certificate

    return self_signed_certificate(ec.generate_private_key(ec.SECP256R1()), names[0], days=1, dns_names=names)


def test_a_config_certificate_must_cover_every_host():
    from stack_config.edges import check_certificate_covers

    pem = _certificate(["*.apps.example.com"])
    assert check_certificate_covers(pem, ["*.apps.example.com", "shop.apps.example.com"]) == pem
    with pytest.raises(ConfigError, match="'api.example.com' is not covered"):
        check_certificate_covers(pem, ["*.apps.example.com", "api.example.com"])
    # Unreadable (the offline preview's placeholder for a secret): nothing to check, the value passes on.
    assert check_certificate_covers("[placeholder]", ["api.example.com"]) == "[placeholder]"


def test_a_config_certificate_that_misses_a_host_fails_the_program():
    from stack_config import INGRESS_TLS_CERT_KEY, INGRESS_TLS_KEY_KEY
    from tools.mocks import fake_private_key
    from tools.program_runner import load_stack_config

    ingress = {**stack_raw_config("prod")["ingress"], "tlsSource": "config"}
    config, secret_keys = load_stack_config("prod", overrides={"ingress": ingress})
    config[f"platform:{INGRESS_TLS_CERT_KEY}"] = _certificate(["*.apps.example.com"])
    config[f"platform:{INGRESS_TLS_KEY_KEY}"] = fake_private_key("san-test")
    secret_keys += [f"platform:{INGRESS_TLS_CERT_KEY}", f"platform:{INGRESS_TLS_KEY_KEY}"]
    with pytest.raises(ValueError, match="'api.example.com' is not covered by the certificate"):
        run_program("prod", config=(config, secret_keys))
