"""etcd encryption with a customer key: AKS KMS (``securityProfile.azureKeyVaultKms``) and what it needs first.

Without KMS, Kubernetes Secrets (the sealing keys, the mesh intermediate) sit in etcd under
platform-managed encryption only. With it, the API server envelope-encrypts them with a Key Vault key that
this stack owns, can rotate, and can revoke.

AKS constraints (learn.microsoft.com, "Add Key Management Service etcd encryption to an AKS cluster"):

- "KMS etcd encryption doesn't work with system-assigned managed identity": the control plane gets a
  user-assigned identity, created here before the cluster, so its grants exist before KMS is turned on.
- A vault that "allow[s] public access from specific virtual networks and IP addresses" or disables public
  access "isn't supported" in ``Public`` mode. The platform's vault is never open to the internet, so KMS runs
  in ``Private`` mode (``keyVaultResourceId`` set): AKS creates a private endpoint in the node resource group,
  and the cluster must use API Server VNet Integration ("Konnectivity isn't supported").
- Roles on the control-plane identity: **Key Vault Crypto User** on the key (encrypt/decrypt) and, for a
  private vault, **Key Vault Contributor** on the vault ("required to create a private link"). "AKS can't
  validate the permissions of the identity" for a private vault, so the cluster waits for both assignments.
- ``keyId`` is versioned: Key Vault's auto-rotation makes a new version, and AKS keeps the old one until
  ``keyId`` changes. After ``pulumi refresh`` the key's ``keyUriWithVersion`` moves and the next ``up`` moves
  the cluster. "If the key is expired, the KMS plugin will fail to decrypt the existing secrets": the first
  version never expires; rotated versions expire two years after creation, one year after the next rotation.
- "Deleting the key, the key vault, or the associated identity isn't supported": all three are protected.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
from pulumi_azure_native import authorization, keyvault, managedidentity

from components.azure_placement import AzurePlacement
from components.azure_roles import KEY_VAULT_CONTRIBUTOR, KEY_VAULT_CRYPTO_USER, derived_name, role_definition_id
from components.key_material import ClusterKms
from components.registered_outputs import register_attributes

KMS_KEY_NAME = "aks-etcd-kms"
# The AKS walkthrough creates the key with `az keyvault key create` defaults: RSA 2048.
KMS_KEY_BITS = 2048
KMS_KEY_OPS = [
    keyvault.JsonWebKeyOperation.ENCRYPT,
    keyvault.JsonWebKeyOperation.DECRYPT,
    keyvault.JsonWebKeyOperation.WRAP_KEY,
    keyvault.JsonWebKeyOperation.UNWRAP_KEY,
]
# ISO 8601 durations. A new version yearly; each version valid two years, so the previous one still decrypts
# for a year after a rotation ("ensure both the old and new keys are valid"); a notice 30 days before expiry.
ROTATE_AFTER = "P1Y"
VERSION_EXPIRY = "P2Y"
NOTIFY_BEFORE_EXPIRY = "P30D"


@dataclass(frozen=True)
class EtcdEncryptionArgs:
    """Inputs of :class:`EtcdEncryption`: where the cluster lives and the vault that keeps the key."""

    placement: AzurePlacement  # the identity is "<prefix>-<component name>"
    vault_name: pulumi.Input[str]
    vault_id: pulumi.Input[str]
    premium_vault: bool  # keyVault.sku premium: an HSM-backed key (RSA-HSM)
    # What the key's creation waits for: VaultPrivateEndpoint.ready for a private vault ("Creating or updating
    # keys in a private key vault that doesn't have a private endpoint isn't supported", use-kms-etcd-encryption).
    depends_on: Sequence[pulumi.Resource] = ()


class EtcdEncryption(pulumi.ComponentResource):
    """``platform:aks:EtcdEncryption``: the control plane's identity, the KMS key and the identity's access to it."""

    identity: managedidentity.UserAssignedIdentity
    key: keyvault.Key
    settings: ClusterKms
    identity_principal_id: pulumi.Output[str]
    key_id: pulumi.Output[str]

    def __init__(self, name: str, args: EtcdEncryptionArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("platform:aks:EtcdEncryption", name, None, opts)
        # Deleting the key, the vault or the identity would leave etcd undecryptable.
        kept = pulumi.ResourceOptions(parent=self, protect=True)
        self.identity = managedidentity.UserAssignedIdentity(
            f"{name}-identity",
            resource_name_=derived_name(
                "EtcdEncryption", name, args.placement.resource_prefix, 128, "the identity name"
            ),
            resource_group_name=args.placement.resource_group_name,
            location=args.placement.location,
            tags=dict(args.placement.tags),
            opts=kept,
        )
        self.key = keyvault.Key(
            f"{name}-key",
            key_name=KMS_KEY_NAME,
            vault_name=args.vault_name,
            resource_group_name=args.placement.resource_group_name,
            properties=keyvault.KeyPropertiesArgs(
                kty=keyvault.JsonWebKeyType.RS_A_HSM if args.premium_vault else keyvault.JsonWebKeyType.RSA,
                key_size=KMS_KEY_BITS,
                key_ops=KMS_KEY_OPS,
                # The key never leaves the vault; the first version has no expiry (an expired key is an outage).
                attributes=keyvault.KeyAttributesArgs(enabled=True, exportable=False),
                rotation_policy=keyvault.RotationPolicyArgs(
                    attributes=keyvault.KeyRotationPolicyAttributesArgs(expiry_time=VERSION_EXPIRY),
                    lifetime_actions=[
                        keyvault.LifetimeActionArgs(
                            action=keyvault.ActionArgs(type=keyvault.KeyRotationPolicyActionType.ROTATE),
                            trigger=keyvault.TriggerArgs(time_after_create=ROTATE_AFTER),
                        ),
                        keyvault.LifetimeActionArgs(
                            action=keyvault.ActionArgs(type=keyvault.KeyRotationPolicyActionType.NOTIFY),
                            trigger=keyvault.TriggerArgs(time_before_expiry=NOTIFY_BEFORE_EXPIRY),
                        ),
                    ],
                ),
            ),
            tags={**args.placement.tags, "purpose": "aks-etcd-kms"},
            opts=pulumi.ResourceOptions.merge(kept, pulumi.ResourceOptions(depends_on=list(args.depends_on))),
        )
        grants = self._grants(name, args)
        self.identity_principal_id = self.identity.principal_id
        self.key_id = self.key.key_uri_with_version
        self.settings = ClusterKms(
            identity_id=self.identity.id,
            identity_principal_id=self.identity.principal_id,
            key_id=self.key.key_uri_with_version,
            vault_id=pulumi.Output.from_input(args.vault_id),
            ready=grants,
        )
        register_attributes(self, "identity_principal_id", "key_id")

    def _grants(self, name: str, args: EtcdEncryptionArgs) -> list[pulumi.Resource]:
        """Exactly what the control plane needs: use of this one key, and the private link to the vault."""
        subscription = authorization.get_client_config_output(opts=pulumi.InvokeOutputOptions(parent=self))

        def grant(suffix: str, role: str, scope: pulumi.Input[str], why: str) -> authorization.RoleAssignment:
            return authorization.RoleAssignment(
                f"{name}-{suffix}",
                principal_id=self.identity.principal_id,
                principal_type=authorization.PrincipalType.SERVICE_PRINCIPAL,
                role_definition_id=subscription.subscription_id.apply(
                    lambda sub: role_definition_id(f"/subscriptions/{sub}", role)
                ),
                scope=scope,
                description=why,
                opts=pulumi.ResourceOptions(parent=self),
            )

        return [
            grant("key-crypto-user", KEY_VAULT_CRYPTO_USER, self.key.id, "AKS KMS encrypts etcd with this key only"),
            grant(
                "vault-contributor",
                KEY_VAULT_CONTRIBUTOR,
                args.vault_id,
                "AKS KMS creates its private link to the vault (Private mode)",
            ),
        ]
