"""``keyVault`` and ``sealedSecrets``: the environment's vault and the sealing key kept in it."""

from __future__ import annotations

from dataclasses import dataclass

from stack_config.kinds import GENERATION, K8S_NAME, MAX_GENERATION, PublicCidrs, pinned_version
from stack_config.reader import ARM_SUBNET_ID
from stack_config.sharing import check_sharing, owner_stack_key, sharing_mode_key
from stack_config.spec import ByClass, Derived, Integer, Read, Text, Texts, key, prod_allows, rules

KEY_VAULT_SKUS = ("standard", "premium")
PUBLIC_NETWORK_ACCESS = ("Enabled", "Disabled")
# The longest a sealing certificate may be valid; the policy rule sealing-key-cert-validity uses the same bound.
MAX_SEALING_CERT_VALIDITY_DAYS = 1095
# Controller 0.38.4; the newest chart in https://bitnami.github.io/sealed-secrets/index.yaml (gh-pages, 2026-07-03).
DEFAULT_SEALED_SECRETS_CHART_VERSION = "2.19.1"


@dataclass(frozen=True)
class KeyVaultConfig:
    sku: str = key(
        "sku",
        Text(choices=KEY_VAULT_SKUS),
        "vault SKU (premium: HSM-backed keys)",
        default=ByClass(prod="premium", nonprod="standard"),
    )
    allowed_cidrs: tuple[str, ...] = key(
        "allowedCidrs",
        PublicCidrs(),
        "public networks allowed through the vault firewall (default action Deny); public ranges only, never "
        "0.0.0.0/0; ciRunnerCidrs are added",
        default=(),
    )
    allowed_subnet_ids: tuple[str, ...] = key(
        "allowedSubnetIds",
        Texts(pattern=ARM_SUBNET_ID, describe="allowed: a subnet resource ID"),
        "subnets allowed through the vault firewall",
        default=(),
    )
    public_network_access: str = key(
        "publicNetworkAccess",
        Text(choices=PUBLIC_NETWORK_ACCESS),
        "Disabled: reachable only through its private endpoint in the cluster VNet (and peered runners)",
        default=Derived(
            lambda ctx, values: "Disabled" if ctx.prod_environment else "Enabled",
            "`Disabled` prod, `Enabled` nonprod",
        ),
        prod=prod_allows("Disabled", why="the vault holds the sealing keys: private endpoint only"),
    )
    # 90 days is Azure's maximum and the longest window to recover a deleted secret. Azure fixes it when the
    # vault is created: "Once set, the retention policy interval cannot be changed" (learn.microsoft.com
    # key-vault/general/soft-delete-overview); a change on an existing stack is refused (stack_config.previous).
    soft_delete_retention_days: int = key(
        "softDeleteRetentionDays",
        Integer(7, 90),
        "days a deleted vault or secret stays recoverable; fixed once the vault exists",
        default=90,
    )


@dataclass(frozen=True)
class SealedSecretsConfig:
    key_mode: str = sharing_mode_key(
        "keyMode", "nonprod: sharedOwner (the key-owner stack) or sharedReference (every other stack)", owned="key"
    )
    shared_key_stack: str | None = owner_stack_key(
        "sharedKeyStack", "the key owner, e.g. contoso/platform/nonprod-keys", mode_key="keyMode"
    )
    key_generation: int = key(
        "keyGeneration",
        GENERATION,
        "newest key generation, the one that seals; bump to rotate (adds a key, keeps the old ones)",
        default=1,
    )
    # A sealing key that never expires is never rotated: a year bounds what one leaked key exposes.
    cert_validity_days: int = key(
        "certValidityDays",
        Integer(30, MAX_SEALING_CERT_VALIDITY_DAYS),
        "validity of each generation's certificate (kubeseal refuses an expired one): rotate before it ends",
        default=365,
    )
    retention_days: int = key(
        "retentionDays",
        Integer(30, MAX_SEALING_CERT_VALIDITY_DAYS),
        "days after its certificate ends that a generation's Key Vault secret expires (reseal and retire before)",
        default=365,
    )
    oldest_generation_in_use: int = key(
        "oldestGenerationInUse",
        GENERATION,
        "oldest generation a SealedSecret may still be encrypted with; raise it only after `make reseal`",
        default=1,
    )
    retired_through: int = key(
        "retiredThrough",
        Integer(0, MAX_GENERATION),
        "generations 1..retiredThrough are retired: out of the cluster, disabled in Key Vault; 0: none",
        default=0,
    )
    chart_version: str = key(
        "chartVersion",
        pinned_version(DEFAULT_SEALED_SECRETS_CHART_VERSION),
        "sealed-secrets Helm chart version",
        default=DEFAULT_SEALED_SECRETS_CHART_VERSION,
    )
    namespace: str = key(
        "namespace",
        K8S_NAME,
        "controller namespace",
        default="sealed-secrets",
    )


@rules(SealedSecretsConfig)
def _sealed_secrets(s: Read) -> None:
    mode = s.values["key_mode"]
    if s.ctx.nonprod and mode == "dedicated":
        s.problem(
            "keyMode",
            mode,
            "nonprod allows: sharedOwner, sharedReference (one key is shared by every non-production environment)",
        )
    check_sharing(s, mode, "keyMode", "sharedKeyStack")
    _generations(s)


def _generations(s: Read) -> None:
    """Key generations: the newest seals, ``oldestGenerationInUse..`` may still decrypt, only older ones retire."""
    newest, in_use, retired = (s.values[k] for k in ("key_generation", "oldest_generation_in_use", "retired_through"))
    if in_use > newest:
        s.problem("oldestGenerationInUse", in_use, f"at most keyGeneration ({newest})")
    if retired >= in_use:
        # Retiring a key that SealedSecrets may still use makes them undecryptable: refuse it.
        s.problem(
            "retiredThrough",
            retired,
            f"below oldestGenerationInUse ({in_use}): SealedSecrets may still use generation(s) "
            f"{in_use}..{retired}; reseal them (make reseal), raise oldestGenerationInUse, then retire",
        )
