"""Key Vault rules: azure-native ``keyvault:Vault`` ``properties.*`` and the sealing key's backup."""

from __future__ import annotations

from .common import (
    UNKNOWN,
    Ctx,
    Res,
    Stack,
    expect,
    is_number,
    is_true,
    not_applicable,
    one_of_any_case,
    resource_rule,
    stack_rule,
    text,
)
from .frameworks import BOUNDARY, KEYS, RECOVERY

VAULT = "azure-native:keyvault:Vault"
VAULT_SECRET = "azure-native:keyvault:Secret"
TLS_PRIVATE_KEY = "tls:index/privateKey:PrivateKey"
SEALED_SECRETS_KEY_LABEL = "sealedsecrets.bitnami.com/sealed-secrets-key"


@resource_rule(
    name="keyvault-rbac-authorization",
    domain="keyvault",
    targets=(VAULT,),
    severity="high",
    what="Key Vault authorizes data-plane access with Azure RBAC (properties.enableRbacAuthorization: true).",
    why="Access policies are per-vault, all-or-nothing per object type and invisible to RBAC reviews; RBAC gives least privilege per secret and PIM.",
    remediation="Set properties.enableRbacAuthorization: true and grant Key Vault Secrets User/Officer roles instead of access policies.",
    frameworks=("SOC 2 CC6.3", "PCI-DSS 4.0 7.2.1", "HIPAA 164.312(a)(1)", "NIST 800-53 AC-3", "NIST 800-53 AC-6"),
)
def rbac(r: Res, ctx: Ctx) -> None:
    expect(r, ctx, "properties.enableRbacAuthorization", is_true, "set it to true")


@resource_rule(
    name="keyvault-soft-delete",
    domain="keyvault",
    targets=(VAULT,),
    severity="high",
    what="Key Vault soft delete is on (properties.enableSoftDelete not false).",
    why="Soft delete lets a deleted vault or secret (the sealing key) be recovered instead of lost.",
    remediation="Remove properties.enableSoftDelete: false (Azure turns soft delete on by default) and keep softDeleteRetentionInDays at 90.",
    frameworks=RECOVERY,
)
def soft_delete(r: Res, ctx: Ctx) -> None:
    # Unset is fine: Azure turns soft delete on by default.
    expect(r, ctx, "properties.enableSoftDelete", lambda v: v is True or v is None, "set it to true")


@resource_rule(
    name="keyvault-purge-protection",
    domain="keyvault",
    targets=(VAULT,),
    severity="high",
    what="Key Vault purge protection is on (properties.enablePurgeProtection: true).",
    why="Without purge protection an attacker or a mistake can permanently destroy soft-deleted keys before the retention period ends.",
    remediation="Set properties.enablePurgeProtection: true (it cannot be turned off again, which is the point).",
    frameworks=RECOVERY + ("NIST 800-53 SC-12",),
)
def purge_protection(r: Res, ctx: Ctx) -> None:
    expect(r, ctx, "properties.enablePurgeProtection", is_true, "set it to true")


@resource_rule(
    name="keyvault-network-default-deny",
    domain="keyvault",
    targets=(VAULT,),
    severity="high",
    what="Key Vault denies network access by default (properties.networkAcls.defaultAction: Deny, also when public access is disabled).",
    why="A vault reachable from any network relies on credentials alone; a leaked token is then usable from anywhere.",
    remediation="Set properties.networkAcls: {defaultAction: Deny, bypass: AzureServices, ipRules: [...], virtualNetworkRules: [...]}.",
    frameworks=BOUNDARY,
)
def network_default_deny(r: Res, ctx: Ctx) -> None:
    # Kept with publicNetworkAccess Disabled too: turning public access back on must not open the vault.
    expect(
        r, ctx, "properties.networkAcls.defaultAction", one_of_any_case("Deny"), "set it to Deny (unset means Allow)"
    )


@resource_rule(
    name="keyvault-secret-expiry",
    domain="keyvault",
    targets=(VAULT_SECRET,),
    severity="medium",
    what="Every Key Vault secret carries an expiry (properties.attributes.expires, epoch seconds).",
    why="A secret without an expiry is never flagged for rotation: no SecretNearExpiry event, no alert, and a leaked key stays valid forever.",
    remediation="Set properties.attributes.expires (for a key pair: the certificate's end plus the time allowed to re-encrypt and retire it).",
    frameworks=KEYS + ("NIST 800-53 IA-5(1)",),
)
def secret_expiry(r: Res, ctx: Ctx) -> None:
    expect(
        r,
        ctx,
        "properties.attributes.expires",
        lambda v: is_number(v) and v > 0,
        "set an expiry (epoch seconds) so the secret's rotation is tracked",
    )


@stack_rule(
    name="keyvault-protected",
    domain="keyvault",
    targets=(VAULT,),
    severity="high",
    what="Every Key Vault is protected from deletion by Pulumi (resource option protect=True).",
    why="The vault is the source of truth for the sealing key; an accidental `pulumi destroy` or a replace must not take it down.",
    remediation="Create the vault with opts=pulumi.ResourceOptions(protect=True).",
    frameworks=RECOVERY,
)
def vault_protected(stack: Stack, ctx: Ctx) -> None:
    for vault in stack.of_types(VAULT) or not_applicable("the stack has no Key Vault"):
        if not vault.protect:
            ctx.fail(f"Key Vault {vault.name!r} is not protected: set protect=True", vault.urn)


def sealing_keys(stack: Stack) -> list[Res]:
    """The ``tls`` private keys that become a sealed-secrets controller key.

    A key is a sealing key when the data of a Kubernetes Secret labelled
    ``sealedsecrets.bitnami.com/sealed-secrets-key`` depends on it, or when its name says so.
    """
    keys = stack.of_types(TLS_PRIVATE_KEY)
    key_urns = {k.urn for k in keys}
    used: set[str] = set()
    for secret in stack.k8s_of("core", "Secret"):
        labels = secret.labels()
        if labels is UNKNOWN or SEALED_SECRETS_KEY_LABEL not in labels:
            continue
        for prop in ("data", "stringData"):
            used.update(u for u in secret.property_dependencies.get(prop, []) if u in key_urns)
        used.update(u for u in secret.dependencies if u in key_urns)
    return [k for k in keys if k.urn in used or "seal" in k.name.lower()]


@stack_rule(
    name="sealing-key-in-keyvault",
    domain="keyvault",
    targets=(TLS_PRIVATE_KEY, VAULT_SECRET),
    severity="critical",
    what="A sealing key generated by the stack is also stored as a Key Vault secret.",
    why="If the only copy of the sealed-secrets private key is inside the cluster, losing the cluster makes every SealedSecret undecryptable.",
    remediation="Store the key PEM with azure-native keyvault.Secret(properties={value: key.private_key_pem}) in the environment's protected vault.",
    frameworks=KEYS + ("NIST 800-53 CP-9",),
)
def sealing_key_stored(stack: Stack, ctx: Ctx) -> None:
    keys = sealing_keys(stack) or not_applicable("the stack generates no sealing key (it reads a shared one)")
    secrets = stack.of_types(VAULT_SECRET)
    # Worked out once for all keys: what the vault secrets depend on, and whether one holds a known PEM
    # (without dependency data, a hand-built request, a known PEM value in a vault secret counts).
    stored_urns = {urn for s in secrets for urn in _all_dependencies(s)}
    holds_a_pem = any("PRIVATE KEY" in (text(s.get("properties.value")) or "") for s in secrets)
    value_undecided = any(s.get("properties.value") is UNKNOWN and not s.property_dependencies for s in secrets)
    for key in keys:
        if key.urn in stored_urns or holds_a_pem:
            continue
        if value_undecided:
            ctx.unknown(f"{key.name}: keyvault Secret value")
        else:
            ctx.fail(f"sealing key {key.name!r} is not stored in a Key Vault secret", key.urn)


def _all_dependencies(r: Res) -> list[str]:
    """Every URN ``r`` depends on, through any input or as a plain dependency."""
    return [*r.dependencies, *(urn for urns in r.property_dependencies.values() for urn in urns)]
