"""``istio``, ``appNamespaces`` and ``prometheusNamespace``: the mesh and the namespaces it serves."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from stack_config.reader import DNS_LABEL, SEMVER
from stack_config.spec import Boolean, Derived, Integer, Objects, Read, Required, Text, Texts, key, rules

OUTBOUND_TRAFFIC_POLICIES = ("REGISTRY_ONLY", "ALLOW_ANY")
MTLS_EXCEPTION_MODES = ("PERMISSIVE", "DISABLE")
DEFAULT_ISTIO_VERSION = "1.30.3"

# Namespaces the platform owns; app namespaces may not take these names.
RESERVED_NAMESPACES = (
    "default",
    "kube-system",
    "kube-public",
    "kube-node-lease",
    "gatekeeper-system",
    "istio-system",
    "istio-ingress",
    "istio-egress",
    "sealed-secrets",
    "calico-system",
    "tigera-operator",
    "app-routing-system",
)

NAMESPACE = Text(pattern=DNS_LABEL, describe="allowed: a namespace name")
_TRUST_DOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")


def istio_revision(version: str) -> str:
    """Istio revision name for a version: ``1.30.3`` -> ``1-30-3`` (the ``istio.io/rev`` label value)."""
    return version.replace(".", "-")


@dataclass(frozen=True)
class MtlsException:
    namespace: str = key("namespace", NAMESPACE, "an app namespace (one of appNamespaces)", required=Required())
    mode: str = key(
        "mode", Text(choices=MTLS_EXCEPTION_MODES), "what the namespace accepts besides mTLS", default="PERMISSIVE"
    )
    port: int | None = key("port", Integer(1, 65535), "only this port (unset: the whole namespace)", code_default=True)


@rules(MtlsException)
def _mtls_exception(s: Read) -> None:
    if s.ctx.prod:
        s.r.problem(s.path, dict(s.raw), "prod allows no mTLS exceptions: the mesh is STRICT everywhere")
        s.drop = True


@dataclass(frozen=True)
class IstioConfig:
    version: str = key(
        "version",
        Text(pattern=SEMVER, describe="allowed: an exact Istio release such as 1.30.3 (pinned chart version)"),
        "Istio release (the charts' version)",
        default=DEFAULT_ISTIO_VERSION,
    )
    revision: str = key(
        "revision",
        Text(pattern=DNS_LABEL, describe="allowed: a DNS-1123 label"),
        "the istio.io/rev injection label value",
        default=Derived(lambda ctx, v: istio_revision(v["version"]), "version with dashes (`1-30-3`)"),
    )
    trust_domain: str = key(
        "trustDomain",
        Text(pattern=_TRUST_DOMAIN, describe="allowed: a DNS name such as cluster.local"),
        "SPIFFE trust domain of workload identities",
        default="cluster.local",
    )
    outbound_traffic_policy: str = key(
        "outboundTrafficPolicy",
        Text(choices=OUTBOUND_TRAFFIC_POLICIES),
        "REGISTRY_ONLY: sidecars reach only declared hosts; prod: REGISTRY_ONLY",
        default="REGISTRY_ONLY",
    )
    workload_cert_ttl_hours: int = key(
        "workloadCertTtlHours",
        Integer(1, 24),
        "lifetime of workload certificates, at most maxWorkloadCertTtlHours",
        default=Derived(lambda ctx, v: min(24, v["max_workload_cert_ttl_hours"]), "maxWorkloadCertTtlHours"),
    )
    max_workload_cert_ttl_hours: int = key(
        "maxWorkloadCertTtlHours", Integer(1, 24), "longest certificate istiod signs", default=24
    )
    mtls_exceptions: tuple[MtlsException, ...] = key(
        "mtlsExceptions",
        Objects(MtlsException),
        "namespaces that also accept plaintext; nonprod only, never in prod",
        default=(),
    )


@rules(IstioConfig)
def _istio(s: Read) -> None:
    v = s.values
    if v["workload_cert_ttl_hours"] > v["max_workload_cert_ttl_hours"]:
        s.problem(
            "workloadCertTtlHours",
            v["workload_cert_ttl_hours"],
            f"must not exceed maxWorkloadCertTtlHours ({v['max_workload_cert_ttl_hours']})",
        )
    if s.ctx.prod and v["outbound_traffic_policy"] != "REGISTRY_ONLY":
        s.problem("outboundTrafficPolicy", v["outbound_traffic_policy"], "prod allows: REGISTRY_ONLY")


def _is_caller(value: str) -> bool:
    parts = value.split("/")
    return 1 <= len(parts) <= 2 and all(DNS_LABEL.match(part) for part in parts)


@dataclass(frozen=True)
class AppNamespaceConfig:
    name: str = key(
        "name",
        Text(pattern=DNS_LABEL, describe="allowed: a DNS-1123 label (lowercase letters, digits, '-')"),
        "namespace name; the platform's own names are reserved",
        required=Required(),
    )
    allow_from_ingress: bool = key("allowFromIngress", Boolean(), "the ingress gateway may call it", default=False)
    allowed_callers: tuple[str, ...] = key(
        "allowedCallers",
        Texts(check=_is_caller, describe="allowed: 'namespace' or 'namespace/serviceaccount'"),
        "app namespaces (or one service account in them) that may call it",
        default=(),
    )
    prometheus_scrape: bool = key("prometheusScrape", Boolean(), "prometheusNamespace may scrape it", default=False)
    egress: bool = key("egress", Boolean(), "it may reach the egress gateway", default=False)


@rules(AppNamespaceConfig)
def _app_namespace(s: Read) -> None:
    name = s.values["name"]
    if name is not None and (name in RESERVED_NAMESPACES or name.startswith("kube-") or len(name) > 63):
        s.problem("name", name, "a platform namespace name is reserved; choose another")
        s.drop = True


def check_mesh(s: Read) -> None:
    """Rules between top-level keys: namespaces named elsewhere must be app namespaces."""
    v = s.values
    names: set[str] = set()
    for path, ns in zip(s.item_paths.get("appNamespaces", []), v["app_namespaces"], strict=True):
        if ns.name in names:
            s.r.problem(f"{path}.name", ns.name, "each namespace may be listed once")
        names.add(ns.name)
    entries = s.raw.get("appNamespaces")
    for i, entry in enumerate(entries if isinstance(entries, list) else []):
        callers = entry.get("allowedCallers") if isinstance(entry, Mapping) else None
        for j, caller in enumerate(callers if isinstance(callers, list) else []):
            path = f"appNamespaces[{i}].allowedCallers[{j}]"
            if isinstance(caller, str) and not s.r.failed(path) and caller.split("/")[0] not in names:
                s.r.problem(path, caller, "must name a namespace listed in appNamespaces")
    for i, exception in enumerate(v["istio"].mtls_exceptions):
        # An exception for a namespace nobody creates would only fail at apply time, after a timeout.
        if exception.namespace not in names:
            s.r.problem(
                f"istio.mtlsExceptions[{i}].namespace",
                exception.namespace,
                "must name a namespace listed in appNamespaces",
            )
    if any(ns.prometheus_scrape for ns in v["app_namespaces"]) and not v["prometheus_namespace"]:
        s.report("prometheusNamespace", "required when an app namespace sets prometheusScrape: true")
