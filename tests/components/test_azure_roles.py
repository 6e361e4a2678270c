"""Azure built-in roles: the GUIDs Microsoft publishes, and role definition IDs that are valid or an error."""

from __future__ import annotations

import pytest

from components import azure_roles
from components.azure_roles import (
    NETWORK_CONTRIBUTOR,
    resource_group_id,
    role_definition_id,
)

SUBSCRIPTION = "8c3f5d2a-1b4e-4f6a-9d7c-2e5b8a1c4f90"
PIP = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/plat-prod-rg/providers/Microsoft.Network/publicIPAddresses/ip"


def test_guids_are_microsofts_built_in_roles():
    # learn.microsoft.com/azure/role-based-access-control/built-in-roles (networking, security): the role's "name".
    assert {
        "Network Contributor": azure_roles.NETWORK_CONTRIBUTOR,
        "Key Vault Secrets Officer": azure_roles.KEY_VAULT_SECRETS_OFFICER,
        "Key Vault Secrets User": azure_roles.KEY_VAULT_SECRETS_USER,
        "Key Vault Certificate User": azure_roles.KEY_VAULT_CERTIFICATE_USER,
    } == {
        "Network Contributor": "4d97b98b-1d4f-4787-a291-c67834d212e7",
        "Key Vault Secrets Officer": "b86a8fe4-44ce-4948-aee5-eccb2c155cd7",
        "Key Vault Secrets User": "4633458b-17de-408a-b874-0445c86b69e6",
        "Key Vault Certificate User": "db79e9a7-68ee-4b58-9aeb-b90e7c24fcba",
    }


@pytest.mark.parametrize(
    "scope",
    [
        PIP,
        f"/subscriptions/{SUBSCRIPTION}",
        f"/subscriptions/{SUBSCRIPTION}/resourceGroups/plat-prod-rg",
        f"/SUBSCRIPTIONS/{SUBSCRIPTION}/resourceGroups/plat-prod-rg/providers/Microsoft.KeyVault/vaults/kv/secrets/s",
    ],
)
def test_role_definition_id_lives_in_the_scopes_subscription(scope):
    assert role_definition_id(scope, NETWORK_CONTRIBUTOR) == (
        f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Authorization/roleDefinitions/{NETWORK_CONTRIBUTOR}"
    )


@pytest.mark.parametrize(
    "scope",
    [
        "",
        "plat-prod-rg",  # a resource group name is not a scope
        "subscriptions/abc/resourceGroups/rg",  # no leading slash
        "/subscriptions/",
        "/subscriptions//resourceGroups/rg",
        "/providers/Microsoft.Management/managementGroups/mg",
    ],
)
def test_a_scope_that_is_not_an_arm_id_is_an_error_not_a_malformed_id(scope):
    # One of the three former copies turned these into "/subscriptions//providers/...", which Azure
    # rejects only when the role assignment is created.
    with pytest.raises(ValueError, match="not an ARM scope"):
        role_definition_id(scope, NETWORK_CONTRIBUTOR)


def test_resource_group_id_of_an_arm_id():
    assert resource_group_id(PIP) == f"/subscriptions/{SUBSCRIPTION}/resourceGroups/plat-prod-rg"
    with pytest.raises(ValueError, match="not a resource-group-scoped"):
        resource_group_id(f"/subscriptions/{SUBSCRIPTION}")
    with pytest.raises(ValueError, match="not an ARM scope"):
        resource_group_id("plat-prod-rg")


def test_cluster_namespace_scope_is_below_the_cluster():
    cluster = (
        f"/subscriptions/{SUBSCRIPTION}/resourceGroups/plat-prod-rg/providers/"
        "Microsoft.ContainerService/managedClusters/plat-prod-aks"
    )
    assert azure_roles.cluster_namespace_scope(cluster, "shop") == f"{cluster}/namespaces/shop"
    with pytest.raises(ValueError, match="not an AKS cluster ID"):
        azure_roles.cluster_namespace_scope(PIP, "shop")
