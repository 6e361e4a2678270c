"""Every spelling of a resource meets the same rules: azure-native API-version tokens and Kubernetes ``*Patch``."""

from __future__ import annotations

import pytest

from tests.policies.analyzer import (
    StackResource,
    analyze,
    analyze_stack,
    k8s,
    names,
    report,
    set_path,
    valid_cluster,
    valid_deployment,
    valid_vault,
    violations,
)


@pytest.mark.parametrize("version", ["v20240401", "v20230701", "v20250501preview"])
def test_a_versioned_insecure_vault_is_blocked(version):
    token = f"azure-native:keyvault/{version}:Vault"
    assert names(violations(analyze(token, valid_vault()))) == [], report(analyze(token, valid_vault()))
    diags = violations(analyze(token, set_path(valid_vault(), "properties.enablePurgeProtection", False)))
    assert names(diags, "mandatory") == ["keyvault-purge-protection"], report(diags)


def test_a_versioned_cluster_meets_the_cluster_rules():
    token = "azure-native:containerservice/v20240902preview:ManagedCluster"
    diags = violations(analyze(token, set_path(valid_cluster(), "disableLocalAccounts", False)))
    assert names(diags, "mandatory") == ["aks-local-accounts-disabled"], report(diags)


def test_stack_rules_find_versioned_resources():
    vault = StackResource("azure-native:keyvault/v20240401:Vault", "vault", valid_vault(), protect=False)
    diags = violations(analyze_stack([vault], with_resources=False))
    assert "keyvault-protected" in names(diags, "mandatory"), report(diags)


def test_a_deployment_patch_that_makes_a_container_privileged_is_blocked():
    patch = set_path(valid_deployment(), "spec.template.spec.containers.0.securityContext.privileged", True)
    patch["kind"] = "Deployment"
    diags = violations(analyze("kubernetes:apps/v1:DeploymentPatch", patch))
    assert "k8s-no-privileged-containers" in names(diags, "mandatory"), report(diags)
    assert names(violations(analyze("kubernetes:apps/v1:DeploymentPatch", valid_deployment()))) == []


def test_a_service_patch_that_opens_a_load_balancer_is_blocked():
    patch = k8s("v1", "Service", "storefront", "shop", {"type": "LoadBalancer"})
    diags = violations(analyze("kubernetes:core/v1:ServicePatch", patch))
    assert names(diags, "mandatory") == ["k8s-no-loadbalancer-outside-gateways"], report(diags)
