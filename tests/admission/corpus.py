"""One corpus for both enforcement points: Kubernetes and Istio objects as an app team would submit them.

Each entry is (id, object, the pack rules it breaks). The objects live in the app namespace ``shop``; the
policy pack judges them at preview, the ValidatingAdmissionPolicies at admission, and
``test_corpus.py`` asserts that both reach the verdict written here for every object.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from tests.policies.analyzer import DELETE, k8s, set_path, valid_deployment, valid_pod_spec

NS = "shop"
PRINCIPAL = "cluster.local/ns/istio-ingress/sa/istio-ingressgateway"

PRIVILEGED = "k8s-no-privileged-containers"
ESCALATION = "k8s-no-privilege-escalation"
NON_ROOT = "k8s-run-as-non-root"
READ_ONLY = "k8s-read-only-root-filesystem"
LIMITS = "k8s-resource-limits"
HOST_NS = "k8s-no-host-namespaces"
HOST_PATH = "k8s-no-host-path-volumes"
BYPASS = "istio-no-sidecar-bypass"
STRICT = "istio-peer-authentication-strict"
ALLOW_ALL = "istio-authz-no-allow-all"
PERIMETER = "istio-perimeter-platform-owned"


def pod(spec: dict | None = None, **meta: Any) -> dict:
    obj = k8s("v1", "Pod", "storefront", NS, spec or valid_pod_spec())
    obj["metadata"].update(meta)
    return obj


def workload(kind: str, api: str = "apps/v1", spec_path: str = "spec.template") -> dict:
    template = {"metadata": {"labels": {"app": "storefront"}}, "spec": valid_pod_spec()}
    spec: dict[str, Any] = {"selector": {"matchLabels": {"app": "storefront"}}, "template": template}
    if kind == "Job":
        spec = {"template": {**template, "spec": {**template["spec"], "restartPolicy": "Never"}}}
    if kind == "CronJob":
        job_template = {"spec": {"template": {**template, "spec": {**template["spec"], "restartPolicy": "Never"}}}}
        spec = {"schedule": "0 * * * *", "jobTemplate": job_template}
    if kind == "StatefulSet":
        spec["serviceName"] = "storefront"
    return k8s(api, kind, "storefront", NS, spec)


def changed(obj: dict, *changes: tuple[str, Any]) -> dict:
    for path, value in changes:
        obj = set_path(obj, path, value)
    return obj


def deployment(*changes: tuple[str, Any]) -> dict:
    return changed(valid_deployment(NS), *changes)


C0 = "spec.template.spec.containers.0"
POD_C0 = "spec.containers.0"
TEMPLATE_META = "spec.template.metadata"


def authz(spec: dict, name: str = "allow-storefront") -> dict:
    return k8s("security.istio.io/v1", "AuthorizationPolicy", name, NS, spec)


def allow_from(source: dict) -> dict:
    return authz({"action": "ALLOW", "rules": [{"from": [{"source": source}]}]})


def peer_auth(spec: dict) -> dict:
    return k8s("security.istio.io/v1", "PeerAuthentication", "storefront", NS, spec)


def _ephemeral_privileged() -> dict:
    spec = valid_pod_spec()
    debug = copy.deepcopy(spec["containers"][0])
    debug.pop("resources")
    debug.update(name="debug", securityContext={**debug["securityContext"], "privileged": True})
    spec["ephemeralContainers"] = [debug]
    return pod(spec)


def _cronjob_init_without_limits() -> dict:
    obj = workload("CronJob", "batch/v1")
    pod_spec = obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    init = copy.deepcopy(pod_spec["containers"][0])
    init.pop("resources")
    pod_spec["initContainers"] = [{**init, "name": "migrate"}]
    return obj


Entry = tuple[str, Callable[[], dict], frozenset[str]]


def _e(name: str, build: Callable[[], dict], *rules: str) -> Entry:
    return (name, build, frozenset(rules))


CORPUS: list[Entry] = [
    # ---- benign: what a team deploys every day
    _e("hardened-deployment", deployment),
    _e("hardened-pod", pod),
    _e("hardened-statefulset", lambda: workload("StatefulSet")),
    _e("hardened-job", lambda: workload("Job", "batch/v1")),
    _e("hardened-cronjob", lambda: workload("CronJob", "batch/v1")),
    _e("pod-level-non-root-inherited", lambda: deployment((f"{C0}.securityContext.runAsNonRoot", DELETE))),
    _e("injection-explicitly-on", lambda: pod(labels={"sidecar.istio.io/inject": "true"})),
    _e("other-annotations", lambda: deployment((f"{TEMPLATE_META}.annotations", {"prometheus.io/scrape": "true"}))),
    _e("authz-from-ingress", lambda: allow_from({"principals": [PRINCIPAL]})),
    _e("authz-allow-nothing", lambda: authz({}, "allow-nothing")),
    _e(
        "authz-deny-without-source",
        lambda: authz({"action": "DENY", "rules": [{"to": [{"operation": {"paths": ["/admin*"]}}]}]}),
    ),
    _e("authz-prefix-principal", lambda: allow_from({"principals": ["cluster.local/ns/payments/*"]})),
    _e("peer-auth-strict", lambda: peer_auth({"mtls": {"mode": "STRICT"}})),
    _e("peer-auth-port-strict", lambda: peer_auth({"portLevelMtls": {"8080": {"mode": "STRICT"}}})),
    _e("peer-auth-unset", lambda: peer_auth({"mtls": {"mode": "UNSET"}})),
    _e(
        "virtual-service",
        lambda: k8s(
            "networking.istio.io/v1",
            "VirtualService",
            "storefront",
            NS,
            {"hosts": ["storefront"], "http": [{"route": [{"destination": {"host": "storefront"}}]}]},
        ),
    ),
    _e(
        "destination-rule",
        lambda: k8s("networking.istio.io/v1", "DestinationRule", "storefront", NS, {"host": "storefront"}),
    ),
    # ---- insecure workloads
    _e("privileged", lambda: deployment((f"{C0}.securityContext.privileged", True)), PRIVILEGED),
    _e("escalation-unset", lambda: deployment((f"{C0}.securityContext.allowPrivilegeEscalation", DELETE)), ESCALATION),
    _e("root-uid", lambda: deployment((f"{C0}.securityContext.runAsUser", 0)), NON_ROOT),
    _e(
        "non-root-false",
        lambda: deployment(("spec.template.spec.securityContext.runAsNonRoot", False)),
        NON_ROOT,
    ),
    _e("writable-root", lambda: deployment((f"{C0}.securityContext.readOnlyRootFilesystem", False)), READ_ONLY),
    _e("no-limits", lambda: deployment((f"{C0}.resources", {"requests": {"cpu": "100m"}})), LIMITS),
    _e("zero-cpu-limit", lambda: deployment((f"{C0}.resources.limits.cpu", "0")), LIMITS),
    _e("host-network-pod", lambda: changed(pod(), ("spec.hostNetwork", True)), HOST_NS),
    _e("host-pid-daemonset", lambda: changed(workload("DaemonSet"), ("spec.template.spec.hostPID", True)), HOST_NS),
    _e(
        "host-path",
        lambda: deployment(("spec.template.spec.volumes", [{"name": "node", "hostPath": {"path": "/var/run"}}])),
        HOST_PATH,
    ),
    _e("ephemeral-privileged", _ephemeral_privileged, PRIVILEGED),
    _e("cronjob-init-without-limits", _cronjob_init_without_limits, LIMITS),
    _e(
        "several-at-once",
        lambda: deployment((f"{C0}.securityContext.privileged", True), ("spec.template.spec.hostIPC", True)),
        PRIVILEGED,
        HOST_NS,
    ),
    # ---- bypassing the sidecar
    _e(
        "inject-false-annotation",
        lambda: deployment((f"{TEMPLATE_META}.annotations", {"sidecar.istio.io/inject": "false"})),
        BYPASS,
    ),
    _e("inject-false-pod-label", lambda: pod(labels={"sidecar.istio.io/inject": "false"}), BYPASS),
    _e(
        "exclude-outbound-ranges",
        lambda: deployment(
            (f"{TEMPLATE_META}.annotations", {"traffic.sidecar.istio.io/excludeOutboundIPRanges": "0.0.0.0/0"})
        ),
        BYPASS,
    ),
    _e("runs-as-istio-proxy", lambda: deployment((f"{C0}.securityContext.runAsUser", 1337)), BYPASS),
    _e("pod-group-istio-proxy", lambda: changed(pod(), ("spec.securityContext.runAsGroup", 1337)), BYPASS),
    # ---- weakening mTLS or authorization
    _e("peer-auth-permissive", lambda: peer_auth({"mtls": {"mode": "PERMISSIVE"}}), STRICT),
    _e("peer-auth-port-disable", lambda: peer_auth({"portLevelMtls": {"8080": {"mode": "DISABLE"}}}), STRICT),
    _e("authz-empty-rule", lambda: authz({"action": "ALLOW", "rules": [{}]}), ALLOW_ALL),
    _e("authz-any-principal", lambda: allow_from({"principals": ["*"]}), ALLOW_ALL),
    _e("authz-any-namespace", lambda: allow_from({"namespaces": ["*"]}), ALLOW_ALL),
    _e("authz-any-in-trust-domain", lambda: allow_from({"principals": ["cluster.local/*"]}), ALLOW_ALL),
    # ---- perimeter objects in an app namespace
    _e(
        "service-entry",
        lambda: k8s(
            "networking.istio.io/v1",
            "ServiceEntry",
            "exfil",
            NS,
            {
                "hosts": ["paste.example.net"],
                "ports": [{"number": 443, "name": "tls", "protocol": "TLS"}],
                "resolution": "DNS",
            },
        ),
        PERIMETER,
    ),
    _e(
        "gateway",
        lambda: k8s(
            "networking.istio.io/v1",
            "Gateway",
            "own-edge",
            NS,
            {
                "selector": {"istio": "ingressgateway"},
                "servers": [{"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": ["*"]}],
            },
        ),
        PERIMETER,
    ),
    _e(
        "sidecar",
        lambda: k8s(
            "networking.istio.io/v1", "Sidecar", "default", NS, {"outboundTrafficPolicy": {"mode": "ALLOW_ANY"}}
        ),
        PERIMETER,
    ),
    _e(
        "envoy-filter",
        lambda: k8s("networking.istio.io/v1alpha3", "EnvoyFilter", "lua", NS, {"configPatches": []}),
        PERIMETER,
    ),
    _e(
        "wasm-plugin",
        lambda: k8s(
            "extensions.istio.io/v1alpha1", "WasmPlugin", "auth-off", NS, {"url": "oci://ghcr.io/example/plugin:1"}
        ),
        PERIMETER,
    ),
]
