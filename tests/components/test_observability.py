"""Observability, LogRetention and PlatformAlerts in the whole program: what is collected, kept and alerted on."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from components import alert_queries
from components.alerts import not_after, workbook_content
from tests.conftest import cached_stack_run
from tests.resource_types import Azure, K8s
from tools.mocks import MOCK_VALIDITY_START, SUBSCRIPTION_ID, self_signed_pair
from tools.program_runner import ProgramRun, run_program


@pytest.fixture(scope="module")
def dev() -> ProgramRun:
    return cached_stack_run("dev")


@pytest.fixture(scope="module")
def prod() -> ProgramRun:
    return cached_stack_run("prod")


# --------------------------------------------------------------------------- container logs


@pytest.mark.parametrize("stack, interval", [("dev", "5m"), ("prod", "1m")])
def test_container_insights_rule_scopes_the_namespaces_that_matter(stack, interval):
    run = cached_stack_run(stack)
    dcr = run.one(Azure.DATA_COLLECTION_RULE, "observability-container-insights-dcr")
    [extension] = dcr.get("dataSources.extensions")
    assert extension["extensionName"] == "ContainerInsights"
    assert "Microsoft-ContainerLogV2" in extension["streams"] and "Microsoft-ContainerLog" not in extension["streams"]
    assert extension["extensionSettings"]["dataCollectionSettings"] == {
        "interval": interval,
        "namespaceFilteringMode": "Include",
        # istio-system must be in: the istiod-unavailable alert reads its KubePodInventory.
        "namespaces": sorted(["istio-system", "istio-ingress", "istio-egress", "sealed-secrets", "shop", "payments"]),
        "enableContainerLogV2": True,
    }
    assert dcr.get("destinations.logAnalytics") == [
        {"name": "ciworkspace", "workspaceResourceId": run.one(Azure.LOG_ANALYTICS_WORKSPACE).id}
    ]
    assert dcr.get("dataFlows") == [{"streams": extension["streams"], "destinations": ["ciworkspace"]}]
    association = run.one(Azure.DATA_COLLECTION_RULE_ASSOCIATION, "observability-container-insights-dcra")
    assert association.get("associationName") == "ContainerInsightsExtension"
    assert association.get("resourceUri") == run.one(Azure.MANAGED_CLUSTER).id
    assert association.get("dataCollectionRuleId") == dcr.id


def test_agent_config_map_keeps_mesh_logs_and_drops_environment_variables(dev):
    agent = dev.one(K8s.CONFIG_MAP, "observability-agent-config")
    assert agent.get("metadata") == {"name": "container-azm-ms-agentconfig", "namespace": "kube-system"}
    settings = agent.get("data")["log-data-collection-settings"]
    excluded = re.findall(r"exclude_namespaces = \[(.*)\]", settings)
    assert len(excluded) == 2  # stdout and stderr
    for line in excluded:
        names = {n.strip().strip('"') for n in line.split(",")}
        assert {"kube-system", "gatekeeper-system"} <= names
        assert not names & {"istio-system", "istio-ingress", "istio-egress", "sealed-secrets", "shop", "payments"}
    assert "[log_collection_settings.env_var]\n      enabled = false" in settings
    assert 'containerlog_schema_version = "v2"' in settings


# --------------------------------------------------------------------------- managed Prometheus


def test_prometheus_pipeline_from_cluster_to_monitor_workspace(prod):
    amw, dce = prod.one(Azure.MONITOR_WORKSPACE), prod.one(Azure.DATA_COLLECTION_ENDPOINT)
    rule = prod.one(Azure.DATA_COLLECTION_RULE, "observability-prometheus-dcr")
    assert rule.get("dataCollectionEndpointId") == dce.id
    assert rule.get("dataSources.prometheusForwarder") == [
        {"name": "PrometheusDataSource", "streams": ["Microsoft-PrometheusMetrics"], "labelIncludeFilter": {}}
    ]
    assert rule.get("destinations.monitoringAccounts") == [{"name": "MonitoringAccount1", "accountResourceId": amw.id}]
    association = prod.one(Azure.DATA_COLLECTION_RULE_ASSOCIATION, "observability-prometheus-dcra")
    assert association.get("resourceUri") == prod.one(Azure.MANAGED_CLUSTER).id
    assert association.get("dataCollectionRuleId") == rule.id
    assert prod.one(Azure.MANAGED_CLUSTER).get("azureMonitorProfile.metrics.enabled") is True


def test_scraper_reads_annotated_pods_of_the_mesh_and_opted_in_apps_only(dev):
    settings = dev.one(K8s.CONFIG_MAP, "observability-metrics-settings")
    assert settings.get("metadata.namespace") == "kube-system"
    line = settings.get("data")["pod-annotation-based-scraping"]
    match = re.fullmatch(r'podannotationnamespaceregex = "(.*)"', line)
    assert match is not None, line
    regex = match.group(1)
    for ns in ("istio-system", "istio-ingress", "istio-egress", "shop", "payments"):
        assert re.fullmatch(regex, ns), ns
    for ns in ("kube-system", "sealed-secrets", "shop-2", "default"):
        assert not re.fullmatch(regex, ns), ns


# --------------------------------------------------------------------------- alerts

PROD_ALERTS = {
    "plat-prod-sealing-key-read": ("AKSAudit", 0),
    "plat-prod-certificate-expiry": ("datatable(Certificate: string, NotAfter: datetime)", 2),
    "plat-prod-egress-denied": ("ContainerLogV2", 2),
    "plat-prod-mtls-handshake-failure": ("downstream_transport_failure_reason", 2),
    "plat-prod-istiod-unavailable": ("KubePodInventory", 1),
    "plat-prod-key-vault-unexpected-reader": ("AZKVAuditLogs", 1),
}


def test_each_alert_rule_queries_the_workspace_and_pages_the_action_group(prod):
    rules = {r.get("ruleName"): r for r in prod.of_type(Azure.SCHEDULED_QUERY_RULE)}
    assert set(rules) == set(PROD_ALERTS)
    group = prod.one(Azure.ACTION_GROUP)
    assert group.get("emailReceivers") == [
        {"name": "email-0", "emailAddress": "platform-oncall@example.com", "useCommonAlertSchema": True}
    ]
    for name, (marker, severity) in PROD_ALERTS.items():
        rule = rules[name]
        [condition] = rule.get("criteria.allOf")
        assert marker in condition["query"], name
        # "GreaterThan", not the "gt" the SDK's merged ConditionOperator enum would send.
        assert (condition["operator"], condition["threshold"], condition["timeAggregation"]) == (
            "GreaterThan",
            0,
            "Count",
        )
        assert rule.get("kind") == "LogAlert" and rule.get("enabled") is True
        assert rule.get("severity") == severity
        assert rule.get("scopes") == [prod.one(Azure.LOG_ANALYTICS_WORKSPACE).id]
        assert rule.get("actions.actionGroups") == [group.id]


def test_sealing_key_alert_ignores_only_the_controller(prod):
    [condition] = prod.one(Azure.SCHEDULED_QUERY_RULE, "alerts-sealing-key-read").get("criteria.allOf")
    query = condition["query"]
    assert 'ObjectRef.namespace == "sealed-secrets"' in query
    assert 'Name startswith "sealed-secrets-key"' in query and "isempty(Name)" in query  # list/watch count too
    assert 'Caller != "system:serviceaccount:sealed-secrets:sealed-secrets-controller"' in query


def test_expiry_alert_carries_each_sealing_certificate_date(prod):
    [condition] = prod.one(Azure.SCHEDULED_QUERY_RULE, "alerts-certificate-expiry").get("criteria.allOf")
    # Pulumi.prod.yaml: one key generation, certValidityDays default 365 (the mock signs from MOCK_VALIDITY_START).
    expires = (MOCK_VALIDITY_START + timedelta(days=365)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert f'"sealing-key-gen1", datetime({expires})' in condition["query"]
    assert "| where NotAfter < now() + 30d" in condition["query"]


def test_key_vault_alert_allows_the_deployer_and_the_csi_add_on_only(prod):
    [condition] = prod.one(Azure.SCHEDULED_QUERY_RULE, "alerts-key-vault-unexpected-reader").get("criteria.allOf")
    match = re.search(r"let allowed = dynamic\((\[.*?\])\);", condition["query"])
    assert match is not None, condition["query"]
    allowed = json.loads(match.group(1))
    deployer = prod.one(Azure.ROLE_ASSIGNMENT, "vault-deployer-secrets-officer")
    assert deployer.get("principalId") in allowed
    assert len(allowed) == 2


def test_dev_without_audit_reads_has_no_sealing_key_alert(dev):
    names = {r.get("ruleName") for r in dev.of_type(Azure.SCHEDULED_QUERY_RULE)}
    assert "plat-dev-sealing-key-read" not in names
    assert "plat-dev-certificate-expiry" in names


def test_mesh_ca_root_expiry_is_a_prometheus_rule_on_the_monitor_workspace(prod):
    group = prod.one(Azure.PROMETHEUS_RULE_GROUP)
    assert group.get("scopes") == [prod.one(Azure.MONITOR_WORKSPACE).id]
    [rule] = group.get("rules")
    assert rule["expression"] == "(min(citadel_server_root_cert_expiry_timestamp) - time()) / 86400 < 30"
    assert rule["actions"] == [{"actionGroupId": prod.one(Azure.ACTION_GROUP).id}]


def test_expiry_query_lists_a_certificate_inside_the_warning_window():
    _, certificate = self_signed_pair("soon", "ingress", 48)
    expires = not_after(certificate)
    assert expires == MOCK_VALIDITY_START + timedelta(hours=48) == datetime(2026, 11, 28, tzinfo=UTC)
    query = alert_queries.certificate_expiry({"ingress": expires}, 14)
    assert query.startswith(
        'datatable(Certificate: string, NotAfter: datetime) ["ingress", datetime(2026-11-28T00:00:00Z)]'
    )
    assert "now() + 14d" in query


def test_a_pem_that_is_not_a_certificate_is_an_error():
    with pytest.raises(ValueError, match="cannot read the expiry"):
        not_after("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n")


# --------------------------------------------------------------------------- retention


@pytest.mark.parametrize(
    "stack, interactive, total, tables, protected",
    [
        ("dev", 30, 90, {"AKSAuditAdmin", "AKSControlPlane", "AZKVAuditLogs", "ContainerLogV2"}, False),
        ("prod", 365, 730, {"AKSAudit", "AKSAuditAdmin", "AKSControlPlane", "AZKVAuditLogs", "ContainerLogV2"}, True),
    ],
)
def test_security_tables_retention_per_environment_class(stack, interactive, total, tables, protected):
    run = cached_stack_run(stack)
    found = {t.get("tableName"): t for t in run.of_type(Azure.LOG_ANALYTICS_TABLE)}
    assert set(found) == tables
    for table in found.values():
        assert table.get("workspaceName") == run.one(Azure.LOG_ANALYTICS_WORKSPACE).get("workspaceName")
        assert (table.get("retentionInDays"), table.get("totalRetentionInDays")) == (interactive, total)
        assert table.get("plan") == "Analytics"
        assert table.protect is protected
    assert not run.of_type(Azure.LOG_ANALYTICS_DATA_EXPORT) and not run.of_type(
        Azure.STORAGE_ACCOUNT
    )  # both exports are options


def test_siem_export_and_immutable_archive_when_configured():
    hub = f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/siem/providers/Microsoft.EventHub/namespaces/siem-hub"
    run = run_program(
        "prod",
        overrides={
            "observability": {
                "alertEmails": ["platform-oncall@example.com"],
                "siemEventHubNamespaceId": hub,
                "immutableArchiveDays": 400,
            }
        },
    )
    exports = {e.get("dataExportName"): e for e in run.of_type(Azure.LOG_ANALYTICS_DATA_EXPORT)}
    tables = ["AKSAudit", "AKSAuditAdmin", "AKSControlPlane", "AZKVAuditLogs", "ContainerLogV2"]
    assert exports["plat-prod-security-to-siem"].get("resourceId") == hub
    account = run.one(Azure.STORAGE_ACCOUNT)
    assert exports["plat-prod-security-to-archive"].get("resourceId") == account.id
    for export in exports.values():
        assert export.get("tableNames") == tables and export.get("enable") is True
    assert account.get("immutableStorageWithVersioning") == {
        "enabled": True,
        "immutabilityPolicy": {
            "immutabilityPeriodSinceCreationInDays": 400,
            "state": "Unlocked",
            "allowProtectedAppendWrites": True,
        },
    }
    assert account.get("allowBlobPublicAccess") is False and account.get("minimumTlsVersion") == "TLS1_2"
    assert account.protect


# --------------------------------------------------------------------------- workbook


def test_workbook_is_the_repository_json_with_this_deployments_expiry_query(prod):
    workbook = prod.one(Azure.WORKBOOK)
    assert uuid.UUID(workbook.get("resourceName"))  # "The value must be an UUID"
    assert workbook.get("sourceId") == prod.one(Azure.LOG_ANALYTICS_WORKSPACE).id and workbook.get("kind") == "shared"
    content = json.loads(workbook.get("serializedData"))
    names = [item["name"] for item in content["items"]]
    assert names == ["intro", "mesh-traffic-by-identity", "denied-requests", "certificate-expiry", "node-image-age"]
    [expiry] = [i for i in content["items"] if i["name"] == "certificate-expiry"]
    assert expiry["content"]["query"].startswith(
        'datatable(Certificate: string, NotAfter: datetime) ["sealing-key-gen1"'
    )


def test_workbook_placeholder_is_replaced_and_nothing_else_changes():
    content = json.loads(workbook_content("print 1"))
    queries = [i["content"].get("query") for i in content["items"] if i["type"] == 3]
    assert "print 1" in queries and "{{CERTIFICATE_EXPIRY}}" not in queries
