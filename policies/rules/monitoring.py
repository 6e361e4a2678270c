"""Monitoring rules: the audit trail a sealing-key read leaves, and the alert that reads it."""

from __future__ import annotations

from typing import Any

# The cluster attribution and the log-category reading are the ones aks-audit-diagnostics uses.
from .aks import DIAGNOSTIC_SETTING, MANAGED_CLUSTER, enabled_log_categories, names_in_uri, stack_clusters
from .common import (
    CONTROLLER_NAMESPACE_SCHEMA,
    UNKNOWN,
    Ctx,
    Res,
    Stack,
    as_list,
    maps,
    not_applicable,
    stack_rule,
    text,
)
from .frameworks import AUDIT

SCHEDULED_QUERY_RULE = "azure-native:monitor:ScheduledQueryRule"
AUDIT_READS = "kube-audit"  # table AKSAudit: every audit event, get and list included


@stack_rule(
    name="aks-audit-reads-collected",
    domain="monitoring",
    targets=(MANAGED_CLUSTER, DIAGNOSTIC_SETTING),
    severity="high",
    what="Every AKS cluster sends kube-audit (reads included) to a workspace in resource-specific mode (table AKSAudit).",
    why="kube-audit-admin leaves out get and list: without kube-audit a read of the sealing-key Secret leaves no trace and no alert can see it.",
    remediation="Add {category: kube-audit, enabled: true} to the cluster's DiagnosticSetting with a workspaceId and logAnalyticsDestinationType: Dedicated (observability.auditReads: true).",
    frameworks=AUDIT,
)
def audit_reads(stack: Stack, ctx: Ctx) -> None:
    clusters = stack_clusters(stack)
    collected = [False for _ in clusters.all]
    undecided = [False for _ in clusters.all]
    for ds in stack.of_types(DIAGNOSTIC_SETTING):
        owners = clusters.owners(ds, "resourceUri", names_in_uri)
        if owners is UNKNOWN:
            owners = set(range(len(clusters.all)))
            verdict: bool | None = None
        else:
            verdict = _sends_audit_reads(ds)
        for position in owners:
            if verdict is True:
                collected[position] = True
            elif verdict is None:
                undecided[position] = True
    for position, cluster in enumerate(clusters.all):
        if collected[position]:
            continue
        if undecided[position]:
            ctx.unknown(f"{cluster.name}: kube-audit diagnostic setting")
        else:
            ctx.fail(
                f"cluster {cluster.name!r} sends no kube-audit logs to a workspace in Dedicated mode: "
                "reads of Secrets (the sealing key) are not on record",
                cluster.urn,
            )


def _sends_audit_reads(ds: Res) -> bool | None:
    """True if the setting sends kube-audit to a workspace's AKSAudit table; None if that is unknown yet."""
    logs, workspace, mode = ds.get("logs"), ds.get("workspaceId"), ds.get("logAnalyticsDestinationType")
    if logs is UNKNOWN or mode is UNKNOWN:
        return None
    categories, undecided = enabled_log_categories(logs)
    # An unknown workspace ID is one still to be created: it is a destination.
    if AUDIT_READS in categories and (workspace is UNKNOWN or workspace) and text(mode) == "Dedicated":
        return True
    return None if undecided else False


@stack_rule(
    name="monitor-sealing-key-read-alert",
    domain="monitoring",
    targets=(MANAGED_CLUSTER, SCHEDULED_QUERY_RULE),
    severity="high",
    what="A stack with an AKS cluster has an enabled log alert on AKSAudit reads of Secrets in the sealed-secrets namespace, with an action group.",
    why="The sealing key decrypts every SealedSecret; a read by anyone but the controller is a compromise that must page someone, not sit in a table.",
    remediation="Create a ScheduledQueryRule over the workspace whose query reads AKSAudit for secrets in the controller namespace (observability.auditReads: true and observability.alertEmails set).",
    frameworks=AUDIT + ("NIST 800-53 SI-4",),
    config={"controllerNamespace": CONTROLLER_NAMESPACE_SCHEMA},
)
def sealing_key_read_alert(stack: Stack, ctx: Ctx) -> None:
    clusters = stack.of_types(MANAGED_CLUSTER) or not_applicable("the stack has no AKS cluster")
    namespace = ctx.config["controllerNamespace"]
    undecided = False
    for rule in stack.of_types(SCHEDULED_QUERY_RULE):
        verdict = _watches_sealing_key(rule, namespace)
        if verdict is True:
            return
        undecided = undecided or verdict is None
    if undecided:
        ctx.unknown("ScheduledQueryRule: sealing-key read alert")
        return
    ctx.fail(
        f"no enabled log alert with an action group watches AKSAudit reads of Secrets in {namespace!r}",
        clusters[0].urn,
    )


def _watches_sealing_key(rule: Res, namespace: str) -> bool | None:
    enabled, criteria, actions = rule.get("enabled"), rule.get("criteria"), rule.get("actions")
    if UNKNOWN in (enabled, criteria, actions):
        return None
    if enabled is not True or not as_list(rule.get("actions.actionGroups")):
        return False
    queries: list[Any] = [c.get("query") for c in maps(rule.get("criteria.allOf"))]
    if any(q is UNKNOWN for q in queries):
        return None
    return any(isinstance(q, str) and "AKSAudit" in q and '"secrets"' in q and f'"{namespace}"' in q for q in queries)
