"""``observability``: where logs and metrics go, how long they stay, and who is told when something breaks."""

from __future__ import annotations

import re
from dataclasses import dataclass

from stack_config.reader import GUID
from stack_config.spec import Boolean, ByClass, Integer, Required, Text, Texts, key, prod_allows, prod_at_least

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_EVENT_HUB_NAMESPACE_ID = re.compile(
    r"^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.EventHub/namespaces/[A-Za-z0-9-]{6,50}$",
    re.IGNORECASE,
)
# Container Insights: "Valid values are 1m - 30m in 1m intervals" (learn: container-insights-data-collection-configure).
_INTERVAL = re.compile(r"^([1-9]|[12][0-9]|30)m$")
# Log Analytics total retention: "between 4 and 4383 (= 12 years)" (operationalinsights.Table SDK docstring).
MAX_TOTAL_RETENTION_DAYS = 4383
PROD_MIN_SECURITY_RETENTION_DAYS = 365


@dataclass(frozen=True)
class ObservabilityConfig:
    alert_emails: tuple[str, ...] = key(
        "alertEmails",
        Texts(pattern=_EMAIL, describe="allowed: an email address"),
        "who the alerts' action group emails",
        default=(),
        required=Required(
            "at least one address in prod: an alert nobody receives protects nothing",
            when=lambda ctx: ctx.prod_environment,
            doc="`[]`; required in prod",
        ),
    )
    audit_reads: bool = key(
        "auditReads",
        Boolean(),
        "collect kube-audit (reads of Secrets included, high volume) besides kube-audit-admin",
        default=ByClass(prod=True, nonprod=False),
        prod=prod_allows(True, why="a read of the sealing key must be on record"),
    )
    security_log_retention_days: int = key(
        "securityLogRetentionDays",
        Integer(30, MAX_TOTAL_RETENTION_DAYS),
        "total retention (interactive + archive) of the audit and mesh log tables",
        default=ByClass(prod=PROD_MIN_SECURITY_RETENTION_DAYS, nonprod=90),
        prod=prod_at_least(PROD_MIN_SECURITY_RETENTION_DAYS),
    )
    expiry_warning_days: int = key(
        "expiryWarningDays",
        Integer(1, 365),
        "alert when a sealing or ingress certificate expires within this",
        default=30,
    )
    collection_interval: str = key(
        "collectionInterval",
        Text(pattern=_INTERVAL, describe="allowed: 1m to 30m in whole minutes"),
        "Container Insights inventory and performance interval",
        default=ByClass(prod="1m", nonprod="5m"),
    )
    key_vault_readers: tuple[str, ...] = key(
        "keyVaultReaders",
        Texts(pattern=GUID, describe="allowed: an Entra ID object ID (a GUID)"),
        "identities allowed to read vault secrets besides the deployer and the CSI add-on (others alert)",
        default=(),
    )
    siem_event_hub_namespace_id: str | None = key(
        "siemEventHubNamespaceId",
        Text(pattern=_EVENT_HUB_NAMESPACE_ID, describe="allowed: an Event Hubs namespace resource ID"),
        "stream the security tables to this Event Hubs namespace (a SIEM reads them there)",
    )
    immutable_archive_days: int | None = key(
        "immutableArchiveDays",
        Integer(1, 146000),
        "also export the security tables to a storage account whose blobs cannot be changed for this many days",
    )
