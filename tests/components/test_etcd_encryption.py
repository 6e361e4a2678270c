"""EtcdEncryption + AksCluster: prod Secrets in etcd are encrypted with a Key Vault key the stack owns (AKS KMS),
through a user-assigned control-plane identity that may use that one key and nothing more."""

from __future__ import annotations

import pulumi
import pytest

from stack_config import load_config
from tests.components import wiring
from tests.resource_types import Azure
from tools.mocks import SUBSCRIPTION_ID
from tools.program_runner import ProgramRun

CRYPTO_USER = "12338af0-0e69-4776-bea7-57ae8d297424"
KEY_VAULT_CONTRIBUTOR = "f25e0fa2-a7c8-4377-a976-54943a77a395"


def build() -> None:
    """As __main__.py wires it: the vault, then the KMS key and identity, then the cluster that uses them."""
    cfg = load_config()
    vault = wiring.key_vault(cfg)
    kms = wiring.etcd_encryption(cfg, vault) if cfg.cluster.etcd_encryption else None
    cluster = wiring.aks_cluster(cfg, kms=kms.settings if kms else None)
    pulumi.export("identityPrincipalId", cluster.identity_principal_id)
    pulumi.export("vaultId", vault.vault_id)


def role_id(guid: str) -> str:
    return f"/subscriptions/{SUBSCRIPTION_ID}/providers/Microsoft.Authorization/roleDefinitions/{guid}"


def test_prod_cluster_encrypts_etcd_with_the_stack_key(prod: ProgramRun):
    cluster, key, identity = (
        prod.one(Azure.MANAGED_CLUSTER),
        prod.one(Azure.VAULT_KEY),
        prod.one(Azure.USER_ASSIGNED_IDENTITY),
    )
    assert cluster.get("securityProfile.azureKeyVaultKms") == {
        "enabled": True,
        "keyId": key.outputs["keyUriWithVersion"],  # versioned: AKS pins one key version
        "keyVaultNetworkAccess": "Private",
        "keyVaultResourceId": prod.outputs["vaultId"],
    }
    # KMS refuses a system-assigned identity.
    assert cluster.get("identity") == {"type": "UserAssigned", "userAssignedIdentities": [identity.id]}
    assert prod.outputs["identityPrincipalId"] == identity.outputs["principalId"]


def test_kms_key_is_rsa_with_a_rotation_policy_and_protected(prod: ProgramRun):
    key = prod.one(Azure.VAULT_KEY)
    props = key.get("properties")
    assert props["kty"] == "RSA-HSM" and props["keySize"] >= 2048  # prod's vault is premium: HSM-backed
    assert set(props["keyOps"]) == {"encrypt", "decrypt", "wrapKey", "unwrapKey"}
    assert props["attributes"] == {"enabled": True, "exportable": False}  # no expiry on the version in use
    assert props["rotationPolicy"] == {
        "attributes": {"expiryTime": "P2Y"},
        "lifetimeActions": [
            {"action": {"type": "rotate"}, "trigger": {"timeAfterCreate": "P1Y"}},
            {"action": {"type": "notify"}, "trigger": {"timeBeforeExpiry": "P30D"}},
        ],
    }
    assert key.protect and prod.one(Azure.USER_ASSIGNED_IDENTITY).protect


def test_identity_gets_the_key_and_the_private_link_and_nothing_else(prod: ProgramRun):
    principal = prod.one(Azure.USER_ASSIGNED_IDENTITY).outputs["principalId"]
    grants = {
        r.get("roleDefinitionId"): r for r in prod.of_type(Azure.ROLE_ASSIGNMENT) if r.get("principalId") == principal
    }
    assert set(grants) == {role_id(CRYPTO_USER), role_id(KEY_VAULT_CONTRIBUTOR)}
    assert grants[role_id(CRYPTO_USER)].get("scope") == prod.one(Azure.VAULT_KEY).id  # this key only
    assert grants[role_id(KEY_VAULT_CONTRIBUTOR)].get("scope") == prod.outputs["vaultId"]
    # AKS cannot check a private vault's permissions: the cluster is created only after both grants.
    cluster = prod.one(Azure.MANAGED_CLUSTER)
    assert {g.urn for g in grants.values()} <= set(cluster.dependencies)


@pytest.mark.parametrize("stack", ["dev"])
def test_nonprod_runs_without_kms(build_run, stack):
    run = build_run(stack)
    assert not run.of_type(Azure.VAULT_KEY) and not run.of_type(Azure.USER_ASSIGNED_IDENTITY)
    cluster = run.one(Azure.MANAGED_CLUSTER)
    assert cluster.get("identity") == {"type": "SystemAssigned"}
    assert "azureKeyVaultKms" not in (cluster.get("securityProfile") or {})
