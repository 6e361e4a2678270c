"""EgressGateway: HTTPS-only allow-list routed through the egress gateway, and its NetworkPolicies."""

from __future__ import annotations

import pulumi
import pytest

from stack_config import ConfigError, load_config, parse_config
from tests.components import wiring
from tests.conftest import stack_raw_config
from tools.program_runner import run_program

NS = "istio-egress"
SVC = "istio-egressgateway.istio-egress.svc.cluster.local"


def build() -> None:
    gw = wiring.egress_gateway(load_config(), wiring.in_cluster())
    pulumi.export("egressAllowList", gw.allow_list)


@pytest.fixture(scope="module")
def no_egress_apps():
    apps = stack_raw_config("prod")["appNamespaces"]
    for app in apps:
        app["egress"] = False
        app.pop("egressHosts", None)  # egressHosts needs egress
    return run_program("prod", program=build, overrides={"appNamespaces": apps})


def _by_name(run, kind: str) -> dict[str, dict]:
    return {r.get("metadata.name"): r.inputs for r in run.k8s_objects(kind)}


def expected_set(host: str, slug: str, export_to: list[str]) -> dict[str, dict]:
    name = f"egress-{slug}"
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
                    "port": {"number": 443, "name": "tls", "protocol": "TLS"},
                    "hosts": [host],
                    "tls": {"mode": "PASSTHROUGH"},
                }
            ],
        },
        "DestinationRule": {"host": SVC, "exportTo": export_to, "subsets": [{"name": slug}]},
        "VirtualService": {
            "hosts": [host],
            "gateways": ["mesh", name],
            "exportTo": export_to,
            "tls": [
                {
                    "match": [{"gateways": ["mesh"], "port": 443, "sniHosts": [host]}],
                    "route": [{"destination": {"host": SVC, "subset": slug, "port": {"number": 443}}}],
                },
                {
                    "match": [{"gateways": [name], "port": 443, "sniHosts": [host]}],
                    "route": [{"destination": {"host": host, "port": {"number": 443}}, "weight": 100}],
                },
            ],
        },
    }


@pytest.mark.parametrize(
    "host,slug",
    [
        ("login.microsoftonline.com", "login-microsoftonline-com"),
        ("graph.microsoft.com", "graph-microsoft-com"),
        ("api.github.com", "api-github-com"),
    ],
)
def test_full_object_set_per_allowed_host(dev, host, slug):
    for kind, spec in expected_set(host, slug, [".", "shop"]).items():
        obj = _by_name(dev, kind)[f"egress-{slug}"]
        assert obj["apiVersion"] == "networking.istio.io/v1"
        assert obj["metadata"] == {"name": f"egress-{slug}", "namespace": NS}
        assert obj["spec"] == spec, kind


def test_nothing_beyond_the_allow_list(dev):
    for kind in ("ServiceEntry", "Gateway", "DestinationRule", "VirtualService"):
        assert len(dev.k8s_objects(kind)) == 3, kind
    hosts = sorted(h for se in dev.k8s_objects("ServiceEntry") for h in se.get("spec.hosts"))
    assert hosts == ["api.github.com", "graph.microsoft.com", "login.microsoftonline.com"]
    assert dev.outputs["egressAllowList"] == ["login.microsoftonline.com", "graph.microsoft.com", "api.github.com"]


def test_hosts_are_exported_only_to_the_gateway_namespace_without_egress_apps(no_egress_apps):
    for kind in ("ServiceEntry", "DestinationRule", "VirtualService"):
        for obj in no_egress_apps.k8s_objects(kind):
            assert obj.get("spec.exportTo") == ["."], kind


def test_istio_objects_validate_against_the_crds(dev, assert_istio_valid):
    assert_istio_valid(dev)


def test_egress_gateway_service_is_cluster_internal(dev):
    # Chart, version, namespace, scaling: tests/components/test_gateway_release.py.
    rel = dev.one("kubernetes:helm.sh/v3:Release")
    assert rel.get("name") == "istio-egressgateway"
    assert rel.get("values.service") == {
        "type": "ClusterIP",
        "ports": [{"name": "tls", "port": 443, "protocol": "TCP", "targetPort": 443}],
    }


def _policies(run) -> dict[str, dict]:
    return {
        r.get("metadata.name"): r.get("spec")
        for r in run.k8s_objects("NetworkPolicy")
        if r.get("metadata.namespace") == NS
    }


def test_egress_namespace_network_policies(dev):
    # The baseline (default deny, DNS, istiod, Prometheus) is tested once for both edges: test_gateway_release.py.
    pols = _policies(dev)
    assert pols["allow-from-egress-apps"] == {
        "podSelector": {"matchLabels": {"istio": "egressgateway"}},
        "policyTypes": ["Ingress"],
        "ingress": [
            {
                "from": [
                    {
                        "namespaceSelector": {
                            "matchExpressions": [
                                {"key": "kubernetes.io/metadata.name", "operator": "In", "values": ["shop"]}
                            ]
                        }
                    }
                ],
                "ports": [{"protocol": "TCP", "port": 443}],
            }
        ],
    }
    assert pols["allow-internet-https"] == {
        "podSelector": {"matchLabels": {"istio": "egressgateway"}},
        "policyTypes": ["Egress"],
        "egress": [
            {
                "to": [
                    {
                        "ipBlock": {
                            "cidr": "0.0.0.0/0",
                            "except": [
                                "10.0.0.0/8",
                                "172.16.0.0/12",
                                "192.168.0.0/16",
                                "100.64.0.0/10",
                                "169.254.0.0/16",
                            ],
                        }
                    }
                ],
                "ports": [{"protocol": "TCP", "port": 443}],
            }
        ],
    }
    assert set(pols) == {
        "default-deny",
        "allow-dns",
        "allow-istiod",
        "allow-prometheus-scrape",
        "allow-from-egress-apps",
        "allow-internet-https",
    }


def test_no_app_may_reach_the_gateway_when_none_sets_egress(no_egress_apps):
    assert "allow-from-egress-apps" not in _policies(no_egress_apps)


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
