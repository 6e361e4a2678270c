"""``istio`` and ``appNamespaces``: the mesh and the namespaces it serves."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from policies.system_namespaces import SYSTEM_NAMESPACES
from stack_config.kinds import GROUP_ID, HOSTS_OR_WILDCARDS, K8S_NAME, REVISION_TAG, pinned_version
from stack_config.reader import DNS_LABEL, QUANTITY
from stack_config.spec import (
    Boolean,
    Derived,
    Integer,
    MapOf,
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
DEFAULT_REVISION_TAG = "stable"
# One revision normally, two while an upgrade is under way (the canary beside the stable one).
MAX_REVISIONS = 2

# Names an app namespace may not take: the platform's own namespaces (the list the policy pack exempts from its
# workload rules) and `default`, where every object without a namespace lands. `default` is no system namespace to
# the pack (what runs there is checked like an app's), but it is no team's namespace either.
RESERVED_NAMESPACES = ("default", *SYSTEM_NAMESPACES)

_TRUST_DOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")


def istio_revision(version: str) -> str:
    """Istio revision name for a version: ``1.30.3`` -> ``1-30-3`` (the ``istio.io/rev`` label value)."""
    return version.replace(".", "-")


def minor_of(version: str) -> tuple[int, int]:
    """``1.30.3`` -> ``(1, 30)``."""
    major, minor = version.split(".")[:2]
    return int(major), int(minor)


_VERSION = pinned_version(DEFAULT_ISTIO_VERSION)


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
class IstioRevision:
    """One installed control-plane revision: its own istiod Helm release, named after it."""

    version: str = key("version", _VERSION, "Istio release of this revision (its istiod chart)", required=Required())
    name: str = key(
        "name",
        K8S_NAME,
        "revision name, the istio.io/rev label of its istiod pods; its release is istiod-<name>",
        default=Derived(
            lambda ctx, v: istio_revision(v["version"]) if v["version"] else None, "version with dashes (`1-30-3`)"
        ),
    )


def _tag(s: Read, path: str, tag: Any, revision: Any) -> tuple[str, str] | None:
    if not isinstance(tag, str) or not DNS_LABEL.match(tag) or len(tag) > 63:
        s.r.problem(f"{path}.{tag}", tag, "a tag name is a DNS-1123 label such as stable or canary")
    elif tag == "default":
        # Istio gives the tag `default` extra webhooks (istio-injection=enabled, sidecar.istio.io/inject): injection
        # here is opt-in by tag only, and validation follows istio.defaultTag instead.
        s.r.problem(f"{path}.{tag}", tag, "`default` is reserved by Istio; name the tag e.g. stable")
    elif not isinstance(revision, str) or not DNS_LABEL.match(revision):
        s.r.problem(f"{path}.{tag}", revision, "allowed: a revision name of istio.revisions such as 1-30-3")
    else:
        return tag, revision
    return None


# Revision tags: tag name to the revision it points to, held as sorted (tag, revision) pairs.
REVISION_TAGS = MapOf(
    "tag name to revision name, e.g. {stable: 1-30-3}",
    "tag name (a DNS-1123 label, not `default`) to a revision name of istio.revisions",
    _tag,
    lambda entries: tuple(sorted(entries)),
)


def _single_revision(v: Mapping[str, Any]) -> tuple[IstioRevision, ...]:
    return (IstioRevision(version=v["version"], name=v["revision"]),)


def _single_tag(v: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    revisions: tuple[IstioRevision, ...] = v["revisions"] or ()
    return ((v["default_tag"], revisions[0].name),) if len(revisions) == 1 else ()


@dataclass(frozen=True)
class IstioConfig:
    # The short form as read: with `revisions` given, version and revision say nothing. Code reads revisions, tags
    # and default_tag (tag_version, default_revision).
    version: str = key(
        "version",
        _VERSION,
        "Istio release of the one installed revision (the short form of `revisions`; leave unset with `revisions`)",
        default=DEFAULT_ISTIO_VERSION,
    )
    revision: str = key(
        "revision",
        K8S_NAME,
        "name of that one revision (short form of `revisions[].name`)",
        default=Derived(lambda ctx, v: istio_revision(v["version"]), "version with dashes (`1-30-3`)"),
    )
    revisions: tuple[IstioRevision, ...] = key(
        "revisions",
        Objects(IstioRevision, shorthand="version"),
        "installed control-plane revisions, one istiod each: one normally, two during an upgrade "
        "(see docs/istio.md, 'Upgrading Istio')",
        default=Derived(lambda ctx, v: _single_revision(v), "the one revision `version`/`revision`"),
    )
    default_tag: str = key(
        "defaultTag",
        REVISION_TAG,
        "the tag gateways and app namespaces use unless they name another; the validating webhook follows it",
        default=DEFAULT_REVISION_TAG,
    )
    tags: tuple[tuple[str, str], ...] = key(
        "tags",
        REVISION_TAGS,
        "revision tags: which revision each tag (the istio.io/rev value namespaces carry) injects from",
        default=Derived(lambda ctx, v: _single_tag(v), "`{<defaultTag>: <the one revision>}`"),
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

    @property
    def revision_names(self) -> tuple[str, ...]:
        """Every installed revision, in config order."""
        return tuple(r.name for r in self.revisions)

    @property
    def tag_names(self) -> tuple[str, ...]:
        return tuple(tag for tag, _ in self.tags)

    def revision_of(self, tag: str) -> str:
        """The revision a tag points to."""
        return dict(self.tags)[tag]

    def version_of(self, revision: str) -> str:
        """The Istio release of an installed revision."""
        return next(r.version for r in self.revisions if r.name == revision)

    @property
    def default_revision(self) -> str:
        """The revision of the default tag: the validating webhook's, and the cluster-wide charts' version."""
        return self.revision_of(self.default_tag)

    def tag_version(self, tag: str) -> str:
        """The Istio release a tag's namespaces and gateways run (their gateway chart version)."""
        return self.version_of(self.revision_of(tag))

    @property
    def newest_version(self) -> str:
        """The newest installed release: the CRDs (``base`` chart) must already know every revision's fields."""
        return max((r.version for r in self.revisions), key=lambda v: tuple(int(p) for p in v.split(".")))


@rules(IstioConfig)
def _istio(s: Read) -> None:
    v = s.values
    if v["workload_cert_ttl_hours"] > v["max_workload_cert_ttl_hours"]:
        s.problem(
            "workloadCertTtlHours",
            v["workload_cert_ttl_hours"],
            f"must not exceed maxWorkloadCertTtlHours ({v['max_workload_cert_ttl_hours']})",
        )
    _check_revisions(s)


def _check_revisions(s: Read) -> None:
    """Revisions are few and distinct; every tag points at an installed one; the default tag exists."""
    v = s.values
    if s.given("revisions") and (s.given("version") or s.given("revision")):
        given = [k for k in ("version", "revision") if s.given(k)]
        s.problem(
            "revisions",
            s.raw.get("revisions"),
            f"give either {' and '.join(given)} (one revision) or revisions, not both: move it into revisions",
        )
    revisions: tuple[IstioRevision, ...] = v["revisions"] or ()
    if s.failed("revisions"):
        return
    if not revisions or len(revisions) > MAX_REVISIONS:
        s.problem(
            "revisions",
            [r.version for r in revisions],
            f"allowed: 1 to {MAX_REVISIONS} revisions (the stable one, and a canary during an upgrade)",
        )
        return
    names = [r.name for r in revisions]
    if not s.r.listed_once(((s.at(f"revisions[{i}].name"), name) for i, name in enumerate(names)), "revision name"):
        return
    minors = sorted({minor_of(r.version) for r in revisions})
    if len(minors) > 1 and (minors[-1][0] != minors[0][0] or minors[-1][1] - minors[0][1] > 1):
        # istio-cni and the base chart are single, cluster-wide releases: "The CNI plugin at version 1.x is
        # compatible with control plane at version 1.x-1, 1.x, and 1.x+1" (istio.io, Istio CNI, Upgrading).
        s.problem(
            "revisions",
            [r.version for r in revisions],
            "revisions may differ by at most one minor version (the shared CNI supports 1.x-1..1.x+1): "
            "upgrade one minor at a time",
        )
        return
    if s.failed("tags"):
        return
    tags = dict(v["tags"] or ())
    if not tags:
        s.report("tags", f"required with {len(revisions)} revisions: say which revision each tag points to")
        return
    for tag, revision in sorted(tags.items()):
        if tag in names:
            # A tag named like a revision would make istio.io/rev ambiguous (istioctl refuses it too).
            s.problem(f"tags.{tag}", tag, "a tag must not be named like a revision")
        if revision not in names:
            # This is what catches removing a revision that is still in use: its tag (and through the tag,
            # namespaces and gateways) still points there.
            s.problem(
                f"tags.{tag}",
                revision,
                f"allowed: an installed revision ({', '.join(names)}); move the tag before removing its revision",
            )
    if v["default_tag"] not in tags and not s.failed("defaultTag"):
        s.problem("defaultTag", v["default_tag"], f"{REVISION_TAG.describe} ({', '.join(sorted(tags))})")


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
        HOSTS_OR_WILDCARDS,
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
    revision_tag: str = key(  # never None after parse_config: istio.defaultTag when unset (_check_revision_tags)
        "revisionTag",
        REVISION_TAG,
        "the revision tag that injects its sidecars (its istio.io/rev label); unset: istio.defaultTag",
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
    namespaces = s.items("appNamespaces", "app_namespaces")
    s.r.listed_once(((f"{path}.name", ns.name) for path, ns in namespaces), "namespace")
    names = {ns.name for _, ns in namespaces}
    entries = s.raw.get("appNamespaces")
    for i, entry in enumerate(entries if isinstance(entries, list) else []):
        callers = entry.get("allowedCallers") if isinstance(entry, Mapping) else None
        for j, caller in enumerate(callers if isinstance(callers, list) else []):
            path = f"appNamespaces[{i}].allowedCallers[{j}]"
            if isinstance(caller, str) and not s.r.failed(path) and caller.split("/")[0] not in names:
                s.r.problem(path, caller, "must name a namespace listed in appNamespaces")
    _check_revision_tags(s)
    for i, exception in enumerate(v["istio"].mtls_exceptions):
        # An exception for a namespace nobody creates would only fail at apply time, after a timeout.
        if exception.namespace not in names:
            s.r.problem(
                f"istio.mtlsExceptions[{i}].namespace",
                exception.namespace,
                "must name a namespace listed in appNamespaces",
            )
    _check_hosts(s)


def _check_revision_tags(s: Read) -> None:
    """Each namespace injects from a tag that exists; unset, from the default tag."""
    istio: IstioConfig = s.values["istio"]
    tags = istio.tag_names
    namespaces = []
    for path, ns in s.items("appNamespaces", "app_namespaces"):
        if ns.revision_tag is None:
            ns = replace(ns, revision_tag=istio.default_tag)
        elif ns.revision_tag not in tags and not s.r.failed("istio.tags"):
            s.r.problem(f"{path}.revisionTag", ns.revision_tag, f"{REVISION_TAG.describe} ({', '.join(tags)})")
        namespaces.append(ns)
    s.values["app_namespaces"] = tuple(namespaces)


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
    for path, ns in s.items("appNamespaces", "app_namespaces"):
        for j, host in enumerate(ns.public_hosts):
            # Two owners of one host could each route it: whoever binds it last would capture the other's traffic.
            if host in owners:
                s.r.problem(f"{path}.publicHosts[{j}]", host, f"already claimed by namespace {owners[host]!r}")
            else:
                # The Gateway scopes each host to its owner, but Istio matches a wildcard against every name under
                # it: the owner of *.apps.example.com could bind shop.apps.example.com beside its owner.
                for other, owner in owners.items():
                    if owner != ns.name and (served_by(host, [other]) or served_by(other, [host])):
                        s.r.problem(
                            f"{path}.publicHosts[{j}]", host, f"overlaps {other!r} claimed by namespace {owner!r}"
                        )
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
