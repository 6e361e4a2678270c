"""``istio`` and ``appNamespaces``: the mesh and the namespaces it serves."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from stack_config.kinds import GROUP_ID, HOST_PATTERNS, K8S_NAME, pinned_version
from stack_config.reader import DNS_LABEL, QUANTITY
from stack_config.spec import (
    Boolean,
    Derived,
    Integer,
    Objects,
    Read,
    Required,
    Section,
    Text,
    Texts,
    key,
    prod_allows,
    rules,
)

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

_TRUST_DOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")


def istio_revision(version: str) -> str:
    """Istio revision name for a version: ``1.30.3`` -> ``1-30-3`` (the ``istio.io/rev`` label value)."""
    return version.replace(".", "-")


@dataclass(frozen=True)
class MtlsException:
    namespace: str = key("namespace", K8S_NAME, "an app namespace (one of appNamespaces)", required=Required())
    mode: str = key(
        "mode", Text(choices=MTLS_EXCEPTION_MODES), "what the namespace accepts besides mTLS", default="PERMISSIVE"
    )
    port: int | None = key("port", Integer(1, 65535), "only this port (unset: the whole namespace)")


@rules(MtlsException)
def _mtls_exception(s: Read) -> None:
    if s.ctx.prod:
        s.r.problem(s.path, dict(s.raw), "prod allows no mTLS exceptions: the mesh is STRICT everywhere")
        s.drop = True


@dataclass(frozen=True)
class IstioConfig:
    version: str = key(
        "version",
        pinned_version(DEFAULT_ISTIO_VERSION),
        "Istio release (the charts' version)",
        default=DEFAULT_ISTIO_VERSION,
    )
    revision: str = key(
        "revision",
        K8S_NAME,
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
        "REGISTRY_ONLY: sidecars reach only declared hosts",
        default="REGISTRY_ONLY",
        prod=prod_allows("REGISTRY_ONLY"),
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


def _is_caller(value: str) -> bool:
    parts = value.split("/")
    return 1 <= len(parts) <= 2 and all(DNS_LABEL.match(part) for part in parts)


_QUANTITY_UNITS = {
    "m": 1e-3,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
}
CPU = Text(pattern=QUANTITY, describe="allowed: CPU cores as Kubernetes writes them, e.g. 500m, 2")
MEMORY = Text(pattern=QUANTITY, describe="allowed: bytes as Kubernetes writes them, e.g. 512Mi, 4Gi")


def quantity(value: str) -> float:
    """A Kubernetes quantity (``500m``, ``4Gi``) as a number, to compare two of them."""
    match = QUANTITY.match(value)
    if match is None:
        raise ValueError(f"not a Kubernetes quantity: {value!r}")
    return float(match[1]) * _QUANTITY_UNITS.get(match[3] or "", 1)


@dataclass(frozen=True)
class NamespaceQuota:
    """The namespace's ResourceQuota: one team cannot starve the cluster's other tenants."""

    cpu: str = key("cpu", CPU, "CPU the namespace's containers may request and be limited to in total", default="8")
    memory: str = key("memory", MEMORY, "memory requested and limited in total", default="16Gi")
    pods: int = key("pods", Integer(1, 1000), "pods at a time", default=50)


@dataclass(frozen=True)
class ContainerLimits:
    """The namespace's LimitRange: what a container gets when it says nothing, and the most it may ask for."""

    default_cpu: str = key("defaultCpu", CPU, "CPU request and limit of a container that sets none", default="500m")
    default_memory: str = key(
        "defaultMemory", MEMORY, "memory request and limit of a container that sets none", default="512Mi"
    )
    max_cpu: str = key("maxCpu", CPU, "largest CPU limit of one container", default="2")
    max_memory: str = key("maxMemory", MEMORY, "largest memory limit of one container", default="4Gi")


@rules(ContainerLimits)
def _container_limits(s: Read) -> None:
    v = s.values
    for default_key, max_key in (("default_cpu", "max_cpu"), ("default_memory", "max_memory")):
        if None not in (v[default_key], v[max_key]) and quantity(v[default_key]) > quantity(v[max_key]):
            name = "defaultCpu" if default_key == "default_cpu" else "defaultMemory"
            s.problem(name, v[default_key], f"must not exceed {'maxCpu' if name == 'defaultCpu' else 'maxMemory'}")


@dataclass(frozen=True)
class AppNamespaceConfig:
    name: str = key(
        "name",
        K8S_NAME,
        "namespace name; the platform's own names are reserved",
        required=Required(),
    )
    writer_group_object_id: str | None = key(
        "writerGroupObjectId",
        GROUP_ID,
        "the owning team's Entra ID group: AKS RBAC Writer and the team's Istio objects in this namespace only",
        required=Required(
            "the owning team's Entra ID group object ID", when=lambda ctx: ctx.prod, doc="required in prod"
        ),
    )
    reader_group_object_id: str | None = key(
        "readerGroupObjectId", GROUP_ID, "an Entra ID group that may read (AKS RBAC Reader) this namespace only"
    )
    quota: NamespaceQuota = key(
        "quota", Section(NamespaceQuota), "the namespace's ResourceQuota", default=NamespaceQuota()
    )
    container_limits: ContainerLimits = key(
        "containerLimits", Section(ContainerLimits), "the namespace's LimitRange", default=ContainerLimits()
    )
    public_hosts: tuple[str, ...] = key(
        "publicHosts",
        HOST_PATTERNS,
        "public hosts (served by ingress.hosts) only this namespace may bind on the ingress gateway; "
        "needs allowFromIngress",
        default=(),
    )
    egress_hosts: tuple[str, ...] = key(
        "egressHosts",
        Texts(describe="allowed: one of egress.hosts"),
        "external hosts (of egress.hosts) this namespace may reach",
        default=(),
    )
    allow_from_ingress: bool = key("allowFromIngress", Boolean(), "the ingress gateway may call it", default=False)
    allowed_callers: tuple[str, ...] = key(
        "allowedCallers",
        Texts(check=_is_caller, describe="allowed: 'namespace' or 'namespace/serviceaccount'"),
        "app namespaces (or one service account in them) that may call it",
        default=(),
    )
    prometheus_scrape: bool = key(
        "prometheusScrape",
        Boolean(),
        "the managed Prometheus scraper (ama-metrics in kube-system) may read its merged metrics port 15020",
        default=False,
    )
    egress: bool = key(
        "egress", Boolean(), "it may reach the egress gateway; set by itself when egressHosts is set", default=False
    )


@rules(AppNamespaceConfig)
def _app_namespace(s: Read) -> None:
    v = s.values
    name = v["name"]
    if name is not None and (name in RESERVED_NAMESPACES or name.startswith("kube-") or len(name) > 63):
        s.problem("name", name, "a platform namespace name is reserved; choose another")
        s.drop = True
    if v["egress_hosts"]:
        if s.given("egress") and v["egress"] is False:
            s.problem("egress", False, "must be true (or unset) when egressHosts is set")
        s.values["egress"] = True
    if v["public_hosts"] and not v["allow_from_ingress"]:
        s.problem("allowFromIngress", v["allow_from_ingress"], "must be true when publicHosts is set")
    if v["writer_group_object_id"] is not None and v["writer_group_object_id"] == v["reader_group_object_id"]:
        s.problem("readerGroupObjectId", v["reader_group_object_id"], "must differ from writerGroupObjectId")


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
    _check_hosts(s)


def served_by(host: str, served: Sequence[str]) -> bool:
    """Whether the ingress gateway serves ``host``: listed as is, or under one of its ``*.`` wildcards."""
    return any(
        host == pattern or pattern == "*" or (pattern.startswith("*.") and host.endswith(pattern[1:]))
        for pattern in served
    )


def _check_hosts(s: Read) -> None:
    """A public host has one owner among the namespaces; each host is one the edges actually serve."""
    v = s.values
    owners: dict[str, str] = {}
    ingress_hosts = v["ingress"].hosts
    egress_hosts = {entry.host for entry in v["egress"].hosts}
    for path, ns in zip(s.item_paths.get("appNamespaces", []), v["app_namespaces"], strict=True):
        for j, host in enumerate(ns.public_hosts):
            # Two owners of one host could each route it: whoever binds it last would capture the other's traffic.
            if host in owners:
                s.r.problem(f"{path}.publicHosts[{j}]", host, f"already claimed by namespace {owners[host]!r}")
            owners.setdefault(host, ns.name)
            # (A bad ingress.hosts is reported there, not again for every public host.)
            if not s.r.failed("ingress.hosts") and not served_by(host, ingress_hosts):
                s.r.problem(
                    f"{path}.publicHosts[{j}]",
                    host,
                    f"allowed: a host served by ingress.hosts ({', '.join(ingress_hosts) or 'none set'})",
                )
        for j, host in enumerate(ns.egress_hosts):
            if not s.r.failed("egress.hosts") and host not in egress_hosts:
                s.r.problem(
                    f"{path}.egressHosts[{j}]",
                    host,
                    f"allowed: one of egress.hosts ({', '.join(sorted(egress_hosts)) or 'none set'})",
                )
