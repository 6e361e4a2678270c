"""LogRetention: how long the security logs stay, where copies go, and which copy nobody can alter.

- **Interactive + archive.** The workspace keeps everything ``cluster.logRetentionDays`` interactively;
  each security table also gets a total retention (``observability.securityLogRetentionDays``, prod at
  least a year). "extend the table's total retention to up to 12 years" (learn: "Manage data retention
  in a Log Analytics workspace"); an ``operationalinsights.Table`` updates a built-in table in place.
- **SIEM.** With ``siemEventHubNamespaceId`` a workspace data export streams the same tables to that Event
  Hubs namespace (one hub per table, named by Azure).
- **Immutable copy.** With ``immutableArchiveDays`` a second data export writes them to a storage account with
  account-level version immutability: a blob cannot be changed or deleted before that many days, even by
  an owner of the subscription once the policy is locked (locking is a deliberate manual step: it cannot
  be undone). Exported blobs are append blobs, so protected appends stay allowed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import pulumi
from pulumi_azure_native import operationalinsights, storage

from components.azure_placement import AzurePlacement
from components.registered_outputs import register_attributes
from stack_config import ObservabilityConfig

# Who did what (audit, admin audit, Entra ID/guard and API server), Key Vault access, and the mesh's
# access logs with source and destination identities.
SECURITY_TABLES = ("AKSAuditAdmin", "AKSControlPlane", "AZKVAuditLogs", "ContainerLogV2")
AUDIT_READS_TABLE = "AKSAudit"


def security_tables(audit_reads: bool) -> tuple[str, ...]:
    """The tables kept long and exported; AKSAudit only where it is collected."""
    return (AUDIT_READS_TABLE, *SECURITY_TABLES) if audit_reads else SECURITY_TABLES


def archive_account_name(resource_prefix: str) -> str:
    """A storage account name (3-24 lowercase letters and digits, globally unique): prefix + a stable hash."""
    compact = "".join(c for c in resource_prefix if c.isalnum())[:14]
    return f"{compact}log{hashlib.sha256(resource_prefix.encode()).hexdigest()[:7]}"


@dataclass(frozen=True)
class LogRetentionArgs:
    """Inputs of :class:`LogRetention`: the ``observability`` section and the environment's workspace."""

    config: ObservabilityConfig
    interactive_retention_days: int  # cluster.logRetentionDays: the workspace default
    placement: AzurePlacement
    is_prod: bool
    workspace_name: pulumi.Input[str]  # PlatformBase.log_analytics_workspace_name


class LogRetention(pulumi.ComponentResource):
    """Per-table total retention, the optional SIEM export and the optional immutable archive."""

    tables: list[str]
    archive_account_id: pulumi.Output[str] | None

    def __init__(self, name: str, args: LogRetentionArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("platform:monitor:LogRetention", name, None, opts)
        cfg = args.config
        self.tables = list(security_tables(cfg.audit_reads))
        child = pulumi.ResourceOptions(parent=self, protect=args.is_prod)
        for table in self.tables:
            operationalinsights.Table(
                f"{name}-{table.lower()}",
                table_name=table,
                workspace_name=args.workspace_name,
                resource_group_name=args.placement.resource_group_name,
                plan=operationalinsights.TablePlanEnum.ANALYTICS,
                retention_in_days=args.interactive_retention_days,
                # Beyond the interactive days the rows are archived (searchable by search job or restore).
                total_retention_in_days=max(cfg.security_log_retention_days, args.interactive_retention_days),
                opts=child,
            )
        if cfg.siem_event_hub_namespace_id:
            self._export(name, "siem", cfg.siem_event_hub_namespace_id, args)
        self.archive_account_id = None
        if cfg.immutable_archive_days:
            self.archive_account_id = self._immutable_archive(name, cfg.immutable_archive_days, args)
            self._export(name, "archive", self.archive_account_id, args)
        register_attributes(self, "tables", "archive_account_id")

    def _export(self, name: str, kind: str, destination_id: pulumi.Input[str], args: LogRetentionArgs) -> None:
        operationalinsights.DataExport(
            f"{name}-{kind}-export",
            data_export_name=f"{args.placement.resource_prefix}-security-to-{kind}",
            workspace_name=args.workspace_name,
            resource_group_name=args.placement.resource_group_name,
            resource_id=destination_id,
            table_names=list(self.tables),
            enable=True,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _immutable_archive(self, name: str, days: int, args: LogRetentionArgs) -> pulumi.Output[str]:
        account = storage.StorageAccount(
            f"{name}-archive",
            account_name=archive_account_name(args.placement.resource_prefix),
            resource_group_name=args.placement.resource_group_name,
            location=args.placement.location,
            kind=storage.Kind.STORAGE_V2,
            sku=storage.SkuArgs(name=storage.SkuName.STANDARD_ZRS if args.is_prod else storage.SkuName.STANDARD_LRS),
            # Only an authenticated, encrypted channel reaches the archive; nothing in it is ever public.
            enable_https_traffic_only=True,
            minimum_tls_version=storage.MinimumTlsVersion.TLS1_2,
            allow_blob_public_access=False,
            # "can only be set to true at the account creation time" (SDK): part of the account from the start.
            immutable_storage_with_versioning=storage.ImmutableStorageAccountArgs(
                enabled=True,
                immutability_policy=storage.AccountImmutabilityPolicyPropertiesArgs(
                    immutability_period_since_creation_in_days=days,
                    # Unlocked can still be shortened; locking it (irreversible) is a documented manual step.
                    state=storage.AccountImmutabilityPolicyState.UNLOCKED,
                    allow_protected_append_writes=True,
                ),
            ),
            tags=dict(args.placement.tags),
            opts=pulumi.ResourceOptions(parent=self, protect=args.is_prod),
        )
        return account.id
