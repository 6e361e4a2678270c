"""What both edges share (components/gateway_release.py): the pinned chart, the namespace, scaling, schema."""

from __future__ import annotations

import pytest

from stack_config import load_config
from tests.components import wiring
from tests.components.network_policies import one_rule_spec, peer, specs_in
from tests.resource_types import K8s
from tools.program_runner import ProgramRun, RecordedResource

GATEWAYS = {  # release name: (namespace, pod selector)
    "istio-ingressgateway": ("istio-ingress", {"istio": "ingressgateway"}),
    "istio-egressgateway": ("istio-egress", {"istio": "egressgateway"}),
}

# Top-level keys the `gateway` chart's values.schema.json accepts (1.30; the schema has
# additionalProperties: false, so Helm refuses the install on any other key) and the service keys it declares.
GATEWAY_CHART_KEYS = {
    "global",
    "affinity",
    "securityContext",
    "containerSecurityContext",
    "kind",
    "annotations",
    "autoscaling",
    "env",
    "envVarFrom",
    "strategy",
    "minReadySeconds",
    "readinessProbe",
    "labels",
    "name",
    "nodeSelector",
    "podAnnotations",
    "replicaCount",
    "resources",
    "revision",
    "defaultRevision",
    "compatibilityVersion",
    "profile",
    "platform",
    "pilot",
    "runAsRoot",
    "unprivilegedPort",
    "service",
    "serviceAccount",
    "rbac",
    "tolerations",
    "topologySpreadConstraints",
    "networkGateway",
    "imagePullPolicy",
    "imagePullSecrets",
    "podDisruptionBudget",
    "terminationGracePeriodSeconds",
    "volumes",
    "volumeMounts",
    "initContainers",
    "additionalContainers",
    "priorityClassName",
}
GATEWAY_SERVICE_KEYS = {
    "annotations",
    "externalTrafficPolicy",
    "loadBalancerIP",
    "loadBalancerSourceRanges",
    "ipFamilies",
    "ipFamilyPolicy",
    "ports",
    "type",
}


def build() -> None:
    cfg = load_config()
    opts = wiring.in_cluster()
    wiring.ingress_gateway(cfg, opts)
    wiring.egress_gateway(cfg, opts)


def release(run: ProgramRun, name: str) -> RecordedResource:
    (found,) = [r for r in run.of_type(K8s.HELM_RELEASE) if r.get("name") == name]
    return found


@pytest.mark.parametrize("stack", ["dev", "prod"])
@pytest.mark.parametrize("name", sorted(GATEWAYS))
def test_pinned_official_chart_in_a_namespace_injected_by_the_revision(build_run, stack, name):
    run = build_run(stack)
    rel, (namespace, _) = release(run, name), GATEWAYS[name]
    assert rel.get("chart") == "gateway"
    assert rel.get("version") == "1.30.3"
    assert rel.get("repositoryOpts.repo") == "https://istio-release.storage.googleapis.com/charts"
    assert rel.get("namespace") == namespace and rel.get("createNamespace") is False
    # Injected through the default revision tag, never a versioned revision: an upgrade moves the tag.
    assert rel.get("values.revision") == "stable"
    (ns,) = [r for r in run.k8s_objects("Namespace") if r.get("metadata.name") == namespace]
    assert ns.get("metadata.labels")["istio.io/rev"] == "stable"
    assert ns.get("metadata.labels")["pod-security.kubernetes.io/enforce"] == "baseline"
    assert ns.urn in rel.dependencies


@pytest.mark.parametrize("name", sorted(GATEWAYS))
def test_prod_spreads_over_zones_and_survives_drains(build_run, name):
    _, selector = GATEWAYS[name]
    values = release(build_run("prod"), name).get("values")
    assert values["autoscaling"]["enabled"] is True
    assert values["autoscaling"]["maxReplicas"] >= values["autoscaling"]["minReplicas"] > 1
    assert values["podDisruptionBudget"] == {"minAvailable": 1}
    assert values["topologySpreadConstraints"] == [
        {
            "maxSkew": 1,
            "topologyKey": "topology.kubernetes.io/zone",
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": selector},
        }
    ]
    assert "topologySpreadConstraints" not in release(build_run("dev"), name).get("values")


@pytest.mark.parametrize("stack", ["dev", "prod"])
@pytest.mark.parametrize("name", sorted(GATEWAYS))
def test_chart_values_are_accepted_by_the_gateway_chart_schema(build_run, stack, name):
    values = release(build_run(stack), name).get("values")
    assert set(values) <= GATEWAY_CHART_KEYS
    assert set(values["service"]) <= GATEWAY_SERVICE_KEYS


@pytest.mark.parametrize("name", sorted(GATEWAYS))
def test_baseline_network_policies(build_run, name):
    namespace, _ = GATEWAYS[name]
    pols = specs_in(build_run("prod"), namespace)
    # Deny both ways; an empty rule list and an absent one mean the same, and the manifest omits it.
    assert pols["default-deny"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    assert pols["allow-dns"] == one_rule_spec(
        "Egress", [peer("kube-system", {"matchLabels": {"k8s-app": "kube-dns"}})], [("UDP", 53), ("TCP", 53)]
    )
    # Only istiod's pods, of the installed revisions (during an upgrade a not yet restarted pod keeps the old one).
    istiod = {
        "matchLabels": {"app": "istiod"},
        "matchExpressions": [{"key": "istio.io/rev", "operator": "In", "values": ["1-30-3"]}],
    }
    assert pols["allow-istiod"] == one_rule_spec("Egress", [peer("istio-system", istiod)], [("TCP", 15012)])
    # The managed scraper only: ama-metrics in kube-system, not the rest of kube-system.
    assert pols["allow-prometheus-scrape"] == one_rule_spec(
        "Ingress", [peer("kube-system", {"matchLabels": {"rsName": "ama-metrics"}})], [("TCP", 15020), ("TCP", 15090)]
    )
