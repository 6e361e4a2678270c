"""Resource logs to the environment's Log Analytics workspace, one shape for every Azure resource that has them.

Resource-specific tables (``logAnalyticsDestinationType: Dedicated``: AKSAudit, AZKVAuditLogs,
AZFWApplicationRule, ...) instead of the shared AzureDiagnostics table: some (AKSAudit) exist only as
resource-specific tables, and the alerts (components/alert_queries.py) query these tables.
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
from pulumi_azure_native import monitor


def logs_to_workspace(
    resource_name: str,
    target_name: str,
    resource_id: pulumi.Input[str],
    workspace_id: pulumi.Input[str],
    *,
    log_categories: Sequence[str] = (),
    log_category_groups: Sequence[str] = (),
    metric_categories: Sequence[str] = (),
    opts: pulumi.ResourceOptions,
) -> monitor.DiagnosticSetting:
    """``<resource_name>-diagnostics``: the setting ``<target_name>-to-law`` of ``resource_id`` to the workspace."""
    logs = [monitor.DiagnosticsLogSettingsArgs(category=c, enabled=True) for c in log_categories] + [
        monitor.DiagnosticsLogSettingsArgs(category_group=g, enabled=True) for g in log_category_groups
    ]
    return monitor.DiagnosticSetting(
        f"{resource_name}-diagnostics",
        name=f"{target_name}-to-law",
        resource_uri=resource_id,
        workspace_id=workspace_id,
        log_analytics_destination_type="Dedicated",
        logs=logs,
        metrics=[monitor.DiagnosticsMetricSettingsArgs(category=c, enabled=True) for c in metric_categories] or None,
        opts=opts,
    )
