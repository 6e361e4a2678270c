"""IstioMesh: pinned charts in order, hardened istiod values, STRICT mTLS set explicitly."""

from __future__ import annotations

import json
import re

import pytest

from components.istio_specs import ACCESS_LOG_FIELDS, peer_authentications
from components.mesh_names import ISTIO_CHART_REPO
from stack_config import parse_config
from tests.components import wiring
from tests.components.network_policies import INGRESS_POD, ISTIOD, PROMETHEUS, SCRAPER, Pod, netpols, np_allows
from tests.conftest import istio_objects, stack_raw_config
from tests.resource_types import Istio, K8s
from tools.program_runner import ProgramRun, run_program

build = wiring.mesh_and_app_namespaces


@pytest.fixture(scope="module")
def with_exceptions() -> ProgramRun:
    istio = stack_raw_config("dev")["istio"]
    istio["mtlsExceptions"] = [
        {"namespace": "payments", "mode": "PERMISSIVE"},
        {"namespace": "shop", "port": 9090, "mode": "DISABLE"},
        {"namespace": "shop", "port": 9091, "mode": "PERMISSIVE"},
    ]
    return run_program("dev", program=build, overrides={"istio": istio})


def istiod(run: ProgramRun, revision: str = "1-30-3"):
    return run.one(K8s.HELM_RELEASE, f"mesh-istiod-{revision}")


def go_duration_hours(value: str) -> float:
    """Parse the Go durations istiod reads (``24h0m0s``, ``12h``, ``90m``)."""
    match = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", value)
    assert match and value, f"not a Go duration: {value!r}"
    h, m, s = (int(g or 0) for g in match.groups())
    return h + m / 60 + s / 3600


# --------------------------------------------------------------------------- charts and order


def test_charts_are_official_and_pinned(dev):
    releases = {r.name: r for r in dev.of_type(K8s.HELM_RELEASE)}
    assert set(releases) == {"mesh-base", "mesh-cni", "mesh-istiod-1-30-3"}
    for resource, (release_name, chart) in {
        "mesh-base": ("istio-base", "base"),
        "mesh-cni": ("istio-cni", "cni"),
        # One release per revision, named after it: a canary revision is another release beside it.
        "mesh-istiod-1-30-3": ("istiod-1-30-3", "istiod"),
    }.items():
        r = releases[resource]
        assert r.get("chart") == chart
        assert r.get("name") == release_name  # fixed release name: no random suffix
        assert r.get("version") == "1.30.3"
        assert r.get("namespace") == "istio-system"
        assert r.get("repositoryOpts.repo") == ISTIO_CHART_REPO
        assert r.get("atomic") is True


def test_install_order_namespace_base_cni_istiod_then_custom_resources(dev):
    ns = dev.one(K8s.NAMESPACE, "mesh-istio-system")
    assert ns.get("metadata.name") == "istio-system"
    base, cni, istiod_release = (dev.one(K8s.HELM_RELEASE, n) for n in ("mesh-base", "mesh-cni", "mesh-istiod-1-30-3"))
    assert ns.urn in base.dependencies
    assert base.urn in cni.dependencies
    assert {base.urn, cni.urn} <= set(istiod_release.dependencies)
    # The tag's webhook calls istiod's Service: it comes after the release that creates it.
    assert istiod_release.urn in dev.one(K8s.MUTATING_WEBHOOK_CONFIGURATION, "mesh-revision-tag-stable").dependencies
    # Every Istio custom resource waits for the CRDs (base) and istiod (validation webhook).
    istio_crs = [r for r in dev.resources if r.type.startswith("kubernetes:") and "istio.io/" in r.type]
    assert istio_crs
    for cr in istio_crs:
        assert {base.urn, istiod_release.urn} <= set(cr.dependencies), cr.name


def test_base_points_validation_at_the_revision(dev):
    assert dev.one(K8s.HELM_RELEASE, "mesh-base").get("values.defaultRevision") == "1-30-3"
    assert istiod(dev).get("values.revision") == "1-30-3"
    # Tags are not rendered by any istiod release (moving one would collide between two releases).
    assert "revisionTags" not in istiod(dev).get("values")


def test_revision_tag_webhook_is_what_istioctl_tag_set_makes(dev):
    """Compared with istiod's templates/revision-tags-mwc.yaml at 1.30.3 rendered for revision 1-30-3, tag stable."""
    mwc = dev.one(K8s.MUTATING_WEBHOOK_CONFIGURATION, "mesh-revision-tag-stable").inputs
    assert mwc["metadata"]["name"] == "istio-revision-tag-stable"
    assert mwc["metadata"]["labels"]["istio.io/tag"] == "stable"
    assert mwc["metadata"]["labels"]["istio.io/rev"] == "1-30-3"  # istiod 1-30-3 patches its caBundle
    service = {"name": "istiod-1-30-3", "namespace": "istio-system", "path": "/inject", "port": 443}
    not_opted_out = {"key": "sidecar.istio.io/inject", "operator": "NotIn", "values": ["false"]}
    tagged = {"key": "istio.io/rev", "operator": "In", "values": ["stable"]}
    no_legacy = {"key": "istio-injection", "operator": "DoesNotExist"}
    namespace_hook, object_hook = mwc["webhooks"]
    for hook in (namespace_hook, object_hook):
        assert hook["clientConfig"] == {"service": service}  # no caBundle: istiod owns it
        assert hook["rules"] == [
            {"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}
        ]
        assert hook["failurePolicy"] == "Fail"
        assert hook["sideEffects"] == "None"
        assert hook["admissionReviewVersions"] == ["v1"]
    assert namespace_hook["name"] == "rev.namespace.sidecar-injector.istio.io"
    assert namespace_hook["namespaceSelector"] == {"matchExpressions": [tagged, no_legacy]}
    assert namespace_hook["objectSelector"] == {"matchExpressions": [not_opted_out]}
    assert object_hook["name"] == "rev.object.sidecar-injector.istio.io"
    assert object_hook["namespaceSelector"] == {
        "matchExpressions": [{"key": "istio.io/rev", "operator": "DoesNotExist"}, no_legacy]
    }
    assert object_hook["objectSelector"] == {"matchExpressions": [not_opted_out, tagged]}


def test_everything_runs_through_the_cluster_provider(dev):
    mesh = dev.one("platform:istio:Mesh", "mesh")
    children = dev.children_of(mesh)
    # namespace, 3 releases, the stable tag's webhook, PeerAuthentication, 2 NetworkPolicies
    assert len(children) == 8
    assert all("pulumi:providers:kubernetes::k8s::" in c.provider for c in children)


# --------------------------------------------------------------------------- istiod values


def test_egress_is_registry_only_and_follows_config(dev, raw_config):
    assert istiod(dev).get("values.meshConfig.outboundTrafficPolicy.mode") == "REGISTRY_ONLY"
    istio = raw_config("dev")["istio"]
    istio["outboundTrafficPolicy"] = "ALLOW_ANY"
    run = run_program("dev", program=build, overrides={"istio": istio})
    assert istiod(run).get("values.meshConfig.outboundTrafficPolicy.mode") == "ALLOW_ANY"


def test_access_logs_are_json_on_stdout_with_identities(dev):
    mesh = istiod(dev).get("values.meshConfig")
    assert mesh["accessLogFile"] == "/dev/stdout"
    assert mesh["accessLogEncoding"] == "JSON"
    fmt = json.loads(mesh["accessLogFormat"])  # a JSON object, as Istio requires with JSON encoding
    assert fmt == ACCESS_LOG_FIELDS
    assert fmt["source_principal"] == "%DOWNSTREAM_PEER_URI_SAN%"
    assert fmt["destination_principal"] == "%UPSTREAM_PEER_URI_SAN%"
    for key in ("method", "path", "response_code", "authority", "duration", "response_flags", "request_id"):
        assert key in fmt
    # No query strings (tokens) and no credential headers in the logs.
    assert fmt["path"] == "%PATH(NQ:ORIG_OR_PATH)%"
    assert not any(h in mesh["accessLogFormat"].upper() for h in ("AUTHORIZATION", "COOKIE"))


@pytest.mark.parametrize("stack, ttl, max_ttl", [("dev", "24h0m0s", "24h0m0s"), ("prod", "12h0m0s", "24h0m0s")])
def test_workload_certificates_are_short_lived_and_capped(stack, ttl, max_ttl, dev, prod):
    values = istiod({"dev": dev, "prod": prod}[stack]).get("values")
    env = values["pilot"]["env"]
    assert env["DEFAULT_WORKLOAD_CERT_TTL"] == ttl
    assert env["MAX_WORKLOAD_CERT_TTL"] == max_ttl
    secret_ttl = values["meshConfig"]["defaultConfig"]["proxyMetadata"]["SECRET_TTL"]
    assert secret_ttl == ttl  # what the agent asks for
    assert go_duration_hours(secret_ttl) <= go_duration_hours(env["MAX_WORKLOAD_CERT_TTL"]) <= 24
    assert all(isinstance(v, str) for v in env.values())  # env values reach the pod as strings


def test_certificate_ttls_follow_config(raw_config):
    istio = raw_config("dev")["istio"]
    istio.update(workloadCertTtlHours=6, maxWorkloadCertTtlHours=12)
    values = istiod(run_program("dev", program=build, overrides={"istio": istio})).get("values")
    assert values["pilot"]["env"]["DEFAULT_WORKLOAD_CERT_TTL"] == "6h0m0s"
    assert values["pilot"]["env"]["MAX_WORKLOAD_CERT_TTL"] == "12h0m0s"
    assert values["meshConfig"]["defaultConfig"]["proxyMetadata"]["SECRET_TTL"] == "6h0m0s"


def test_security_hardening_values(dev):
    values = istiod(dev).get("values")
    mesh = values["meshConfig"]
    assert mesh["pathNormalization"] == {"normalization": "DECODE_AND_MERGE_SLASHES"}
    assert mesh["enableAutoMtls"] is True
    assert mesh["meshMTLS"] == {"minProtocolVersion": "TLSV1_3"}
    assert mesh["trustDomain"] == "cluster.local"
    assert mesh["rootNamespace"] == "istio-system"
    assert mesh["defaultConfig"]["holdApplicationUntilProxyStarts"] is True
    assert values["pilot"]["env"]["ENABLE_DEBUG_ON_HTTP"] == "false"
    assert values["pilot"]["cni"] == {"enabled": True}
    assert values["pilot"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert values["global"]["logAsJson"] is True
    assert values["global"]["proxy"]["privileged"] is False
    assert values["sidecarInjectorWebhook"]["enableNamespacesByDefault"] is False
    assert dev.one(K8s.HELM_RELEASE, "mesh-cni").get("values.global.logAsJson") is True


def test_prod_is_highly_available_and_dev_drains(dev, prod):
    p, d = istiod(prod).get("values"), istiod(dev).get("values")
    assert p["pilot"]["autoscaleEnabled"] is True and p["pilot"]["autoscaleMin"] >= 2
    assert p["global"]["defaultPodDisruptionBudget"]["enabled"] is True
    # One replica with a PDB would block every node drain (and so AKS upgrades).
    assert d["pilot"]["replicaCount"] == 1 and d["global"]["defaultPodDisruptionBudget"]["enabled"] is False
    for v in (p, d):
        assert set(v["pilot"]["resources"]) == {"requests", "limits"}


# --------------------------------------------------------------------------- PeerAuthentication


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_mesh_wide_strict_mtls_is_explicit(stack, dev, prod):
    run = {"dev": dev, "prod": prod}[stack]
    pa = run.one(Istio.PEER_AUTHENTICATION, "mesh-peer-authentication-default")
    assert pa.get("apiVersion") == "security.istio.io/v1"
    assert pa.get("metadata.name") == "default"
    assert pa.get("metadata.namespace") == "istio-system"  # the root namespace: mesh-wide
    assert pa.get("spec") == {"mtls": {"mode": "STRICT"}}
    assert len(run.of_type(Istio.PEER_AUTHENTICATION)) == 1  # no exception anywhere


def test_mtls_exceptions(with_exceptions):
    pas = {
        (r.get("metadata.namespace"), r.get("metadata.name")): r.get("spec")
        for r in with_exceptions.of_type(Istio.PEER_AUTHENTICATION)
    }
    assert pas[("istio-system", "default")] == {"mtls": {"mode": "STRICT"}}
    assert pas[("payments", "mtls-exception")] == {"mtls": {"mode": "PERMISSIVE"}}
    port = pas[("shop", "mtls-port-exception")]
    assert port["mtls"] == {"mode": "STRICT"}  # the rest of the workload stays STRICT
    assert port["portLevelMtls"] == {"9090": {"mode": "DISABLE"}, "9091": {"mode": "PERMISSIVE"}}
    assert len(pas) == 3


def test_port_exceptions_satisfy_the_crd_selector_rule(with_exceptions):
    # CRD rule (x-kubernetes-validations, not covered by the JSON schema): "portLevelMtls requires selector".
    for obj in istio_objects(with_exceptions):
        spec = obj["spec"]
        if obj["kind"] == "PeerAuthentication" and "portLevelMtls" in spec:
            assert len((spec.get("selector") or {}).get("matchLabels") or {}) > 0, obj["metadata"]
            # It selects every sidecar-injected pod: the injector labels each with tlsMode=istio.
            assert spec["selector"]["matchLabels"] == {"security.istio.io/tlsMode": "istio"}


def test_port_exception_keeps_a_namespace_exception_mode():
    cfg = parse_config(
        {
            **stack_raw_config("dev"),
            "istio": {
                "mtlsExceptions": [
                    {"namespace": "payments", "mode": "PERMISSIVE"},
                    {"namespace": "payments", "port": 8080, "mode": "DISABLE"},
                ]
            },
        }
    )
    objs = {
        o["metadata"]["name"]: o["spec"]
        for o in peer_authentications(cfg.istio)
        if o["metadata"]["namespace"] == "payments"
    }
    assert objs["mtls-exception"] == {"mtls": {"mode": "PERMISSIVE"}}
    assert objs["mtls-port-exception"]["mtls"] == {"mode": "PERMISSIVE"}


def test_istio_objects_validate_against_the_crds(dev, prod, with_exceptions, assert_istio_valid):
    for run in (dev, prod, with_exceptions):
        assert_istio_valid(run)


# --------------------------------------------------------------------------- istio-system NetworkPolicy

MESHED = Pod("shop", (("app", "web"),))
UNMESHED = Pod("default", (("app", "x"),))
API_SERVER_PROXY = Pod("kube-system", (("app", "konnectivity-agent"),))


def test_istio_system_denies_ingress_by_default(dev):
    deny = dev.one(K8s.NETWORK_POLICY, "mesh-system-default-deny")
    assert deny.get("metadata.namespace") == "istio-system"
    assert deny.get("spec.podSelector") == {}
    assert deny.get("spec.policyTypes") == ["Ingress"]
    assert not deny.get("spec.ingress")


@pytest.mark.parametrize(
    "src, port, allowed",
    [
        (MESHED, 15012, True),  # xDS + CA over mTLS
        (INGRESS_POD, 15012, True),
        (Pod("istio-egress", (("istio", "egressgateway"),)), 15012, True),
        (UNMESHED, 15012, False),  # not labelled istio.io/rev: not in the mesh
        (MESHED, 15010, False),  # plaintext xDS: never
        (MESHED, 8080, False),  # istiod debug/readiness port
        (MESHED, 15017, False),  # the webhook is the API server's
        (API_SERVER_PROXY, 15017, True),
        (MESHED, 15014, False),
        (SCRAPER, 15014, True),
        (PROMETHEUS, 15014, False),  # a self-run Prometheus is not admitted
        (API_SERVER_PROXY, 15014, False),  # kube-system reaches the webhook, not the metrics
        (Pod("istio-system", (("app", "other"),)), 15012, False),
    ],
)
def test_istiod_is_reachable_only_where_the_mesh_needs_it(dev, src, port, allowed):
    # Sources' own egress is not modelled: label the meshed namespace as AppNamespaces does.
    policies = [p for p in netpols(dev) if p["metadata"]["namespace"] == "istio-system"]
    ns_labels = {"shop": {"istio.io/rev": "stable"}}

    class Labelled(Pod):
        @property
        def namespace_labels(self):
            return {"kubernetes.io/metadata.name": self.namespace, **ns_labels.get(self.namespace, {})}

    assert np_allows(policies, Labelled(src.namespace, src.labels), ISTIOD, port) is allowed
