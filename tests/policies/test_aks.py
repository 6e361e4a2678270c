"""aks rules through the analyzer beyond their one-field cases (test_one_field.py): version support levels, KMS."""

from __future__ import annotations

import pytest

from tests.policies.analyzer import (
    DELETE,
    UNKNOWN,
    analyze,
    names,
    report,
    set_path,
    valid_cluster,
    violations,
)
from tests.resource_types import Azure

RULE_SUPPORTED = "aks-kubernetes-version-supported"
RULE_KNOWN = "aks-kubernetes-version-known"


def test_an_ended_minor_is_mandatory_in_prod_advisory_in_dev_and_the_lts_plan_covers_it():
    ended = set_path(valid_cluster(), "kubernetesVersion", "1.33")  # standard support ended 2026-07-31
    assert names(violations(analyze(Azure.MANAGED_CLUSTER, ended, "prod")), "mandatory") == [RULE_SUPPORTED]
    assert names(violations(analyze(Azure.MANAGED_CLUSTER, ended, "dev")), "advisory") == [RULE_SUPPORTED]
    lts = set_path(set_path(ended, "supportPlan", "AKSLongTermSupport"), "sku.tier", "Premium")
    assert violations(analyze(Azure.MANAGED_CLUSTER, lts, "prod")) == [], report(
        analyze(Azure.MANAGED_CLUSTER, lts, "prod")
    )
    # The plan without the Premium tier is no LTS: AKS offers it on Premium only.
    no_premium = set_path(ended, "supportPlan", "AKSLongTermSupport")
    assert RULE_SUPPORTED in names(violations(analyze(Azure.MANAGED_CLUSTER, no_premium, "prod")))


@pytest.mark.parametrize("version", ["1.99", DELETE, "latest", 1.33])
def test_a_minor_without_known_dates_is_advisory_even_in_prod(version):
    diags = violations(analyze(Azure.MANAGED_CLUSTER, set_path(valid_cluster(), "kubernetesVersion", version), "prod"))
    assert names(diags) == [RULE_KNOWN], report(diags)
    assert names(diags, "advisory") == [RULE_KNOWN]


def test_an_unknown_version_at_preview_is_not_a_crash():
    diags = analyze(Azure.MANAGED_CLUSTER, set_path(valid_cluster(), "kubernetesVersion", UNKNOWN), "prod")
    assert names(violations(diags)) == []


RULE_KMS_VNET = "aks-kms-private-vault-vnet-integration"


def _without_vnet_integration(cluster: dict) -> dict:
    cluster = set_path(cluster, "apiServerAccessProfile.enableVnetIntegration", DELETE)
    return set_path(cluster, "apiServerAccessProfile.subnetId", DELETE)


def test_kms_on_a_private_vault_without_vnet_integration_is_refused_in_prod():
    diags = violations(analyze(Azure.MANAGED_CLUSTER, _without_vnet_integration(valid_cluster()), "prod"))
    assert names(diags, "mandatory") == [RULE_KMS_VNET], report(diags)
    assert any("Konnectivity isn't supported" in d.message for d in diags), report(diags)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("securityProfile.azureKeyVaultKms.keyVaultNetworkAccess", "Public"),  # Konnectivity or VNet Integration
        ("securityProfile.azureKeyVaultKms.keyVaultNetworkAccess", DELETE),  # unset means Public
    ],
)
def test_kms_on_a_public_vault_needs_no_vnet_integration(path, value):
    cluster = set_path(_without_vnet_integration(valid_cluster()), path, value)
    assert RULE_KMS_VNET not in names(violations(analyze(Azure.MANAGED_CLUSTER, cluster, "prod")))


def test_kms_vnet_rule_waits_for_an_unknown_access_mode_and_tolerates_odd_shapes():
    unknown = set_path(_without_vnet_integration(valid_cluster()), "securityProfile.azureKeyVaultKms", UNKNOWN)
    assert RULE_KMS_VNET not in names(violations(analyze(Azure.MANAGED_CLUSTER, unknown, "prod")))
    odd = set_path(valid_cluster(), "apiServerAccessProfile", "not-a-map")
    assert RULE_KMS_VNET in names(violations(analyze(Azure.MANAGED_CLUSTER, odd, "prod")))
