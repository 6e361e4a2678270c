"""Stack rules through AnalyzeStack: a complete valid stack passes; removing or changing one piece fails."""

from __future__ import annotations

import pytest

from tests.policies.analyzer import (
    DELETE,
    UNKNOWN,
    StackResource,
    analyze_stack,
    default_deny,
    gateway_server,
    istio_gateway,
    k8s,
    names,
    report,
    set_path,
    valid_cluster,
    valid_istiod_release,
    valid_peer_authentication,
    valid_sealed_secrets_release,
    valid_sealing_key_secret,
    valid_vault,
    violations,
)
from tests.resource_types import Azure, Istio, K8s, Tls

SEALING_KEY_QUERY = (
    'AKSAudit\n| where ObjectRef.resource == "secrets" and ObjectRef.namespace == "sealed-secrets"\n'
    '| where Verb in ("get", "list", "watch")'
)


def valid_stack() -> dict[str, StackResource]:
    cluster = StackResource(Azure.MANAGED_CLUSTER, "aks", valid_cluster())
    key = StackResource(Tls.PRIVATE_KEY, "sealing-key-1", {"algorithm": "RSA", "rsaBits": 4096})
    cacerts = StackResource(
        K8s.SECRET,
        "mesh-cacerts",
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "Opaque",
            "metadata": {"name": "cacerts", "namespace": "istio-system"},
            "stringData": {k: UNKNOWN for k in ("ca-cert.pem", "ca-key.pem", "root-cert.pem", "cert-chain.pem")},
        },
    )
    window = {
        "schedule": {"weekly": {"dayOfWeek": "Saturday", "intervalWeeks": 1}},
        "durationHours": 6,
        "startTime": "01:00",
        "utcOffset": "+01:00",
    }
    res = {
        "cluster": cluster,
        "node-os": StackResource(
            Azure.MAINTENANCE_CONFIGURATION,
            "node-os-window",
            {
                "configName": "aksManagedNodeOSUpgradeSchedule",
                "resourceName": UNKNOWN,
                "resourceGroupName": "rg",
                "maintenanceWindow": window,
            },
            property_dependencies={"resourceName": [cluster.urn]},
        ),
        "auto": StackResource(
            Azure.MAINTENANCE_CONFIGURATION,
            "auto-upgrade-window",
            {
                "configName": "aksManagedAutoUpgradeSchedule",
                "resourceName": "plat-prod-aks",
                "resourceGroupName": "rg",
                "maintenanceWindow": window,
            },
        ),
        "diag": StackResource(
            Azure.DIAGNOSTIC_SETTING,
            "aks-diagnostics",
            {
                "name": "aks-audit",
                "resourceUri": UNKNOWN,
                "workspaceId": UNKNOWN,
                "logAnalyticsDestinationType": "Dedicated",
                "logs": [
                    {"category": "kube-audit-admin", "enabled": True},
                    {"category": "guard", "enabled": True},
                    {"category": "kube-audit", "enabled": True},
                ],
            },
            property_dependencies={"resourceUri": [cluster.urn]},
        ),
        "sealing-key-alert": StackResource(
            Azure.SCHEDULED_QUERY_RULE,
            "alerts-sealing-key-read",
            {
                "enabled": True,
                "kind": "LogAlert",
                "scopes": [UNKNOWN],
                "criteria": {"allOf": [{"query": SEALING_KEY_QUERY, "operator": "GreaterThan", "threshold": 0}]},
                "actions": {"actionGroups": [UNKNOWN]},
            },
        ),
        "vault": StackResource(Azure.VAULT, "kv", valid_vault(), protect=True),
        "key": key,
        "kv-secret": StackResource(
            Azure.VAULT_SECRET,
            "sealing-key-1",
            {
                "secretName": "sealed-secrets-key-1",
                "properties": {"value": UNKNOWN, "attributes": {"enabled": True, "expires": 1827273600}},
            },
            property_dependencies={"properties": [key.urn]},
        ),
        "key-secret": StackResource(
            K8s.SECRET, "sealed-secrets-key-1", valid_sealing_key_secret(), property_dependencies={"data": [key.urn]}
        ),
        "sealed-secrets": StackResource(K8s.HELM_RELEASE, "sealed-secrets", valid_sealed_secrets_release()),
        "cacerts": cacerts,
        "istiod": StackResource(K8s.HELM_RELEASE, "istiod", valid_istiod_release(), dependencies=[cacerts.urn]),
        "mesh-pa": StackResource(Istio.PEER_AUTHENTICATION, "mesh-mtls", valid_peer_authentication()),
        "ns": StackResource(
            K8s.NAMESPACE,
            "shop",
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": "shop", "labels": {"istio.io/rev": "1-30-3"}},
            },
        ),
        "deny": StackResource(Istio.AUTHORIZATION_POLICY, "shop-allow-nothing", default_deny("shop")),
        "egress-gw": StackResource(Istio.GATEWAY, "egress-api", egress_gateway()),
        "egress-authz": StackResource(Istio.AUTHORIZATION_POLICY, "egress-callers", egress_authorization()),
    }
    return res


def egress_gateway() -> dict:
    server = gateway_server("TLS", 443, "tls-api-github-com", ["api.github.com"], {"mode": "ISTIO_MUTUAL"})
    return istio_gateway("egress-api-github-com", "istio-egress", {"istio": "egressgateway"}, server)


def egress_authorization() -> dict:
    return k8s(
        "security.istio.io/v1",
        "AuthorizationPolicy",
        "allow-egress-callers",
        "istio-egress",
        {
            "selector": {"matchLabels": {"istio": "egressgateway"}},
            "action": "ALLOW",
            "rules": [
                {
                    "from": [{"source": {"namespaces": ["shop"]}}],
                    "to": [{"operation": {"ports": ["443"]}}],
                    "when": [{"key": "connection.sni", "values": ["api.github.com"]}],
                }
            ],
        },
    )


def run(resources: dict[str, StackResource], config="prod"):
    return analyze_stack(resources.values(), config)


def test_valid_stack_has_no_findings():
    diags = run(valid_stack())
    assert diags == [], report(diags)


def _without(key: str):
    def change(s):
        del s[key]

    return change


def _props(key: str, path: str, value):
    def change(s):
        s[key].props = set_path(s[key].props, path, value)

    return change


def _attr(key: str, attr: str, value):
    def change(s):
        setattr(s[key], attr, value)

    return change


CHANGES = [
    ("aks-maintenance-windows", _without("node-os")),
    ("aks-maintenance-windows", _props("auto", "configName", "default")),
    ("aks-maintenance-windows", _props("auto", "resourceName", "another-cluster")),
    ("aks-maintenance-windows", _props("auto", "maintenanceWindow", DELETE)),
    ("aks-audit-diagnostics", _without("diag")),
    ("aks-audit-diagnostics", _props("diag", "logs", [{"category": "kube-audit-admin", "enabled": True}])),
    ("aks-audit-diagnostics", _props("diag", "logs.1.enabled", False)),
    ("aks-audit-reads-collected", _without("diag")),
    ("aks-audit-reads-collected", _props("diag", "logs.2.enabled", False)),
    ("aks-audit-reads-collected", _props("diag", "logAnalyticsDestinationType", "AzureDiagnostics")),
    ("aks-audit-reads-collected", _props("diag", "workspaceId", DELETE)),
    ("monitor-sealing-key-read-alert", _without("sealing-key-alert")),
    ("monitor-sealing-key-read-alert", _props("sealing-key-alert", "enabled", False)),
    ("monitor-sealing-key-read-alert", _props("sealing-key-alert", "actions", {"actionGroups": []})),
    ("monitor-sealing-key-read-alert", _props("sealing-key-alert", "criteria.allOf.0.query", "AKSAuditAdmin | take 1")),
    ("aks-audit-diagnostics", _props("diag", "workspaceId", DELETE)),
    ("keyvault-protected", _attr("vault", "protect", False)),
    ("sealing-key-in-keyvault", _without("kv-secret")),
    ("sealed-secrets-key-provisioned", _without("key-secret")),
    ("istio-plugin-ca", _without("cacerts")),
    ("istio-plugin-ca", _attr("istiod", "dependencies", [])),
    ("istio-plugin-ca", _props("cacerts", "stringData", {"ca-cert.pem": "x", "root-cert.pem": "y"})),
    ("istio-plugin-ca", _props("cacerts", "metadata.namespace", "istio-ingress")),
    ("istio-mesh-mtls-default", _without("mesh-pa")),
    ("istio-mesh-mtls-default", _props("mesh-pa", "metadata.namespace", "shop")),
    ("istio-mesh-mtls-default", _props("mesh-pa", "spec.selector", {"matchLabels": {"app": "x"}})),
    ("istio-namespace-default-deny", _without("deny")),
    ("istio-namespace-default-deny", _props("deny", "spec", {"action": "DENY", "rules": [{}]})),
    ("istio-namespace-default-deny", _props("deny", "metadata.namespace", "payments")),
    ("istio-egress-gateway-authorization", _without("egress-authz")),
    ("istio-egress-gateway-authorization", _props("egress-gw", "spec.servers.0.tls.mode", "PASSTHROUGH")),
    ("istio-egress-gateway-authorization", _props("egress-authz", "spec.rules.0.when", DELETE)),
    ("istio-egress-gateway-authorization", _props("egress-authz", "spec.rules.0.from.0.source.namespaces", ["*"])),
    (
        "istio-egress-gateway-authorization",
        _props("egress-authz", "spec.rules.0.to", [{"operation": {"hosts": ["api.github.com"]}}]),
    ),
    ("istio-egress-gateway-authorization", _props("egress-authz", "metadata.namespace", "shop")),
]


@pytest.mark.parametrize("rule,change", CHANGES, ids=[f"{r}-{i}" for i, (r, _) in enumerate(CHANGES)])
def test_one_change_fails_the_stack_rule(rule, change):
    stack = valid_stack()
    change(stack)
    diags = run(stack)
    assert rule in names(violations(diags), "mandatory"), report(diags)


def test_dev_config_relaxes_vault_protection_to_advisory():
    stack = valid_stack()
    stack["vault"].protect = False
    diags = run(stack, "dev")
    assert [d.level for d in diags if d.policy == "keyvault-protected"] == ["advisory"], report(diags)


def test_stack_rules_not_applicable_without_their_resources():
    diags = analyze_stack([StackResource(Azure.VAULT, "kv", valid_vault(), protect=True)], "prod")
    assert diags == [], report(diags)


def test_unattributable_window_with_two_clusters_is_cannot_check_yet():
    stack = valid_stack()
    stack["cluster2"] = StackResource(Azure.MANAGED_CLUSTER, "aks2", valid_cluster("plat-prod-aks2"))
    stack["node-os"].property_dependencies = {}
    diags = run(stack)
    mine = [d for d in diags if d.policy == "aks-maintenance-windows"]
    # The second cluster has no windows at all (definite), and the first cannot be decided yet.
    assert any(d.level == "mandatory" and "aks2" in d.message for d in mine), report(mine)
    assert any(d.cannot_check and d.level == "advisory" for d in mine), report(mine)


def test_only_cluster_gets_unknown_resource_uri_without_dependencies():
    stack = valid_stack()
    stack["diag"].property_dependencies = {}
    assert run(stack) == []


def test_diagnostic_setting_by_known_resource_uri_and_category_group():
    stack = valid_stack()
    stack["diag"].property_dependencies = {}
    stack["diag"].props = set_path(
        stack["diag"].props,
        "resourceUri",
        "/subscriptions/x/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/plat-prod-aks",
    )
    stack["diag"].props = set_path(stack["diag"].props, "logs", [{"categoryGroup": "audit", "enabled": True}])
    stack["diag"].props = set_path(stack["diag"].props, "workspaceId", "/subscriptions/x/ws")
    assert run(stack) == []


def test_namespace_matched_by_property_dependency_when_names_are_unknown():
    stack = valid_stack()
    stack["ns"].props = set_path(stack["ns"].props, "metadata.name", UNKNOWN)
    stack["deny"].props = set_path(stack["deny"].props, "metadata.namespace", UNKNOWN)
    stack["deny"].property_dependencies = {"metadata": [stack["ns"].urn]}
    assert run(stack) == []
    stack["deny"].property_dependencies = {}
    diags = run(stack)
    assert [d.policy for d in diags if d.cannot_check] == ["istio-namespace-default-deny"], report(diags)
    assert violations(diags) == [], report(diags)


def test_system_namespaces_need_no_default_deny():
    stack = valid_stack()
    del stack["deny"]
    stack["ns"].props = set_path(stack["ns"].props, "metadata.name", "istio-ingress")
    assert run(stack) == []


def test_shared_key_stack_does_not_need_a_vault_copy():
    stack = valid_stack()
    for key in ("key", "kv-secret"):
        del stack[key]
    stack["key-secret"].property_dependencies = {}
    assert run(stack) == []


def test_dev_relaxes_the_audit_reads_and_sealing_key_alert_rules_to_advisory():
    stack = valid_stack()
    del stack["sealing-key-alert"]
    stack["diag"].props = set_path(stack["diag"].props, "logs.2.enabled", False)
    diags = run(stack, "dev")
    levels = {d.policy: d.level for d in diags}
    assert levels == {"aks-audit-reads-collected": "advisory", "monitor-sealing-key-read-alert": "advisory"}, report(
        diags
    )


def test_unknown_alert_query_cannot_be_checked_yet():
    stack = valid_stack()
    stack["sealing-key-alert"].props = set_path(stack["sealing-key-alert"].props, "criteria.allOf.0.query", UNKNOWN)
    diags = run(stack)
    assert [d.policy for d in diags if d.cannot_check] == ["monitor-sealing-key-read-alert"], report(diags)
    assert violations(diags) == [], report(diags)


def test_audit_category_group_includes_audit_reads():
    stack = valid_stack()
    stack["diag"].props = set_path(stack["diag"].props, "logs", [{"categoryGroup": "audit", "enabled": True}])
    assert run(stack) == []
