"""KeyVault: RBAC only, soft delete + purge protection, deny-by-default firewall, audit logs, least access."""

from __future__ import annotations

import re

import pulumi
import pytest

from components.azure_roles import (
    KEY_VAULT_CERTIFICATE_USER,
    KEY_VAULT_SECRETS_OFFICER,
    KEY_VAULT_SECRETS_USER,
)
from components.key_vault import VaultReader, vault_name_for
from stack_config import load_config
from tests.components import wiring
from tests.components.wiring import WORKSPACE_ID
from tests.conftest import role_grants
from tests.resource_types import Azure
from tools.mocks import DEPLOYER_OBJECT_ID, SUBSCRIPTION_ID, TENANT_ID
from tools.program_runner import load_stack_config, run_program

CSI_PRINCIPAL = "9e8d7c6b-5a49-4382-9171-605f4e3d2c1b"
SUBNET_ID = (
    f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/rg-net/providers"
    "/Microsoft.Network/virtualNetworks/hub/subnets/agents"
)
_VAULT_NAME = re.compile(r"^[a-z][a-z0-9-]{1,22}[a-z0-9]$")


def vault_program(readers=(), protect=None):
    def program():
        cfg = load_config()
        kv = wiring.key_vault(cfg, readers=readers, protect=cfg.is_prod if protect is None else protect)
        pulumi.export("keyVaultName", kv.vault_name)
        pulumi.export("keyVaultUri", kv.vault_uri)

    return program


@pytest.fixture(scope="module")
def prod():
    readers = (VaultReader(name="ingress-csi", principal_id=CSI_PRINCIPAL, object_names=("wildcard-apps",)),)
    return run_program("prod", program=vault_program(readers))


@pytest.fixture(scope="module")
def dev():
    return run_program(
        "dev",
        program=vault_program(),
        overrides={
            "keyVault": {
                "allowedCidrs": ["203.0.113.0/24"],
                "allowedSubnetIds": [SUBNET_ID],
                "softDeleteRetentionDays": 30,
            },
        },
    )


def test_vault_is_rbac_only_soft_deleted_purge_protected(prod):
    props = prod.one(Azure.VAULT).inputs["properties"]
    assert props["enableRbacAuthorization"] is True
    assert props["enableSoftDelete"] is True
    assert props["softDeleteRetentionInDays"] == 90
    assert props["enablePurgeProtection"] is True
    assert "accessPolicies" not in props
    assert props["enabledForDeployment"] is False
    assert props["enabledForDiskEncryption"] is False
    assert props["enabledForTemplateDeployment"] is False
    assert props["tenantId"] == TENANT_ID
    assert props["sku"] == {"family": "A", "name": "premium"}


def test_firewall_denies_by_default_and_lists_only_configured_sources(prod, dev):
    acls = prod.one(Azure.VAULT).get("properties.networkAcls")
    assert acls["defaultAction"] == "Deny"
    assert acls["bypass"] == "AzureServices"
    # Only ciRunnerCidrs; they take effect only if public access is turned back on (prod's is Disabled: the
    # private endpoint is the way in).
    assert acls["ipRules"] == [{"value": "198.51.100.16/28"}]
    assert prod.one(Azure.VAULT).get("properties.publicNetworkAccess") == "Disabled"
    assert acls["virtualNetworkRules"] == []
    dev_props = dev.one(Azure.VAULT).inputs["properties"]
    # keyVault.allowedCidrs, then ciRunnerCidrs
    assert dev_props["networkAcls"]["ipRules"] == [{"value": "203.0.113.0/24"}, {"value": "198.51.100.16/28"}]
    assert dev_props["networkAcls"]["virtualNetworkRules"] == [{"id": SUBNET_ID}]
    assert dev_props["softDeleteRetentionInDays"] == 30
    assert dev_props["sku"]["name"] == "standard"


def test_prod_vault_is_protected_dev_is_not_and_owner_can_ask(prod, dev):
    assert prod.one(Azure.VAULT).protect is True
    assert dev.one(Azure.VAULT).protect is False
    owner = run_program("nonprod-keys", program=vault_program(protect=True))
    assert owner.one(Azure.VAULT).protect is True


def test_vault_name_is_short_stable_and_unique_per_stack(prod, dev):
    name = prod.one(Azure.VAULT).inputs["vaultName"]
    assert _VAULT_NAME.match(name) and "--" not in name and len(name) <= 24
    assert name == vault_name_for("plat-prod", "kv", organization="contoso", project="platform", stack="prod")
    assert name.startswith("plat-prod-kv-")
    same_config_other_stack = run_program("prod-neu", config=load_stack_config("prod"), program=vault_program())
    assert same_config_other_stack.one(Azure.VAULT).inputs["vaultName"] != name
    assert prod.outputs["keyVaultName"] == name
    assert prod.outputs["keyVaultUri"] == f"https://{name}.vault.azure.net/"


@pytest.mark.parametrize("prefix", ["plat-dev", "plat-nonprod-keys", "abcdefgh-abcdefghijklmnop", "p1-x--y"])
def test_vault_name_always_fits_azure_rules(prefix):
    name = vault_name_for(prefix, "kv", organization="o", project="p", stack="s")
    assert _VAULT_NAME.match(name), name
    assert "--" not in name and 3 <= len(name) <= 24
    assert vault_name_for(prefix, "kv", organization="o2", project="p", stack="s") != name


def test_audit_logs_go_to_log_analytics(prod):
    diag = prod.one(Azure.DIAGNOSTIC_SETTING)
    assert diag.inputs["resourceUri"] == prod.one(Azure.VAULT).id
    assert diag.inputs["workspaceId"] == WORKSPACE_ID
    assert diag.inputs["logs"] == [{"categoryGroup": "allLogs", "enabled": True}]
    assert diag.inputs["metrics"] == [{"category": "AllMetrics", "enabled": True}]


def test_only_the_deployer_gets_vault_wide_data_access(prod, dev):
    vault_id = prod.one(Azure.VAULT).id
    vault_wide = [r for r in prod.of_type(Azure.ROLE_ASSIGNMENT) if r.inputs["scope"] == vault_id]
    assert len(vault_wide) == 1
    officer = vault_wide[0]
    assert officer.inputs["principalId"] == DEPLOYER_OBJECT_ID
    assert officer.inputs["roleDefinitionId"] == (
        f"/subscriptions/{SUBSCRIPTION_ID}/providers/Microsoft.Authorization/roleDefinitions/{KEY_VAULT_SECRETS_OFFICER}"
    )
    assert len(dev.of_type(Azure.ROLE_ASSIGNMENT)) == 1


def test_readers_are_scoped_to_their_objects(prod):
    vault_id = prod.one(Azure.VAULT).id
    readers = role_grants(prod, CSI_PRINCIPAL)
    assert set(readers) == {f"{vault_id}/secrets/wildcard-apps", f"{vault_id}/certificates/wildcard-apps"}
    assert readers[f"{vault_id}/secrets/wildcard-apps"].inputs["roleDefinitionId"].endswith(KEY_VAULT_SECRETS_USER)
    assert (
        readers[f"{vault_id}/certificates/wildcard-apps"]
        .inputs["roleDefinitionId"]
        .endswith(KEY_VAULT_CERTIFICATE_USER)
    )
    assert all(r.inputs["principalType"] == "ServicePrincipal" for r in readers.values())
