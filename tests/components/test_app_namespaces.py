"""AppNamespaces: meshed namespaces that deny everything but the configured callers.

The AuthorizationPolicies and NetworkPolicies are tested for what they MEAN, with two tiny evaluators (Istio's
semantics in ``tests/components/authorization_policies.py``, Kubernetes NetworkPolicy semantics in
``tests/components/network_policies.py``), not only for their presence: with only ``allow-nothing`` nothing passes;
with the ALLOW policies exactly the configured callers do.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

import pytest

from tests.components import wiring
from tests.components.authorization_policies import Request, istio_allows
from tests.components.network_policies import (
    EGRESS_POD,
    INGRESS_POD,
    ISTIOD,
    PROMETHEUS,
    SCRAPER,
    Pod,
    namespace_selector,
    netpols,
    np_allows,
)
from tests.conftest import k8s_manifest
from tests.resource_types import Istio, K8s
from tools.program_runner import ProgramRun, run_program

TRUST_DOMAIN = "cluster.local"
INGRESS_GW = f"{TRUST_DOMAIN}/ns/istio-ingress/sa/istio-ingressgateway"


build = wiring.mesh_and_app_namespaces


def authz_in(run: ProgramRun, namespace: str) -> list[dict[str, Any]]:
    return [
        k8s_manifest(r) for r in run.of_type(Istio.AUTHORIZATION_POLICY) if r.get("metadata.namespace") == namespace
    ]


def test_evaluator_knows_istio_semantics():
    allow_nothing: dict[str, Any] = {"spec": {}}
    allow_all: dict[str, Any] = {"spec": {"rules": [{}]}}
    assert istio_allows([], Request(None)) is True  # no policy at all: Istio allows
    assert istio_allows([allow_nothing], Request("x/ns/a/sa/b")) is False
    assert istio_allows([allow_nothing, allow_all], Request(None)) is True


# --------------------------------------------------------------------------- AuthorizationPolicy meaning

CALLERS = [
    None,  # plaintext (no mTLS identity)
    INGRESS_GW,
    f"{TRUST_DOMAIN}/ns/istio-egress/sa/istio-egressgateway",
    f"{TRUST_DOMAIN}/ns/payments/sa/checkout",
    f"{TRUST_DOMAIN}/ns/payments/sa/other",
    f"{TRUST_DOMAIN}/ns/shop/sa/storefront",
    f"{TRUST_DOMAIN}/ns/shop/sa/default",
    f"{TRUST_DOMAIN}/ns/monitoring/sa/prometheus",
    f"{TRUST_DOMAIN}/ns/default/sa/default",
    "evil.example/ns/payments/sa/checkout",  # right names, foreign trust domain
]
REQUESTS = [Request(c, m, p) for c, m, p in itertools.product(CALLERS, ["GET", "POST"], ["/", "/metrics", "/admin"])]


def expected_allowed(ns_cfg: Mapping[str, Any], req: Request) -> bool:
    """What the config says, written independently of the component.

    Principals are matched whole (trust domain included); a namespace source matches the namespace
    part of the peer identity (Istio does not compare trust domains there: only certificates chained
    to the mesh's root are accepted under STRICT mTLS at all). Prometheus gets nothing here: it scrapes
    the merged-metrics port 15020, which the sidecar does not capture (NetworkPolicy is the control).
    """
    if req.principal is None:
        return False
    if ns_cfg.get("allowFromIngress") and req.principal == INGRESS_GW:
        return True
    for caller in ns_cfg.get("allowedCallers", []):
        if "/" in caller:
            caller_ns, sa = caller.split("/")
            if req.principal == f"{TRUST_DOMAIN}/ns/{caller_ns}/sa/{sa}":
                return True
        elif req.namespace == caller:
            return True
    # The managed scraper has no mesh identity and bypasses the sidecar (15020 is not captured): no
    # AuthorizationPolicy admits it, and none admits a mesh workload that calls itself "prometheus".
    return False


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_exactly_the_configured_callers_are_allowed(stack, dev, prod, raw_config):
    run = {"dev": dev, "prod": prod}[stack]
    raw = raw_config(stack)
    for ns_cfg in raw["appNamespaces"]:
        policies = authz_in(run, ns_cfg["name"])
        for req in REQUESTS:
            want = expected_allowed(ns_cfg, req)
            assert istio_allows(policies, req) is want, (ns_cfg["name"], req)
        # Some request is allowed (the test is not vacuous) and most are not.
        assert any(istio_allows(policies, r) for r in REQUESTS)


def test_allow_nothing_alone_allows_nothing(dev):
    for ns in ("shop", "payments"):
        allow_nothing = [p for p in authz_in(dev, ns) if p["metadata"]["name"] == "allow-nothing"]
        assert len(allow_nothing) == 1
        assert allow_nothing[0]["spec"] == {}  # empty spec: every workload, no rule
        assert not any(istio_allows(allow_nothing, r) for r in REQUESTS)


def test_allow_policies_name_the_exact_identities(dev):
    shop = {p["metadata"]["name"]: p["spec"] for p in authz_in(dev, "shop")}
    assert shop["allow-ingress-gateway"] == {
        "action": "ALLOW",
        "rules": [{"from": [{"source": {"principals": [INGRESS_GW]}}]}],
    }
    assert shop["allow-callers"]["rules"][0]["from"] == [
        {"source": {"principals": ["cluster.local/ns/payments/sa/checkout"]}}
    ]
    # No AuthorizationPolicy for Prometheus: 15020 bypasses Envoy, so one would never match (dead config).
    assert "allow-prometheus-scrape" not in shop
    payments = {p["metadata"]["name"] for p in authz_in(dev, "payments")}
    assert "allow-ingress-gateway" not in payments  # allowFromIngress: false


def test_namespace_callers_and_custom_trust_domain(raw_config):
    raw = raw_config("dev")
    raw["istio"]["trustDomain"] = "plat-dev.example.com"
    raw["appNamespaces"][0]["allowedCallers"] = ["payments"]  # a whole namespace, no service account
    run = run_program("dev", program=build, overrides={"istio": raw["istio"], "appNamespaces": raw["appNamespaces"]})
    shop = {p["metadata"]["name"]: p["spec"] for p in authz_in(run, "shop")}
    assert shop["allow-callers"]["rules"] == [{"from": [{"source": {"namespaces": ["payments"]}}]}]
    assert shop["allow-ingress-gateway"]["rules"][0]["from"][0]["source"]["principals"] == [
        "plat-dev.example.com/ns/istio-ingress/sa/istio-ingressgateway"
    ]
    policies = authz_in(run, "shop")
    assert istio_allows(policies, Request("plat-dev.example.com/ns/payments/sa/anything"))
    assert not istio_allows(policies, Request("plat-dev.example.com/ns/default/sa/anything"))
    # The gateway principal carries the configured trust domain, so the old one no longer matches.
    assert not istio_allows(policies, Request(INGRESS_GW))


def test_policies_wait_for_the_mesh(dev):
    base = dev.one(K8s.HELM_RELEASE, "mesh-base").urn
    istiod = dev.one(K8s.HELM_RELEASE, "mesh-istiod-1-30-3").urn
    for policy in dev.of_type(Istio.AUTHORIZATION_POLICY):
        assert {base, istiod} <= set(policy.dependencies), policy.name


def test_istio_objects_validate_against_the_crds(dev, prod, assert_istio_valid):
    assert_istio_valid(dev)
    assert_istio_valid(prod)


# --------------------------------------------------------------------------- namespaces


def test_namespaces_are_labelled_for_injection_and_pod_security(dev):
    for name in ("shop", "payments"):
        ns = dev.one(K8s.NAMESPACE, f"apps-{name}")
        labels = ns.get("metadata.labels")
        assert ns.get("metadata.name") == name
        assert labels["istio.io/rev"] == "stable"  # a revision tag, never a versioned revision
        assert "istio-injection" not in labels  # it would override the revision label
        # The mesh runs the Istio CNI, so injected pods pass the restricted level.
        assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
        assert labels["pod-security.kubernetes.io/warn"] == "restricted"


def test_namespaces_follow_their_revision_tag(raw_config):
    raw = raw_config("dev")
    raw["istio"].update(defaultTag="prod-stable", tags={"prod-stable": "1-30-3", "canary": "1-30-3"})
    raw["appNamespaces"][0]["revisionTag"] = "canary"
    run = run_program("dev", program=build, overrides={"istio": raw["istio"], "appNamespaces": raw["appNamespaces"]})
    tags = {
        ns: run.one(K8s.NAMESPACE, f"apps-{ns}").get("metadata.labels")["istio.io/rev"] for ns in ("shop", "payments")
    }
    assert tags == {raw["appNamespaces"][0]["name"]: "canary", raw["appNamespaces"][1]["name"]: "prod-stable"}


def test_component_and_provider(dev):
    component = dev.one("platform:istio:AppNamespaces", "apps")
    children = dev.children_of(component)
    assert children and all("pulumi:providers:kubernetes::k8s::" in c.provider for c in children)


# --------------------------------------------------------------------------- NetworkPolicy semantics

SHOP = Pod("shop", (("app", "web"),))
PAYMENTS = Pod("payments", (("app", "api"),))
COREDNS = Pod("kube-system", (("k8s-app", "kube-dns"),))
OTHER_KUBE_SYSTEM = Pod("kube-system", (("k8s-app", "metrics-server"),))
SCRAPER_NODE = Pod("kube-system", (("dsName", "ama-metrics-node"),))  # node-local targets only
STRANGER = Pod("default", (("app", "x"),))


def test_default_deny_in_both_directions(dev):
    for ns in ("shop", "payments"):
        deny = dev.one(K8s.NETWORK_POLICY, f"apps-{ns}-netpol-default-deny")
        assert deny.get("spec.podSelector") == {}
        assert sorted(deny.get("spec.policyTypes")) == ["Egress", "Ingress"]
        assert not deny.get("spec.ingress") and not deny.get("spec.egress")
    only_deny = [k8s_manifest(dev.one(K8s.NETWORK_POLICY, "apps-shop-netpol-default-deny"))]
    assert not np_allows(only_deny, STRANGER, SHOP, 8080)
    assert not np_allows(only_deny, SHOP, COREDNS, 53, "UDP")


@pytest.mark.parametrize(
    "src, dst, port, protocol, allowed",
    [
        # What every meshed pod needs.
        (SHOP, COREDNS, 53, "UDP", True),
        (SHOP, COREDNS, 53, "TCP", True),
        (SHOP, OTHER_KUBE_SYSTEM, 443, "TCP", False),
        (SHOP, ISTIOD, 15012, "TCP", True),
        (SHOP, ISTIOD, 15017, "TCP", False),  # the webhook is the API server's, not the apps'
        (SHOP, ISTIOD, 15010, "TCP", False),  # plaintext xDS
        (SHOP, ISTIOD, 15014, "TCP", False),  # istiod monitoring
        # Callers: payments/checkout may call shop, shop/storefront may call payments.
        (PAYMENTS, SHOP, 8080, "TCP", True),
        (SHOP, PAYMENTS, 8080, "TCP", True),
        (STRANGER, SHOP, 8080, "TCP", False),
        (STRANGER, PAYMENTS, 8080, "TCP", False),
        # The ingress gateway reaches shop (allowFromIngress) but not payments.
        (INGRESS_POD, SHOP, 8080, "TCP", True),
        (INGRESS_POD, PAYMENTS, 8080, "TCP", False),
        (Pod("istio-ingress", (("app", "other"),)), SHOP, 8080, "TCP", False),
        # The managed scraper (and nothing else in kube-system) reads the merged metrics port only.
        (SCRAPER, SHOP, 15020, "TCP", True),
        (SCRAPER, PAYMENTS, 15020, "TCP", True),
        (SCRAPER, SHOP, 8080, "TCP", False),
        (SCRAPER_NODE, SHOP, 15020, "TCP", False),
        (OTHER_KUBE_SYSTEM, SHOP, 15020, "TCP", False),
        (PROMETHEUS, SHOP, 15020, "TCP", False),
        # Egress only through the egress gateway, only where egress: true (shop).
        (SHOP, EGRESS_POD, 443, "TCP", True),
        (SHOP, EGRESS_POD, 80, "TCP", False),
        (PAYMENTS, EGRESS_POD, 443, "TCP", False),
        (SHOP, Pod("internet"), 443, "TCP", False),
    ],
)
def test_network_policies_allow_exactly_what_the_mesh_needs(dev, src, dst, port, protocol, allowed):
    # The gateway, istio-system and monitoring sides are not modelled here (others own them):
    # only the app namespaces' policies decide, the rest counts as open.
    app_policies = [p for p in netpols(dev) if p["metadata"]["namespace"] in ("shop", "payments")]
    assert np_allows(app_policies, src, dst, port, protocol) is allowed


def test_egress_gateway_contract(dev):
    rule = dev.one(K8s.NETWORK_POLICY, "apps-shop-netpol-allow-egress-gateway").get("spec.egress")[0]
    assert rule["ports"] == [{"protocol": "TCP", "port": 443}]
    assert rule["to"] == [
        {
            "namespaceSelector": namespace_selector("istio-egress"),
            "podSelector": {"matchLabels": {"istio": "egressgateway"}},
        }
    ]
    assert not [r for r in dev.of_type(K8s.NETWORK_POLICY) if r.name == "apps-payments-netpol-allow-egress-gateway"]


def test_no_prometheus_rules_without_scraping(raw_config):
    raw = raw_config("dev")
    for ns in raw["appNamespaces"]:
        ns["prometheusScrape"] = False
    run = run_program("dev", program=build, overrides={"appNamespaces": raw["appNamespaces"]})
    names = {r.name for r in run.resources}
    assert not any("prometheus" in n for n in names if n.startswith("apps-"))
    for ns in ("shop", "payments"):
        assert not istio_allows(
            authz_in(run, ns), Request(f"{TRUST_DOMAIN}/ns/monitoring/sa/prometheus", "GET", "/metrics")
        )
