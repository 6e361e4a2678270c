"""One Azure Key Vault per environment: RBAC only, soft delete + purge protection, firewalled, audited.

The vault holds the sealed-secrets private key(s) and the ingress certificate, so nobody gets
data-plane access by default: only the deploying identity (Key Vault Secrets Officer, to write
the sealing keys) and, optionally, named readers scoped to single objects (for example the AKS
Key Vault secrets provider reading the ingress wildcard certificate).

Vault names are global DNS names (``<name>.vault.azure.net``), 3-24 characters. The name is
``<prefix>-kv`` (shortened to fit) plus a 6-character hash of organization/project/stack/component,
e.g. ``plat-dev-kv-1a2b3c``: stable for the life of the stack, different for two organizations that
both use ``plat-dev``. See docs/sealed-secrets.md ("Vault names") for the soft-delete caveat.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pulumi
from pulumi_azure_native import authorization, keyvault, monitor

from components.azure_placement import AzurePlacement
from components.azure_roles import (
    KEY_VAULT_CERTIFICATE_USER,
    KEY_VAULT_SECRETS_OFFICER,
    KEY_VAULT_SECRETS_USER,
    role_definition_id,
)
from components.diagnostic_settings import logs_to_workspace
from components.registered_outputs import register_attributes
from stack_config import KeyVaultConfig

VAULT_NAME_MAX = 24
_SUFFIX_LEN = 6


def _in_subscription(role_guid: str) -> Callable[[str], str]:
    """The role's definition ID in the deploying subscription (from ``getClientConfig``)."""
    return lambda subscription_id: role_definition_id(f"/subscriptions/{subscription_id}", role_guid)


def vault_name_for(prefix: str, component_name: str, *, organization: str, project: str, stack: str) -> str:
    """A globally unique, deterministic vault name of at most 24 characters."""
    digest = hashlib.sha256(f"{organization}/{project}/{stack}/{component_name}".encode()).hexdigest()
    suffix = digest[:_SUFFIX_LEN]
    base = re.sub(r"[^a-z0-9-]", "", f"{prefix}-kv".lower())
    base = re.sub(r"-{2,}", "-", base)[: VAULT_NAME_MAX - _SUFFIX_LEN - 1].strip("-")
    if not base or not base[0].isalpha():
        base = f"kv{base}"[: VAULT_NAME_MAX - _SUFFIX_LEN - 1].rstrip("-")
    return f"{base}-{suffix}"


@dataclass(frozen=True)
class VaultReader:
    """A principal allowed to read named objects (secrets and certificates) and nothing else."""

    name: str  # stable part of the role assignments' resource names, e.g. "ingress-csi"
    principal_id: pulumi.Input[str]
    object_names: tuple[str, ...]  # secret / certificate names in the vault


@dataclass(frozen=True)
class KeyVaultArgs:
    """Inputs of :class:`KeyVault`: the ``keyVault`` config section and where the vault lives."""

    placement: AzurePlacement
    config: KeyVaultConfig
    log_analytics_workspace_id: pulumi.Input[str]
    is_prod: bool
    # PlatformConfig.deployer_principal_type: User (Azure CLI) or ServicePrincipal (CI's OIDC app, a managed
    # identity). ARM refuses an assignment whose principalType does not match (UnmatchedPrincipalType).
    deployer_principal_type: str
    # Prod and the non-prod key owner: pulumi refuses to delete the vault (it holds the only copy of keys).
    protect: bool | None = None  # None = is_prod
    readers: Sequence[VaultReader] = ()
    # Subnets allowed through the firewall besides the configured ones, e.g. the AKS node subnet: the
    # Key Vault CSI driver reads the ingress certificate from the nodes. Each needs the
    # Microsoft.KeyVault service endpoint.
    network_subnet_ids: Sequence[pulumi.Input[str]] = ()
    vault_name: str | None = None  # override the derived name (e.g. when importing an existing vault)


class KeyVault(pulumi.ComponentResource):
    """``platform:keyvault:Vault``: the environment's vault, its diagnostics and its role assignments."""

    vault: keyvault.Vault
    vault_name: pulumi.Output[str]
    vault_id: pulumi.Output[str]
    vault_uri: pulumi.Output[str]
    resource_group_name: pulumi.Output[str]
    diagnostics: monitor.DiagnosticSetting
    writer_role_assignment: authorization.RoleAssignment
    reader_role_assignments: list[authorization.RoleAssignment]

    def __init__(self, name: str, args: KeyVaultArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("platform:keyvault:Vault", name, None, opts)
        client = authorization.get_client_config_output(opts=pulumi.InvokeOutputOptions(parent=self))
        vault_name = args.vault_name or vault_name_for(
            args.placement.resource_prefix,
            name,
            organization=pulumi.get_organization(),
            project=pulumi.get_project(),
            stack=pulumi.get_stack(),
        )
        self.vault = self._vault(name, vault_name, args, client.tenant_id)

        # Every data-plane access (who read which secret) lands in Log Analytics for audit, in the
        # AZKVAuditLogs table that the unexpected-reader alert queries.
        self.diagnostics = logs_to_workspace(
            name,
            vault_name,
            self.vault.id,
            args.log_analytics_workspace_id,
            log_category_groups=["allLogs"],
            metric_categories=["AllMetrics"],
            opts=pulumi.ResourceOptions(parent=self),
        )
        self._role_assignments(name, args, client)

        self.vault_name = self.vault.name
        self.vault_id = self.vault.id
        self.vault_uri = self.vault.properties.apply(lambda p: p.vault_uri)
        self.resource_group_name = pulumi.Output.from_input(args.placement.resource_group_name)
        register_attributes(self, "vault_name", "vault_id", "vault_uri", "resource_group_name")

    def _vault(self, name: str, vault_name: str, args: KeyVaultArgs, tenant_id: pulumi.Input[str]) -> keyvault.Vault:
        return keyvault.Vault(
            f"{name}-vault",
            vault_name=vault_name,
            resource_group_name=args.placement.resource_group_name,
            location=args.placement.location,
            tags=dict(args.placement.tags),
            properties=keyvault.VaultPropertiesArgs(
                tenant_id=tenant_id,
                sku=keyvault.SkuArgs(family=keyvault.SkuFamily.A, name=keyvault.SkuName(args.config.sku)),
                # Access policies are per-vault ACLs outside Azure RBAC, PIM and conditional access.
                enable_rbac_authorization=True,
                # A deleted secret or vault stays recoverable for the retention window...
                enable_soft_delete=True,
                soft_delete_retention_in_days=args.config.soft_delete_retention_days,
                # ...and nobody, not even an owner, can purge it early (irreversible by design).
                enable_purge_protection=True,
                # No VM, disk-encryption or ARM-template path to the secrets.
                enabled_for_deployment=False,
                enabled_for_disk_encryption=False,
                enabled_for_template_deployment=False,
                # Disabled (prod): only the private endpoint answers (VaultPrivateEndpoint); a leaked token is
                # useless outside the network. Enabled: the firewall below applies (deny by default).
                public_network_access=args.config.public_network_access,
                # Reachable only from the listed ranges/subnets (and trusted Azure services).
                network_acls=keyvault.NetworkRuleSetArgs(
                    default_action=keyvault.NetworkRuleAction.DENY,
                    bypass=keyvault.NetworkRuleBypassOptions.AZURE_SERVICES,
                    ip_rules=[keyvault.IPRuleArgs(value=c) for c in args.config.allowed_cidrs],
                    virtual_network_rules=[
                        keyvault.VirtualNetworkRuleArgs(id=s)
                        for s in (*args.config.allowed_subnet_ids, *args.network_subnet_ids)
                    ],
                ),
            ),
            opts=pulumi.ResourceOptions(parent=self, protect=args.is_prod if args.protect is None else args.protect),
        )

    def _role_assignments(
        self, name: str, args: KeyVaultArgs, client: pulumi.Output[authorization.GetClientConfigResult]
    ) -> None:
        child = pulumi.ResourceOptions(parent=self)
        # The identity running Pulumi manages the sealing keys; no one else gets data-plane access by default.
        # azure-native creates keyvault.Secret through ARM but DELETES it through the data plane (ARM has no
        # secret delete), so destroy/rotation-removal needs this role and a deployer IP in allowedCidrs.
        self.writer_role_assignment = authorization.RoleAssignment(
            f"{name}-deployer-secrets-officer",
            scope=self.vault.id,
            principal_id=client.object_id,
            principal_type=authorization.PrincipalType(args.deployer_principal_type),
            role_definition_id=client.subscription_id.apply(_in_subscription(KEY_VAULT_SECRETS_OFFICER)),
            description="Deploying identity writes the sealed-secrets keys (platform bootstrap)",
            opts=child,
        )

        # Readers are scoped to single objects, so the ingress certificate reader cannot read the sealing keys.
        self.reader_role_assignments = []
        for reader in args.readers:
            for obj in reader.object_names:
                for kind, role in (("secrets", KEY_VAULT_SECRETS_USER), ("certificates", KEY_VAULT_CERTIFICATE_USER)):
                    self.reader_role_assignments.append(
                        authorization.RoleAssignment(
                            f"{name}-{reader.name}-{obj}-{kind}-reader",
                            scope=pulumi.Output.concat(self.vault.id, f"/{kind}/{obj}"),
                            principal_id=reader.principal_id,
                            principal_type=authorization.PrincipalType.SERVICE_PRINCIPAL,
                            role_definition_id=client.subscription_id.apply(_in_subscription(role)),
                            description=f"{reader.name} reads {kind}/{obj} only",
                            opts=child,
                        )
                    )
