"""PlatformAlerts: who is told, about what (log alerts over the workspace, one Prometheus rule), and the workbook.

Every log alert runs its KQL (components/alert_queries.py) over the environment's workspace every five
minutes and fires when it returns a row; each row names the offender (caller, pod, certificate). What an
alert means and what to do: docs/observability.md.

The log-alert operator is the plain string ``"GreaterThan"``: the SDK's merged ``monitor.ConditionOperator``
belongs to another resource and would send ``"gt"``, which a scheduled query rule rejects.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pulumi
from cryptography import x509
from pulumi_azure_native import alertsmanagement, applicationinsights, monitor

from components import alert_queries as kql
from components.azure_placement import AzurePlacement
from components.registered_outputs import register_attributes
from stack_config import ObservabilityConfig

WORKBOOK_FILE = Path(__file__).parent / "workbooks" / "platform-overview.json"
WORKBOOK_EXPIRY_PLACEHOLDER = "{{CERTIFICATE_EXPIRY}}"
# The workbook's resource name must be a GUID: derived from the stack's prefix, so it is stable.
_WORKBOOK_NAMESPACE = uuid.UUID("6c1f0f3e-59a4-4c1b-9a4e-3f4b2d8e7a10")


@dataclass(frozen=True)
class LogAlert:
    """One scheduled query rule: a query whose every row is an incident."""

    key: str  # rule name suffix and Pulumi name suffix
    title: str
    description: str
    severity: int  # 0 critical .. 4 verbose
    query: pulumi.Input[str]


@dataclass(frozen=True)
class PlatformAlertsArgs:
    """Inputs of :class:`PlatformAlerts`: the ``observability`` section and the facts the queries name."""

    config: ObservabilityConfig
    placement: AzurePlacement
    log_analytics_workspace_id: pulumi.Input[str]
    monitor_workspace_id: pulumi.Input[str]  # Observability.monitor_workspace_id (managed Prometheus)
    cluster_name: pulumi.Input[str]
    sealed_secrets_namespace: str
    sealed_secrets_controller: str  # the controller's service account (the chart names it after the release)
    sealing_key_secret_prefix: str  # every key Secret's name starts with it
    # Name -> PEM of each certificate whose expiry the platform watches (public certificates only).
    certificates: Mapping[str, pulumi.Input[str]]
    # Object IDs that read vault secrets by design (deployer, CSI add-on); the config's keyVaultReaders join them.
    key_vault_readers: Sequence[pulumi.Input[str]]
    egress_namespace: str
    istiod_namespace: str


def not_after(pem: str) -> datetime:
    """A certificate's notAfter; a PEM that does not parse is an error, never a silently unwatched certificate."""
    try:
        return x509.load_pem_x509_certificate(pem.encode()).not_valid_after_utc
    except ValueError as err:
        raise ValueError(f"cannot read the expiry of a watched certificate: {err}") from err


def workbook_content(expiry_query: str) -> str:
    """The workbook JSON from the repository, with this deployment's certificate-expiry query filled in."""
    workbook = json.loads(WORKBOOK_FILE.read_text())
    for item in workbook["items"]:
        if item.get("content", {}).get("query") == WORKBOOK_EXPIRY_PLACEHOLDER:
            item["content"]["query"] = expiry_query
    return json.dumps(workbook, separators=(",", ":"))


def log_alerts(args: PlatformAlertsArgs, expiry_query: pulumi.Input[str]) -> list[LogAlert]:
    cfg = args.config
    controller = f"system:serviceaccount:{args.sealed_secrets_namespace}:{args.sealed_secrets_controller}"
    readers = pulumi.Output.all(*args.key_vault_readers).apply(lambda ids: [*ids, *cfg.key_vault_readers])
    alerts = [
        LogAlert(
            "certificate-expiry",
            "Certificate expires soon",
            f"A sealing or ingress certificate expires within {cfg.expiry_warning_days} days.",
            2,
            expiry_query,
        ),
        LogAlert(
            "egress-denied",
            "Egress denied (blocked exfiltration attempt?)",
            "The mesh refused traffic to an undeclared host, or a caller the egress gateway does not admit.",
            2,
            kql.egress_denied(args.egress_namespace),
        ),
        LogAlert(
            "mtls-handshake-failure",
            "mTLS handshake failures",
            "Proxies failed TLS handshakes: a peer without a valid mesh certificate, or a broken trust chain.",
            2,
            kql.mtls_handshake_failures(),
        ),
        LogAlert(
            "istiod-unavailable",
            "istiod unavailable",
            "No istiod pod ran for five minutes: no certificates are issued or renewed and no config is pushed.",
            1,
            kql.istiod_unavailable(args.istiod_namespace),
        ),
        LogAlert(
            "key-vault-unexpected-reader",
            "Key Vault secret read by an unexpected identity",
            "A vault secret was read (or listed) by an identity outside the allow-list.",
            1,
            readers.apply(kql.key_vault_unexpected_reader),
        ),
    ]
    if cfg.audit_reads:
        # Needs kube-audit (AKSAudit): without it the rule could never fire, so it is not pretended.
        alerts.insert(
            0,
            LogAlert(
                "sealing-key-read",
                "Sealing key read by someone other than the controller",
                "A get, list or watch of the sealing-key Secret by anyone but the sealed-secrets controller.",
                0,
                kql.sealing_key_read(args.sealed_secrets_namespace, args.sealing_key_secret_prefix, controller),
            ),
        )
    return alerts


class PlatformAlerts(pulumi.ComponentResource):
    """The action group, the log alerts, the mesh-CA expiry rule and the overview workbook."""

    action_group_id: pulumi.Output[str] | None
    alert_names: list[str]
    workbook_id: pulumi.Output[str]

    def __init__(self, name: str, args: PlatformAlertsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("platform:monitor:Alerts", name, None, opts)
        self.action_group_id = self._action_group(name, args)
        expiry_query = pulumi.Output.all(*args.certificates.values()).apply(
            lambda pems: kql.certificate_expiry(
                {n: not_after(p) for n, p in zip(args.certificates, pems, strict=True)}, args.config.expiry_warning_days
            )
        )
        self.alert_names = []
        for alert in log_alerts(args, expiry_query):
            self._log_alert(name, alert, args)
        self._mesh_ca_expiry(name, args)
        self.workbook_id = self._workbook(name, args, expiry_query)
        register_attributes(self, "action_group_id", "alert_names", "workbook_id")

    def _action_group(self, name: str, args: PlatformAlertsArgs) -> pulumi.Output[str] | None:
        if not args.config.alert_emails:
            return None
        group = monitor.ActionGroup(
            f"{name}-action-group",
            action_group_name=f"{args.placement.resource_prefix}-platform-alerts",
            resource_group_name=args.placement.resource_group_name,
            location="Global",
            group_short_name=args.placement.resource_prefix.replace("-", "")[:12],
            enabled=True,
            email_receivers=[
                monitor.MicrosoftCommonEmailReceiverArgs(
                    name=f"email-{i}", email_address=address, use_common_alert_schema=True
                )
                for i, address in enumerate(args.config.alert_emails)
            ],
            tags=dict(args.placement.tags),
            opts=pulumi.ResourceOptions(parent=self),
        )
        return group.id

    def _log_alert(self, name: str, alert: LogAlert, args: PlatformAlertsArgs) -> None:
        rule_name = f"{args.placement.resource_prefix}-{alert.key}"
        monitor.ScheduledQueryRule(
            f"{name}-{alert.key}",
            rule_name=rule_name,
            display_name=alert.title,
            description=alert.description,
            resource_group_name=args.placement.resource_group_name,
            location=args.placement.location,
            kind=monitor.Kind.LOG_ALERT,
            scopes=[args.log_analytics_workspace_id],
            severity=alert.severity,
            enabled=True,
            evaluation_frequency="PT5M",
            window_size="PT5M",
            criteria=monitor.ScheduledQueryRuleCriteriaArgs(
                all_of=[
                    monitor.ConditionArgs(
                        query=alert.query,
                        time_aggregation=monitor.TimeAggregation.COUNT,
                        operator="GreaterThan",
                        threshold=0,
                        failing_periods=monitor.ConditionFailingPeriodsArgs(
                            min_failing_periods_to_alert=1, number_of_evaluation_periods=1
                        ),
                    )
                ]
            ),
            actions=monitor.ActionsArgs(action_groups=[self.action_group_id]) if self.action_group_id else None,
            auto_mitigate=True,
            tags=dict(args.placement.tags),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.alert_names.append(rule_name)

    def _mesh_ca_expiry(self, name: str, args: PlatformAlertsArgs) -> None:
        """istiod's CA root certificate (metric from istiod's CA, security/pkg/server/ca/monitoring.go)."""
        days = args.config.expiry_warning_days
        alertsmanagement.PrometheusRuleGroup(
            f"{name}-mesh-ca",
            rule_group_name=f"{args.placement.resource_prefix}-mesh-ca",
            resource_group_name=args.placement.resource_group_name,
            location=args.placement.location,
            scopes=[args.monitor_workspace_id],
            cluster_name=args.cluster_name,
            interval="PT5M",
            enabled=True,
            description="The mesh CA's root certificate is about to expire: every workload certificate chains to it.",
            rules=[
                alertsmanagement.PrometheusRuleArgs(
                    alert="MeshCaRootExpiresSoon",
                    expression=f"(min(citadel_server_root_cert_expiry_timestamp) - time()) / 86400 < {days}",
                    for_="PT15M",
                    severity=2,
                    enabled=True,
                    annotations={"description": f"The Istio CA root certificate expires within {days} days."},
                    actions=(
                        [alertsmanagement.PrometheusRuleGroupActionArgs(action_group_id=self.action_group_id)]
                        if self.action_group_id
                        else None
                    ),
                )
            ],
            tags=dict(args.placement.tags),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _workbook(self, name: str, args: PlatformAlertsArgs, expiry_query: pulumi.Output[str]) -> pulumi.Output[str]:
        workbook = applicationinsights.Workbook(
            f"{name}-workbook",
            resource_name_=str(uuid.uuid5(_WORKBOOK_NAMESPACE, args.placement.resource_prefix)),
            resource_group_name=args.placement.resource_group_name,
            location=args.placement.location,
            kind=applicationinsights.WorkbookSharedTypeKind.SHARED,
            category="workbook",
            display_name=f"Platform overview ({args.placement.resource_prefix})",
            serialized_data=expiry_query.apply(workbook_content),
            source_id=args.log_analytics_workspace_id,
            version="Notebook/1.0",
            tags=dict(args.placement.tags),
            opts=pulumi.ResourceOptions(parent=self),
        )
        return workbook.id
