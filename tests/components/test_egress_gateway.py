"""EgressGateway: HTTPS-only allow-list routed through the egress gateway, and its NetworkPolicies."""

from __future__ import annotations

import pulumi
import pytest

from stack_config import ConfigError, load_config, parse_config
from tests.components import wiring
from tests.components.network_policies import namespace_selector, one_rule_spec, specs_in
from tests.conftest import stack_raw_config
from tests.resource_types import K8s
from tools.program_runner import run_program

NS = "istio-egress"
SVC = "istio-egressgateway.istio-egress.svc.cluster.local"


def build() -> None:
    gw = wiring.egress_gateway(load_config(), wiring.in_cluster())
    pulumi.export("egressAllowList", gw.allow_list)


@pytest.fixture(scope="module")
def no_egress_apps():
    apps = stack_raw_config("dev")["appNamespaces"]
    for app in apps:
        app["egress"] = False
        app.pop("egressHosts", None)  # egressHosts needs egress
    return run_program("dev", program=build, overrides={"appNamespaces": apps})


def _by_name(run, kind: str) -> dict[str, dict]:
    return {r.get("metadata.name"): r.inputs for r in run.k8s_objects(kind)}


def expected_set(host: str, slug: str, export_to: list[str]) -> dict[str, dict]:
    gateway_ref = f"{NS}/egress-{slug}"
    return {
        "ServiceEntry": {
            "hosts": [host],
            "ports": [{"number": 443, "name": "tls", "protocol": "TLS"}],
            "resolution": "DNS",
            "location": "MESH_EXTERNAL",
            "exportTo": export_to,
        },
        "Gateway": {
            "selector": {"istio": "egressgateway"},
            "servers": [
                {
                    "port": {"number": 443, "name": f"tls-{slug}", "protocol": "TLS"},
                    "hosts": [host],
                    "tls": {"mode": "ISTIO_MUTUAL"},
                }
            ],
        },
        "VirtualService": {
            "hosts": [host],
            "gateways": ["mesh", gateway_ref],
            "exportTo": export_to,
            "tls": [
                {
                    "match": [{"gateways": ["mesh"], "port": 443, "sniHosts": [host]}],
                    "route": [{"destination": {"host": SVC, "subset": slug, "port": {"number": 443}}}],
                }
            ],
            "tcp": [
                {
                    "match": [{"gateways": [gateway_ref], "port": 443}],
                    "route": [{"destination": {"host": host, "port": {"number": 443}}, "weight": 100}],
                }
            ],
        },
    }


@pytest.mark.parametrize(
    "host,slug,export_to",
    [
        # dev: shop lists api.github.com in egressHosts; nobody lists the other two.
        ("login.microsoftonline.com", "login-microsoftonline-com", ["."]),
        ("graph.microsoft.com", "graph-microsoft-com", ["."]),
        ("api.github.com", "api-github-com", [".", "shop"]),
    ],
)
def test_full_object_set_per_allowed_host(dev, host, slug, export_to):
    for kind, spec in expected_set(host, slug, export_to).items():
        obj = _by_name(dev, kind)[f"egress-{slug}"]
        assert obj["apiVersion"] == "networking.istio.io/v1"
        assert obj["metadata"] == {"name": f"egress-{slug}", "namespace": NS}
        assert obj["spec"] == spec, kind


def test_sidecar_to_gateway_hop_is_istio_mutual_tls_with_the_host_as_sni(dev):
    # The Gateway server terminates Istio mTLS for the host's SNI; the DestinationRule subset the sidecar
    # uses originates Istio mTLS with exactly that SNI. The two must agree, or no filter chain matches.
    (dr,) = dev.k8s_objects("DestinationRule")
    assert dr.get("spec.host") == SVC
    subsets = {s["name"]: s["trafficPolicy"]["portLevelSettings"] for s in dr.get("spec.subsets")}
    for gw in dev.k8s_objects("Gateway"):
        (server,) = gw.get("spec.servers")
        assert server["tls"] == {"mode": "ISTIO_MUTUAL"}
        (host,) = server["hosts"]
        vs = _by_name(dev, "VirtualService")[gw.get("metadata.name")]["spec"]
        subset = vs["tls"][0]["route"][0]["destination"]["subset"]
        assert subsets[subset] == [{"port": {"number": 443}, "tls": {"mode": "ISTIO_MUTUAL", "sni": host}}]


def test_nothing_beyond_the_allow_list(dev):
    for kind in ("ServiceEntry", "Gateway", "VirtualService"):
        assert len(dev.k8s_objects(kind)) == 3, kind
    hosts = sorted(h for se in dev.k8s_objects("ServiceEntry") for h in se.get("spec.hosts"))
    assert hosts == ["api.github.com", "graph.microsoft.com", "login.microsoftonline.com"]
    assert dev.outputs["egressAllowList"] == ["login.microsoftonline.com", "graph.microsoft.com", "api.github.com"]


def test_hosts_are_exported_only_to_the_gateway_namespace_without_egress_apps(no_egress_apps):
    for kind in ("ServiceEntry", "DestinationRule", "VirtualService"):
        for obj in no_egress_apps.k8s_objects(kind):
            assert obj.get("spec.exportTo") == ["."], kind


# --------------------------------------------------------------------------- who may call out


def sni_allowed(policy: dict, namespace: str | None, sni: str, port: int = 443) -> bool:
    """Istio's ALLOW evaluation for a TCP connection through the gateway (no policy matched: denied)."""
    if namespace is None:  # plaintext: no peer identity, so no source.namespaces can match
        return False
    for rule in policy.get("rules", []):
        sources = [f["source"] for f in rule.get("from", [])]
        ops = [t["operation"] for t in rule.get("to", [])]
        conds = rule.get("when", [])
        if sources and not any(namespace in s.get("namespaces", []) for s in sources):
            continue
        if ops and not any(str(port) in o.get("ports", [str(port)]) for o in ops):
            continue
        if all(c["key"] == "connection.sni" and sni in c["values"] for c in conds):
            return True
    return False


def test_egress_authorization_admits_exactly_the_allowed_namespace_per_host(run_component):
    raw = stack_raw_config("dev")
    raw["egress"]["hosts"] = ["api.github.com", "graph.microsoft.com", "login.microsoftonline.com"]
    apps = {ns["name"]: ns for ns in raw["appNamespaces"]}
    apps["shop"]["egressHosts"] = ["api.github.com", "login.microsoftonline.com"]
    apps["payments"]["egressHosts"] = ["graph.microsoft.com", "login.microsoftonline.com"]
    run = run_component(build, overrides={"egress": raw["egress"], "appNamespaces": raw["appNamespaces"]})
    (authz,) = run.k8s_objects("AuthorizationPolicy")
    assert authz.get("metadata") == {"name": "allow-egress-callers", "namespace": NS}
    spec = authz.get("spec")
    assert spec["selector"] == {"matchLabels": {"istio": "egressgateway"}}
    assert spec["action"] == "ALLOW"
    want = {
        ("shop", "api.github.com"): True,
        ("payments", "api.github.com"): False,
        ("payments", "graph.microsoft.com"): True,
        ("shop", "graph.microsoft.com"): False,
        ("shop", "login.microsoftonline.com"): True,
        ("payments", "login.microsoftonline.com"): True,
        ("payments", "api.github.com:443"): False,  # SNI values match exactly
        ("default", "api.github.com"): False,  # a namespace that is not an app namespace
        ("shop", "evil.example.com"): False,  # an SNI the gateway does not serve
        (None, "api.github.com"): False,  # plaintext: no identity
    }
    for (ns, sni), allowed in want.items():
        assert sni_allowed(spec, ns, sni) is allowed, (ns, sni)
    # Each host is visible only where it may be reached.
    exports = {se.get("spec.hosts")[0]: se.get("spec.exportTo") for se in run.k8s_objects("ServiceEntry")}
    assert exports == {
        "api.github.com": [".", "shop"],
        "graph.microsoft.com": [".", "payments"],
        "login.microsoftonline.com": [".", "payments", "shop"],
    }


def test_egress_authorization_uses_sni_not_http_hosts(dev):
    # to.operation.hosts is HTTP-only: on this TLS server an ALLOW rule using it would match nothing.
    (authz,) = dev.k8s_objects("AuthorizationPolicy")
    for rule in authz.get("spec.rules"):
        assert all("hosts" not in t["operation"] for t in rule["to"])
        assert [c["key"] for c in rule["when"]] == ["connection.sni"]


def test_no_allowed_namespace_means_nothing_is_allowed(no_egress_apps):
    (authz,) = no_egress_apps.k8s_objects("AuthorizationPolicy")
    # ALLOW with no rules: the gateway admits nobody (Istio: an ALLOW policy that matches nothing denies).
    assert authz.get("spec") == {"selector": {"matchLabels": {"istio": "egressgateway"}}, "action": "ALLOW"}


def test_istio_objects_validate_against_the_crds(dev, assert_istio_valid):
    assert_istio_valid(dev)


def test_egress_gateway_service_is_cluster_internal(dev):
    # Chart, version, namespace, scaling: tests/components/test_gateway_release.py.
    rel = dev.one(K8s.HELM_RELEASE)
    assert rel.get("name") == "istio-egressgateway"
    assert rel.get("values.securityContext.seccompProfile") == {"type": "RuntimeDefault"}
    assert rel.get("values.service") == {
        "type": "ClusterIP",
        "ports": [{"name": "tls", "port": 443, "protocol": "TCP", "targetPort": 443}],
    }


def test_egress_namespace_network_policies(dev):
    # The baseline (default deny, DNS, istiod, Prometheus) is tested once for both edges: test_gateway_release.py.
    pols = specs_in(dev, NS)
    gateway = {"matchLabels": {"istio": "egressgateway"}}
    apps = [{"namespaceSelector": namespace_selector("shop")}]
    assert pols["allow-from-egress-apps"] == one_rule_spec("Ingress", apps, [("TCP", 443)], gateway)
    # The internet only: no private, carrier-grade NAT or link-local (instance metadata) range.
    private = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16"]
    internet = [{"ipBlock": {"cidr": "0.0.0.0/0", "except": private}}]
    assert pols["allow-internet-https"] == one_rule_spec("Egress", internet, [("TCP", 443)], gateway)
    assert set(pols) == {
        "default-deny",
        "allow-dns",
        "allow-istiod",
        "allow-prometheus-scrape",
        "allow-from-egress-apps",
        "allow-internet-https",
    }


def test_no_app_may_reach_the_gateway_when_none_sets_egress(no_egress_apps):
    assert "allow-from-egress-apps" not in specs_in(no_egress_apps, NS)


def test_children_are_parented(dev):
    comp = dev.one("platform:istio:EgressGateway")
    for r in dev.resources:
        if r.type not in ("platform:istio:EgressGateway", "pulumi:providers:kubernetes"):
            assert r.parent == comp.urn, r.name


def test_http_egress_host_is_rejected_by_config():
    raw = stack_raw_config("dev")
    raw["egress"]["hosts"] = [{"host": "example.com", "port": 80, "protocol": "HTTP"}]
    with pytest.raises(ConfigError) as err:
        parse_config(raw)
    assert any(p.startswith("egress.hosts[0].port") and "HTTPS only" in p for p in err.value.problems)
    assert any(p.startswith("egress.hosts[0].protocol") and "HTTPS only" in p for p in err.value.problems)
