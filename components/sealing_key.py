"""The sealed-secrets key pair(s) of an environment, kept in its Key Vault.

Key scope follows ``SealedSecretsConfig.key_mode``:

- ``dedicated`` (prod): this stack generates its own RSA 4096 key(s); no other stack can decrypt.
- ``sharedOwner`` (the ``nonprod-keys`` stack): generates the one non-production key set and exports it
  (``sealingKeys``, secret) for the other non-prod stacks; it holds nothing else, so tearing down a
  dev environment can never lose the key.
- ``sharedReference`` (dev, test, ...): reads the owner's ``sealingKeys`` through a StackReference and
  copies them into this environment's own vault.

Rotation: ``key_generation`` N gives keys 1..N. Bumping N adds a key and keeps the old ones, so
secrets sealed earlier still decrypt. The newest key seals: the controller picks the key whose
certificate has the latest NotBefore (or the newest Secret, with ``--key-order-priority
SecretCreationTimestamp``), so every generation's certificate and Secrets are created after the
previous generation's (``depends_on`` chain). Generations ``1..retiredThrough`` are retired: the
controller no longer gets them and their vault secrets are disabled (kept, not deleted: recoverable
if a forgotten SealedSecret turns up). Config validation refuses to retire a generation at or above
``oldestGenerationInUse``, the oldest one SealedSecrets may still use.

Each vault secret carries its content type and an expiry (``attributes.expires``): the certificate's
end plus ``retentionDays``, the time left to reseal and retire. Not the certificate's end itself: an
expired Key Vault secret may refuse reads (Azure/AzureKeyVault#19), and the key must stay readable for
a state-loss restore as long as SealedSecrets use it.

The private keys only ever travel as Pulumi secrets (state is encrypted; outputs are masked).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_tls as tls
from pulumi_azure_native import keyvault

from components.azure_placement import AzurePlacement
from components.key_material import PEM_CONTENT_TYPE, vault_expiry
from components.registered_outputs import register_attributes
from stack_config import SealedSecretsConfig

SEALING_KEY_OUTPUT = "sealingKeys"
CERT_SUBJECT_CN = "sealed-secret"  # the controller's own default CN (--my-cn)
RSA_BITS = 4096


# (generation, private key PEM (secret), certificate PEM, where it came from)
_KeyMaterial = tuple[int, pulumi.Output[str], pulumi.Output[str], str]


class SharedKeyError(ValueError):
    """The key owner's stack does not export the keys this stack needs."""


def vault_secret_name(generation: int) -> str:
    return f"sealed-secrets-key-{generation}"


@dataclass(frozen=True)
class SealingKeyPair:
    """One generation of the key, as the controller's Secret needs it."""

    generation: int
    private_key_pem: pulumi.Output[str]  # always secret
    certificate_pem: pulumi.Output[str]  # public
    vault_secret: keyvault.Secret  # the copy in Key Vault; the cluster Secret waits for it
    retired: bool = False  # generations 1..retiredThrough: kept in Key Vault (disabled), not in the cluster


@dataclass(frozen=True)
class SealingKeyArgs:
    """Inputs of :class:`SealingKey`: the ``sealedSecrets`` config section and the vault that keeps the keys."""

    config: SealedSecretsConfig
    placement: AzurePlacement  # its prefix is the certificate's O (a vault secret has no location)
    vault_name: pulumi.Input[str]
    # Prod and the non-prod key owner: pulumi refuses to delete or replace the key material.
    protect: bool
    # What the vault secrets wait for (e.g. KeyVault.writer_role_assignment); the dependency also makes
    # destroy delete the secrets (a data-plane call) before that role assignment is removed.
    depends_on: Sequence[pulumi.Resource] = ()


def _pem(generation: int, field_name: str) -> Callable[[list[dict[str, Any]]], str]:
    """Reads one PEM field of one generation from the owner's selected keys."""
    return lambda keys: keys[generation - 1][field_name]


def select_shared_keys(value: Any, stack: str, generations: int) -> list[dict[str, Any]]:
    """The owner's keys 1..generations, or a clear error naming the stack and the output."""
    where = f"stack '{stack}' output '{SEALING_KEY_OUTPUT}'"
    if not value:
        raise SharedKeyError(
            f"{where} is missing or empty: run `pulumi up` on the key-owner stack first "
            f"(sealedSecrets.keyMode: sharedOwner), or fix sealedSecrets.sharedKeyStack"
        )
    if not isinstance(value, list):
        raise SharedKeyError(f"{where} must be a list of {{generation, privateKeyPem, certificatePem}}")
    by_generation: dict[int, dict[str, Any]] = {}
    for i, item in enumerate(value):
        if not isinstance(item, Mapping) or not item.get("privateKeyPem") or not item.get("certificatePem"):
            raise SharedKeyError(f"{where}[{i}] lacks privateKeyPem or certificatePem")
        try:
            # A missing generation reads as "" (ValueError), like any other non-integer.
            by_generation[int(item.get("generation", ""))] = dict(item)
        except (TypeError, ValueError):
            raise SharedKeyError(f"{where}[{i}] has no integer generation") from None
    missing = [g for g in range(1, generations + 1) if g not in by_generation]
    if missing:
        raise SharedKeyError(
            f"{where} has generations {sorted(by_generation)} but this stack needs 1..{generations} "
            f"(sealedSecrets.keyGeneration): rotate on the owner stack first, then raise keyGeneration here"
        )
    newer = [g for g in by_generation if g > generations]
    if newer:
        pulumi.log.warn(
            f"{where} has newer key generation(s) {sorted(newer)}; raise sealedSecrets.keyGeneration to "
            f"{max(newer)} so this environment can decrypt secrets sealed with them"
        )
    return [by_generation[g] for g in range(1, generations + 1)]


class SealingKey(pulumi.ComponentResource):
    """``platform:sealedsecrets:SealingKey``: key pair(s) for the controller, stored in Key Vault."""

    key_pairs: list[SealingKeyPair]
    keys: pulumi.Output[list[dict[str, Any]]]  # secret: [{generation, privateKeyPem, certificatePem}]
    certificate_pem: pulumi.Output[str]  # newest certificate, public: `kubeseal --cert`
    vault_secret_names: list[str]

    def __init__(self, name: str, args: SealingKeyArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("platform:sealedsecrets:SealingKey", name, None, opts)
        cfg = args.config
        if cfg.key_mode == "sharedReference":
            material = self._shared_keys(name, cfg)
        else:
            material = self._generated_keys(name, args)
        self.key_pairs = self._vault_secrets(name, args, material)

        self.vault_secret_names = [vault_secret_name(p.generation) for p in self.key_pairs]
        self.keys = pulumi.Output.secret(
            pulumi.Output.all(*[pulumi.Output.all(p.private_key_pem, p.certificate_pem) for p in self.key_pairs]).apply(
                lambda pairs: [
                    {"generation": p.generation, "privateKeyPem": k, "certificatePem": c}
                    for p, (k, c) in zip(self.key_pairs, pairs, strict=False)
                ]
            )
        )
        self.certificate_pem = self.key_pairs[-1].certificate_pem
        register_attributes(self, "keys", "certificate_pem", "vault_secret_names")

    def _shared_keys(self, name: str, cfg: SealedSecretsConfig) -> list[_KeyMaterial]:
        """The owner stack's keys 1..keyGeneration, read through a StackReference."""
        if not cfg.shared_key_stack:
            raise SharedKeyError("sealedSecrets.sharedKeyStack: required when keyMode is sharedReference")
        stack = cfg.shared_key_stack
        self.owner = pulumi.StackReference(f"{name}-owner", stack_name=stack, opts=pulumi.ResourceOptions(parent=self))
        selected = pulumi.Output.secret(self.owner.get_output(SEALING_KEY_OUTPUT)).apply(
            lambda v: select_shared_keys(v, stack, cfg.key_generation)
        )
        material: list[_KeyMaterial] = []
        for g in range(1, cfg.key_generation + 1):
            key: pulumi.Output[str] = pulumi.Output.secret(selected.apply(_pem(g, "privateKeyPem")))
            cert: pulumi.Output[str] = pulumi.Output.unsecret(selected.apply(_pem(g, "certificatePem")))
            material.append((g, key, cert, f"copy of {stack} generation {g}"))
        return material

    def _generated_keys(self, name: str, args: SealingKeyArgs) -> list[_KeyMaterial]:
        """RSA 4096 keys and self-signed certificates 1..keyGeneration, each generation after the previous."""
        previous_cert: tls.SelfSignedCert | None = None
        key_opts = pulumi.ResourceOptions(parent=self, protect=args.protect)
        material: list[_KeyMaterial] = []
        for g in range(1, args.config.key_generation + 1):
            private_key = tls.PrivateKey(
                f"{name}-key-{g}",
                algorithm="RSA",
                rsa_bits=RSA_BITS,
                opts=key_opts,
            )
            cert = tls.SelfSignedCert(
                f"{name}-cert-{g}",
                private_key_pem=private_key.private_key_pem,
                subject=tls.SelfSignedCertSubjectArgs(
                    common_name=CERT_SUBJECT_CN, organization=args.placement.resource_prefix
                ),
                validity_period_hours=args.config.cert_validity_days * 24,
                # Sealing wraps a per-secret AES key with RSA-OAEP: key encipherment is the use that matters.
                allowed_uses=["key_encipherment", "digital_signature"],
                # Later generations get a later NotBefore: the controller seals with the newest.
                opts=pulumi.ResourceOptions.merge(
                    key_opts,
                    pulumi.ResourceOptions(depends_on=[previous_cert] if previous_cert else []),
                ),
            )
            previous_cert = cert
            private_key_pem: pulumi.Output[str] = pulumi.Output.secret(private_key.private_key_pem)
            material.append((g, private_key_pem, cert.cert_pem, "generated by this stack"))
        return material

    def _vault_secrets(self, name: str, args: SealingKeyArgs, material: list[_KeyMaterial]) -> list[SealingKeyPair]:
        """Each generation into Key Vault (the source of truth), oldest first."""
        pairs: list[SealingKeyPair] = []
        previous_secret: keyvault.Secret | None = None
        cfg = args.config
        for g, key, cert, origin in material:
            retired = g <= cfg.retired_through
            secret = keyvault.Secret(
                f"{name}-vault-secret-{g}",
                resource_group_name=args.placement.resource_group_name,
                vault_name=args.vault_name,
                secret_name=vault_secret_name(g),
                properties=keyvault.SecretPropertiesArgs(
                    value=pulumi.Output.secret(pulumi.Output.concat(key, cert)),
                    content_type=PEM_CONTENT_TYPE,
                    attributes=keyvault.SecretAttributesArgs(
                        # A retired key cannot be read back into a cluster by mistake; re-enabling it is one flag.
                        enabled=not retired,
                        expires=pulumi.Output.from_input(cert).apply(lambda pem: vault_expiry(pem, cfg.retention_days)),
                    ),
                ),
                tags={
                    **args.placement.tags,
                    "purpose": "sealed-secrets-key",
                    "generation": str(g),
                    "origin": origin,
                    "state": "retired" if retired else "active",
                },
                opts=pulumi.ResourceOptions(
                    parent=self,
                    protect=args.protect,
                    depends_on=[*args.depends_on, *([previous_secret] if previous_secret else [])],
                    additional_secret_outputs=["properties"],
                ),
            )
            previous_secret = secret
            pairs.append(
                SealingKeyPair(
                    generation=g, private_key_pem=key, certificate_pem=cert, vault_secret=secret, retired=retired
                )
            )
        return pairs
