"""The pack as a whole: metadata, config files, docs, unknown values and odd shapes, through the analyzer."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from pulumi.runtime.proto import analyzer_pb2

from tests.policies import cases
from tests.policies.analyzer import (
    ALL_RULES,
    ALWAYS_ADVISORY,
    CONFIG_DIR,
    DEV_RELAXED,
    POLICIES_DIR,
    ROOT,
    UNKNOWN,
    analyze,
    configured,
    names,
    report,
    set_path,
    valid_cluster,
    valid_deployment,
    valid_gateway,
    valid_istiod_release,
    valid_peer_authentication,
    valid_vault,
    violations,
)
from tests.resource_types import Azure, Istio, K8s

STACK_RULES = {
    "aks-maintenance-windows",
    "aks-audit-diagnostics",
    "aks-audit-reads-collected",
    "monitor-sealing-key-read-alert",
    "keyvault-protected",
    "sealing-key-in-keyvault",
    "sealed-secrets-key-provisioned",
    "istio-mesh-mtls-default",
    "istio-namespace-default-deny",
    "network-egress-allow-list-consistent",
    "istio-egress-gateway-authorization",
    "istio-plugin-ca",
    "istio-revision-referenced",
}


def test_analyzer_info_describes_every_rule():
    info = configured("prod").info
    assert info.name == "platform-security"
    assert {p.name for p in info.policies} == set(ALL_RULES)
    for p in info.policies:
        meta = ALL_RULES[p.name]
        assert p.enforcementLevel == analyzer_pb2.MANDATORY  # the pack default fails closed
        assert p.severity != analyzer_pb2.POLICY_SEVERITY_UNSPECIFIED
        assert f"[severity: {meta.severity}]" in p.description and "Remediation:" in p.description
        assert p.remediation_steps == meta.remediation
        assert meta.frameworks and all(f in p.description for f in meta.frameworks)
        expected = analyzer_pb2.POLICY_TYPE_STACK if meta.kind == "stack" else analyzer_pb2.POLICY_TYPE_RESOURCE
        assert p.policy_type == expected
    assert {n for n, m in ALL_RULES.items() if m.kind == "stack"} == STACK_RULES


def test_every_resource_rule_has_a_one_field_case():
    covered = {c[0] for c in cases.ALL}
    resource_rules = {n for n, m in ALL_RULES.items() if m.kind == "resource"}
    assert resource_rules - covered == set()


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_config_files_reconcile_like_the_cli(env):
    effective = configured(env).effective
    assert set(effective) >= set(ALL_RULES)
    assert effective["istio-workload-cert-ttl"].properties == {"maxWorkloadCertTtlHours": 24}


def test_prod_is_mandatory_everywhere_and_dev_relaxes_only_the_documented_rules():
    prod = configured("prod").effective
    dev = configured("dev").effective
    assert {n for n in ALL_RULES if prod[n].enforcement_level != "mandatory"} == set(ALWAYS_ADVISORY)
    assert {n for n in ALL_RULES if dev[n].enforcement_level != "mandatory"} == set(DEV_RELAXED) | set(ALWAYS_ADVISORY)
    assert all(dev[n].enforcement_level == "advisory" for n in DEV_RELAXED)
    for security_rule in (
        "aks-local-accounts-disabled",
        "istio-mesh-mtls-default",
        "keyvault-purge-protection",
        "k8s-no-privileged-containers",
        "sealing-key-in-keyvault",
    ):
        assert dev[security_rule].enforcement_level == "mandatory"


def test_a_config_typo_is_rejected():
    with pytest.raises(match="maxWorkloadCertTTLHours"):
        configured({"all": "mandatory", "istio-workload-cert-ttl": {"maxWorkloadCertTTLHours": 12}})
    with pytest.raises(match="no such policy"):
        configured({"istio-peer-auth-strict": "advisory"})


def test_config_threshold_changes_the_verdict():
    release = set_path(valid_istiod_release(), "values.pilot.env.MAX_WORKLOAD_CERT_TTL", "24h")
    assert names(analyze(K8s.HELM_RELEASE, release, {"istio-workload-cert-ttl": {"maxWorkloadCertTtlHours": 12}})) == [
        "istio-workload-cert-ttl"
    ]
    assert names(analyze(K8s.HELM_RELEASE, release, "prod")) == []


def test_dev_peer_authentication_exception_is_advisory_prod_mandatory():
    pa = set_path(valid_peer_authentication("legacy", "legacy-permissive"), "spec.mtls.mode", "PERMISSIVE")
    assert [d.level for d in analyze(Istio.PEER_AUTHENTICATION, pa, "dev")] == ["advisory"]
    assert [d.level for d in analyze(Istio.PEER_AUTHENTICATION, pa, "prod")] == ["mandatory"]


def test_docs_are_in_sync_with_the_rule_metadata():
    result = subprocess.run(
        [sys.executable, str(POLICIES_DIR / "gen_docs.py"), "--check"], capture_output=True, text=True, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    doc = (ROOT / "docs" / "policies.md").read_text()
    assert "pulumi preview -s prod --policy-pack policies --policy-pack-config policies/config/prod.json" in doc
    for name in ALL_RULES:
        assert f"`{name}`" in doc


def test_pulumi_policy_yaml_is_a_python_pack():
    import yaml

    spec = yaml.safe_load((POLICIES_DIR / "PulumiPolicy.yaml").read_text())
    assert spec["runtime"]["name"] == "python" and spec["runtime"]["options"]["virtualenv"] == "venv"
    assert spec["description"]
    assert json.loads((CONFIG_DIR / "prod.json").read_text())["all"] == "mandatory"


# --------------------------------------------------------------------------- unknown values (preview)


def test_unknown_value_is_an_advisory_cannot_check_yet_not_a_pass():
    diags = analyze(Azure.MANAGED_CLUSTER, set_path(valid_cluster(), "disableLocalAccounts", UNKNOWN))
    assert [(d.policy, d.level) for d in diags] == [("aks-local-accounts-disabled", "advisory")]
    assert diags[0].cannot_check and "disableLocalAccounts" in diags[0].message


def test_known_violations_are_still_reported_next_to_unknowns():
    cluster = set_path(set_path(valid_cluster(), "aadProfile.managed", UNKNOWN), "aadProfile.enableAzureRBAC", False)
    diags = [d for d in analyze(Azure.MANAGED_CLUSTER, cluster) if d.policy == "aks-entra-id-rbac"]
    assert sorted((d.level, d.cannot_check) for d in diags) == [("advisory", True), ("mandatory", False)], report(diags)


@pytest.mark.parametrize(
    "rtype,build,path",
    [
        (Azure.VAULT, valid_vault, "properties"),
        (Istio.GATEWAY, valid_gateway, "spec.servers"),
        (Istio.GATEWAY, valid_gateway, "spec.servers.0.tls"),
        (K8s.HELM_RELEASE, valid_istiod_release, "values"),
        (K8s.HELM_RELEASE, valid_istiod_release, "values.pilot.env.MAX_WORKLOAD_CERT_TTL"),
        (K8s.DEPLOYMENT, valid_deployment, "spec.template.spec.containers.0"),
        (K8s.DEPLOYMENT, valid_deployment, "spec.template.spec.containers"),
    ],
)
def test_whole_unknown_objects_never_pass_silently(rtype, build, path):
    diags = analyze(rtype, set_path(build(), path, UNKNOWN))
    assert diags and all(d.cannot_check and d.level == "advisory" for d in diags), report(diags)


# --------------------------------------------------------------------------- odd shapes


@pytest.mark.parametrize(
    "props",
    [
        {},
        {"autoUpgradeProfile": "NodeImage"},
        {"aadProfile": None},
        {"agentPoolProfiles": [1, None, "x", []]},
        {"apiServerAccessProfile": {"authorizedIPRanges": "203.0.113.0/24"}},
        {"sku": ["Standard"]},
    ],
)
def test_odd_cluster_shapes_fail_closed_without_crashing(props):
    diags = analyze(Azure.MANAGED_CLUSTER, props)
    assert "aks-local-accounts-disabled" in names(diags, "mandatory")
    assert not any("could not evaluate" in d.message for d in diags), report(diags)


def test_odd_istio_shapes():
    specs: list[Any] = ["STRICT", None, [], {"mtls": "STRICT"}, {"mtls": {"mode": 3}}, {"portLevelMtls": ["x"]}]
    for spec in specs:
        diags = analyze(
            Istio.PEER_AUTHENTICATION,
            {
                "apiVersion": "security.istio.io/v1",
                "kind": "PeerAuthentication",
                "metadata": {"name": "default", "namespace": "istio-system"},
                "spec": spec,
            },
        )
        assert "istio-peer-authentication-strict" in names(diags, "mandatory"), (spec, report(diags))


# --------------------------------------------------------------------------- other inputs


def test_inline_config_group_objects_are_checked():
    bad = set_path(valid_deployment(), "spec.template.spec.containers.0.securityContext.privileged", True)
    doc = (
        "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: p, namespace: shop}\n"
        "spec: {mtls: {mode: DISABLE}}\n"
    )
    diags = analyze(K8s.CONFIG_GROUP, {"objs": [bad], "yaml": [doc]})
    assert names(diags) == ["istio-peer-authentication-strict", "k8s-no-privileged-containers"], report(diags)
    assert any("[Deployment shop/storefront]" in d.message for d in diags)
    assert analyze(K8s.CONFIG_GROUP, {"objs": [valid_deployment()]}) == []


def test_helm_chart_is_recognised_in_every_reference_form():
    for chart in (
        "istiod",
        "istio/istiod",
        "oci://registry.example.com/charts/istiod",
        "https://example.com/istiod-1.30.3.tgz",
    ):
        release = set_path(set_path(valid_istiod_release(), "chart", chart), "values.meshConfig", {})
        assert names(analyze(K8s.HELM_RELEASE, release)) == ["istio-outbound-registry-only"], chart
    assert analyze(K8s.HELM_RELEASE, set_path(valid_istiod_release(), "chart", "istio-base")) == []


def test_value_yaml_files_cannot_hide_settings():
    release = set_path(valid_istiod_release(), "valueYamlFiles", [{"path": "values.yaml"}])
    assert "istio-outbound-registry-only" in names(analyze(K8s.HELM_RELEASE, release))


def test_gateway_api_gateway_is_not_an_istio_gateway():
    obj = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "Gateway",
        "metadata": {"name": "g"},
        "spec": {"gatewayClassName": "istio", "listeners": [{"name": "http", "port": 80, "protocol": "HTTP"}]},
    }
    assert analyze("kubernetes:gateway.networking.k8s.io/v1:Gateway", obj) == []


def test_v1beta1_istio_objects_are_covered():
    pa = set_path(valid_peer_authentication(), "spec.mtls.mode", "PERMISSIVE")
    assert names(analyze("kubernetes:security.istio.io/v1beta1:PeerAuthentication", pa)) == [
        "istio-peer-authentication-strict"
    ]


def test_sealing_key_label_with_wrong_shape_anywhere_is_flagged():
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {
            "name": "copy",
            "namespace": "shop",
            "labels": {"sealedsecrets.bitnami.com/sealed-secrets-key": "active"},
        },
        "data": {"tls.key": "a2V5"},
    }
    found = names(violations(analyze(K8s.SECRET, secret)))
    assert found == ["k8s-no-plaintext-secrets", "sealed-secrets-key-secret"]


def test_go_durations():
    from rules.common import go_duration_seconds

    assert go_duration_seconds("24h0m0s") == 86400
    assert go_duration_seconds("90m") == 5400
    assert go_duration_seconds("1.5h") == 5400
    assert go_duration_seconds("0") == 0
    assert go_duration_seconds("24") is None and go_duration_seconds("h") is None and go_duration_seconds(None) is None


def test_the_real_pack_serves_the_analyzer_over_grpc():
    """`policies/__main__.py` as the CLI starts it: prints its port, answers GetAnalyzerInfo."""
    import grpc
    from google.protobuf import empty_pb2
    from pulumi.runtime.proto import analyzer_pb2_grpc

    code = f"import runpy; runpy.run_path({str(POLICIES_DIR)!r}, run_name='__main__')"
    with subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT
    ) as proc:
        assert proc.stdout is not None
        try:
            port = int(proc.stdout.readline().decode().strip())
            with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
                info = analyzer_pb2_grpc.AnalyzerStub(channel).GetAnalyzerInfo(empty_pb2.Empty(), timeout=60)
            assert info.name == "platform-security" and len(info.policies) == len(ALL_RULES)
        finally:
            proc.kill()  # the pack serves until stopped; leaving the block waits for it and closes its pipes


def test_the_packs_system_namespaces_are_the_configs_reserved_namespaces():
    """One list (policies/system_namespaces.py) for both: the pack exempts those namespaces from the workload rules,
    and an app namespace may not take their names (config); "default" is reserved but stays subject to the rules.
    """
    from rules.common import SYSTEM_NAMESPACES_SCHEMA
    from stack_config import RESERVED_NAMESPACES

    assert set(SYSTEM_NAMESPACES_SCHEMA["default"]) == set(RESERVED_NAMESPACES) - {"default"}
