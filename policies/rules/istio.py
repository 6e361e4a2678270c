"""Istio rules: mesh objects (``{apiVersion, kind, metadata, spec}``) and the istiod Helm release values.

``kubernetes:yaml/v2:ConfigGroup`` members given inline (``objs``/``yaml``) are checked like standalone
objects. A ``ConfigFile`` (a path) or ``ConfigGroup.files`` cannot be read by the pack; under a real
``pulumi preview`` the engine still analyzes the children those components register.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .common import (
    HELM_TYPES,
    SYSTEM_NAMESPACES_SCHEMA,
    UNKNOWN,
    Ctx,
    Res,
    Stack,
    as_list,
    as_map,
    chart_values,
    dig,
    expect,
    for_each,
    given,
    go_duration_seconds,
    is_number,
    known_items,
    known_values,
    maps,
    not_applicable,
    one_of,
    resource_rule,
    setting,
    spec_of,
    stack_rule,
)
from .frameworks import AUTHORIZATION, BOUNDARY, EGRESS, TRANSIT
from .kubernetes import WORKLOADS, containers, pod_spec, security_setting

SEC = "security.istio.io"
NET = "networking.istio.io"
PEER_AUTHENTICATION = f"{SEC}/PeerAuthentication"
AUTHORIZATION_POLICY = f"{SEC}/AuthorizationPolicy"
GATEWAY = f"{NET}/Gateway"
SERVICE_ENTRY = f"{NET}/ServiceEntry"
NAMESPACE = "core/Namespace"
REVISION_LABEL = "istio.io/rev"
_ROOT_NS = setting("string", "istio-system", "Istio root namespace (mesh-wide policies live here).")


def _selector_empty(spec: dict) -> Any:
    labels = dig(spec, "selector.matchLabels")
    return UNKNOWN if labels is UNKNOWN else not as_map(labels)


# --------------------------------------------------------------------------- mTLS


@resource_rule(
    name="istio-peer-authentication-strict",
    domain="istio",
    targets=(PEER_AUTHENTICATION,),
    severity="critical",
    what="No PeerAuthentication weakens mTLS: mode and every portLevelMtls entry are STRICT (UNSET only where it inherits STRICT).",
    why="PERMISSIVE or DISABLE lets plaintext, unauthenticated traffic reach workloads and breaks identity-based authorization.",
    remediation="Set spec.mtls.mode: STRICT and remove portLevelMtls exceptions; a mesh-wide policy (root namespace, no selector) must not be UNSET.",
    frameworks=TRANSIT + ("NIST 800-53 IA-3",),
    config={"rootNamespace": _ROOT_NS},
)
@given(spec_of)
def peer_authentication(r: Res, spec: dict, ctx: Ctx) -> None:
    mode = dig_mode(spec.get("mtls"))
    ns = r.k8s_namespace
    root = ctx.config["rootNamespace"]
    if mode is UNKNOWN:
        ctx.unknown("spec.mtls.mode")
    elif mode in ("PERMISSIVE", "DISABLE"):
        ctx.fail(f"spec.mtls.mode is {mode}; only STRICT is allowed")
    elif mode not in ("STRICT", "UNSET", None):
        ctx.fail(f"spec.mtls.mode is {mode!r}; only STRICT is allowed")
    elif mode in ("UNSET", None):
        # UNSET inherits from the parent; the mesh-wide policy has no parent, so UNSET there means PERMISSIVE.
        empty = _selector_empty(spec)
        if ns is UNKNOWN or empty is UNKNOWN:
            ctx.unknown("metadata.namespace/spec.selector")
        elif ns == root and empty:
            ctx.fail(
                f"the mesh-wide PeerAuthentication (namespace {root}) leaves mtls.mode {mode or 'unset'}; "
                "it must be STRICT"
            )
    port_level = spec.get("portLevelMtls")
    if port_level is UNKNOWN:
        ctx.unknown("spec.portLevelMtls")
    for port, port_mtls in as_map(port_level).items():
        pmode = dig_mode(port_mtls)
        if pmode is UNKNOWN:
            ctx.unknown(f"spec.portLevelMtls.{port}.mode")
        elif pmode not in ("STRICT", "UNSET", None):
            ctx.fail(f"spec.portLevelMtls[{port}] is {pmode}; port exceptions from STRICT are not allowed")


def dig_mode(mtls: Any) -> Any:
    mode = dig(mtls, "mode")
    if mode is UNKNOWN:
        return UNKNOWN
    return mode.upper() if isinstance(mode, str) else (None if mode is None else repr(mode))


def _has_istio(stack: Stack, root: str) -> Any:
    """Whether the stack runs the mesh: installs Istio's charts, or configures the mesh root namespace.

    A tenant's stack (an app team's Istio objects in its own namespace) does not run the mesh; the mesh-wide
    default is the platform stack's business, not each team's.
    """
    if stack.helm_releases("istiod", "base"):
        return True
    in_root: Any = False
    for group, kind in stack.k8s_kinds():
        if group.endswith("istio.io"):
            for r in stack.k8s_of(group, kind):
                ns = r.k8s_namespace
                if ns == root:
                    return True
                if ns is UNKNOWN:
                    in_root = UNKNOWN
    return in_root


@stack_rule(
    name="istio-mesh-mtls-default",
    domain="istio",
    targets=(PEER_AUTHENTICATION,),
    severity="critical",
    what="A stack that runs Istio (installs its charts or configures its root namespace) sets the mesh-wide default explicitly: PeerAuthentication `default` in the root namespace, no selector, mode STRICT.",
    why="Istio's built-in default is PERMISSIVE; without an explicit mesh-wide STRICT policy any namespace accepts plaintext.",
    remediation="Create PeerAuthentication metadata {name: default, namespace: istio-system} with spec {mtls: {mode: STRICT}}.",
    frameworks=TRANSIT,
    config={"rootNamespace": _ROOT_NS},
)
def mesh_default(stack: Stack, ctx: Ctx) -> None:
    root = ctx.config["rootNamespace"]
    runs_mesh = _has_istio(stack, root)
    if runs_mesh is UNKNOWN:
        ctx.unknown("metadata.namespace of the Istio objects")
        return
    if not runs_mesh:
        not_applicable("the stack does not install Istio or configure its root namespace")
    undecided = False
    for pa in stack.k8s_of(SEC, "PeerAuthentication"):
        name, ns, spec = pa.get("metadata.name"), pa.k8s_namespace, pa.get("spec")
        if UNKNOWN in (name, ns, spec):
            undecided = True
            continue
        if name != "default" or ns != root:
            continue
        spec = as_map(spec)
        empty, mode = _selector_empty(spec), dig_mode(spec.get("mtls"))
        if UNKNOWN in (empty, mode):
            undecided = True
        elif empty and mode == "STRICT":
            return
    if undecided:
        ctx.unknown("PeerAuthentication default")
    else:
        ctx.fail(f"no mesh-wide STRICT PeerAuthentication named 'default' in namespace {root!r}")


# --------------------------------------------------------------------------- istiod values


_istiod_values = chart_values("istiod", "mesh settings")


@resource_rule(
    name="istio-outbound-registry-only",
    domain="istio",
    targets=HELM_TYPES,
    severity="high",
    what="istiod's meshConfig.outboundTrafficPolicy.mode is REGISTRY_ONLY.",
    why="ALLOW_ANY (the default) lets any sidecar reach any external host; REGISTRY_ONLY limits egress to declared ServiceEntries.",
    remediation="Set values.meshConfig.outboundTrafficPolicy.mode: REGISTRY_ONLY on the istiod release.",
    frameworks=EGRESS,
)
@given(_istiod_values)
def outbound_policy(r: Res, values: dict, ctx: Ctx) -> None:
    if ctx.known(values.get("meshConfig"), "values.meshConfig"):
        expect(
            r,
            ctx,
            "values.meshConfig.outboundTrafficPolicy.mode",
            one_of("REGISTRY_ONLY"),
            "set REGISTRY_ONLY (unset means ALLOW_ANY)",
        )


_MAX_TTL_DEFAULT_HOURS = 2160  # istiod's MAX_WORKLOAD_CERT_TTL default: 90 days
_DEFAULT_TTL_HOURS = 24  # istiod's DEFAULT_WORKLOAD_CERT_TTL default


@resource_rule(
    name="istio-workload-cert-ttl",
    domain="istio",
    targets=HELM_TYPES,
    severity="medium",
    what="istiod signs workload certificates for at most maxWorkloadCertTtlHours (pilot.env.MAX_WORKLOAD_CERT_TTL and DEFAULT_WORKLOAD_CERT_TTL).",
    why="A stolen workload certificate is usable until it expires; istiod's default maximum is 90 days, and it rejects (does not shorten) a longer request.",
    remediation='Set values.pilot.env.MAX_WORKLOAD_CERT_TTL (e.g. "24h") and DEFAULT_WORKLOAD_CERT_TTL (e.g. "12h") at or below the limit.',
    frameworks=("SOC 2 CC6.1", "PCI-DSS 4.0 4.2.1", "NIST 800-53 SC-12", "NIST 800-53 SC-17"),
    config={
        "maxWorkloadCertTtlHours": setting(
            "number", 24, "Longest allowed workload certificate lifetime, in hours.", exclusiveMinimum=0
        )
    },
)
@given(_istiod_values)
def cert_ttl(r: Res, values: dict, ctx: Ctx) -> None:
    limit = ctx.cfg_number("maxWorkloadCertTtlHours")
    env = dig(values, "pilot.env")
    if not ctx.known(env, "values.pilot.env"):
        return
    env = as_map(env)
    for key, fallback in (
        ("MAX_WORKLOAD_CERT_TTL", _MAX_TTL_DEFAULT_HOURS),
        ("DEFAULT_WORKLOAD_CERT_TTL", _DEFAULT_TTL_HOURS),
    ):
        raw = env.get(key)
        if not ctx.known(raw, f"values.pilot.env.{key}"):
            continue
        hours: float
        if raw is None:
            hours = fallback
            shown = f"unset (istiod default {fallback}h)"
        else:
            seconds = go_duration_seconds(raw)
            if seconds is None or seconds < 0:
                ctx.fail(f"values.pilot.env.{key} is {raw!r}, not a Go duration such as 24h or 90m")
                continue
            hours, shown = seconds / 3600, repr(raw)
        if hours > limit:
            ctx.fail(f"values.pilot.env.{key} is {shown}; at most {limit:g}h allowed")


# --------------------------------------------------------------------------- egress


@resource_rule(
    name="istio-service-entry-tls-only",
    domain="istio",
    targets=(SERVICE_ENTRY,),
    severity="high",
    what="ServiceEntries open only port 443 with protocol TLS or HTTPS, to explicit hosts.",
    why="Egress is HTTPS only: a plaintext or non-443 entry lets workloads exfiltrate or be reached over unencrypted channels, a wildcard opens every host.",
    remediation="Declare each external host explicitly with ports [{number: 443, name: tls, protocol: TLS}].",
    frameworks=EGRESS + ("NIST 800-53 SC-8",),
)
@given(spec_of)
def service_entry(r: Res, spec: dict, ctx: Ctx) -> None:
    for host in known_values(spec.get("hosts"), "spec.hosts", ctx):
        if not isinstance(host, str) or host.startswith("*") or not host:
            ctx.fail(f"spec.hosts contains {host!r}; list explicit host names")
    ports = spec.get("ports")
    if ctx.known(ports, "spec.ports") and not as_list(ports):
        ctx.fail("spec.ports is empty; declare port 443 with protocol TLS")
    for at, port in known_items(ports, "spec.ports", ctx):
        number, protocol = port.get("number"), port.get("protocol")
        if number is UNKNOWN or protocol is UNKNOWN:
            ctx.unknown(at)
            continue
        if not (is_number(number) and number == 443):
            ctx.fail(f"{at}.number is {number!r}; only 443 is allowed")
        if not (isinstance(protocol, str) and protocol.upper() in ("TLS", "HTTPS")):
            ctx.fail(f"{at}.protocol is {protocol!r}; only TLS or HTTPS is allowed")


# --------------------------------------------------------------------------- gateways


def _servers(r: Res, ctx: Ctx) -> list[tuple[str, dict]]:
    """A Gateway's servers as ``("spec.servers[i]", server)`` (an unknown server is recorded)."""
    spec = spec_of(r, ctx)
    return [] if spec is None else known_items(spec.get("servers"), "spec.servers", ctx)


def _protocol(at: str, server: dict, ctx: Ctx) -> Any:
    """The server's port protocol in upper case (None if unset); UNKNOWN, recorded, if not known yet."""
    protocol = dig(server, "port.protocol")
    if not ctx.known(protocol, f"{at}.port.protocol"):
        return UNKNOWN
    return protocol.upper() if isinstance(protocol, str) else None


_HTTP_FAMILY = ("HTTP", "HTTP2", "GRPC", "GRPC-WEB")
_TERMINATING = ("SIMPLE", "MUTUAL", "ISTIO_MUTUAL")


@resource_rule(
    name="istio-gateway-https-redirect",
    domain="istio",
    targets=(GATEWAY,),
    severity="high",
    what="Gateway plaintext HTTP servers only redirect to HTTPS (tls.httpsRedirect: true); no other plaintext listeners.",
    why="Serving content over port 80 exposes sessions and tokens to anyone on the path.",
    remediation="Give every HTTP server tls: {httpsRedirect: true}; expose TCP services through TLS servers.",
    frameworks=TRANSIT,
)
@for_each(_servers)
def https_redirect(at: str, server: dict, ctx: Ctx) -> None:
    protocol = _protocol(at, server, ctx)
    if protocol is UNKNOWN or protocol in ("HTTPS", "TLS"):
        return
    if protocol in _HTTP_FAMILY:
        redirect = dig(server, "tls.httpsRedirect")
        if ctx.known(redirect, f"{at}.tls.httpsRedirect") and redirect is not True:
            ctx.fail(f"{at} serves {protocol} without tls.httpsRedirect: true")
    else:
        ctx.fail(f"{at} is a plaintext {protocol or 'unspecified-protocol'} listener; use HTTPS or TLS")


@resource_rule(
    name="istio-gateway-tls",
    domain="istio",
    targets=(GATEWAY,),
    severity="high",
    what="Gateway HTTPS servers terminate TLS (tls.mode SIMPLE, MUTUAL or ISTIO_MUTUAL); TLS servers have tls settings.",
    why="An HTTPS server without tls settings (or in PASSTHROUGH) does not terminate TLS where the routing and authentication policy expect it.",
    remediation="Set tls: {mode: SIMPLE, credentialName: <secret>, minProtocolVersion: TLSV1_2} on HTTPS servers.",
    frameworks=TRANSIT,
)
@for_each(_servers)
def gateway_tls(at: str, server: dict, ctx: Ctx) -> None:
    protocol = _protocol(at, server, ctx)
    if protocol not in ("HTTPS", "TLS"):
        return
    tls = server.get("tls")
    if not ctx.known(tls, f"{at}.tls"):
        return
    if not isinstance(tls, dict) or not tls:
        ctx.fail(f"{at} ({protocol}) has no tls settings")
        return
    mode = tls.get("mode")
    if not ctx.known(mode, f"{at}.tls.mode"):
        return
    allowed = _TERMINATING if protocol == "HTTPS" else _TERMINATING + ("PASSTHROUGH",)
    if mode not in allowed:
        ctx.fail(f"{at}.tls.mode is {mode or 'unset (PASSTHROUGH)'!r}; allowed for {protocol}: {', '.join(allowed)}")


_TLS_ORDER = {"TLSV1_0": 0, "TLSV1_1": 1, "TLSV1_2": 2, "TLSV1_3": 3}


@resource_rule(
    name="istio-gateway-min-tls-version",
    domain="istio",
    targets=(GATEWAY,),
    severity="high",
    what="Gateway servers that terminate TLS pin tls.minProtocolVersion to TLSV1_2 or TLSV1_3.",
    why="TLS 1.0/1.1 are broken; Envoy's server-side default was TLS 1.0 until 1.22, so an unset or TLS_AUTO minimum depends on the proxy version.",
    remediation="Set tls.minProtocolVersion: TLSV1_2 (and maxProtocolVersion: TLSV1_3) on every SIMPLE/MUTUAL server.",
    frameworks=TRANSIT + ("NIST 800-53 SC-13",),
)
@for_each(_servers)
def min_tls(at: str, server: dict, ctx: Ctx) -> None:
    tls = server.get("tls")
    if not ctx.known(tls, f"{at}.tls") or not isinstance(tls, dict):
        return
    mode = tls.get("mode")
    if not ctx.known(mode, f"{at}.tls.mode") or mode not in ("SIMPLE", "MUTUAL", "OPTIONAL_MUTUAL"):
        return
    version = tls.get("minProtocolVersion")
    if not ctx.known(version, f"{at}.tls.minProtocolVersion"):
        return
    if _TLS_ORDER.get(version if isinstance(version, str) else "", -1) < 2:
        ctx.fail(f"{at}.tls.minProtocolVersion is {version or 'unset'!r}; set TLSV1_2 or TLSV1_3")


def _wildcard_host(host: Any) -> bool:
    if not isinstance(host, str):
        return True
    return host.rsplit("/", 1)[-1].strip() in ("*", "")


@resource_rule(
    name="istio-gateway-no-wildcard-hosts",
    domain="istio",
    targets=(GATEWAY,),
    severity="medium",
    what="Gateway servers name their hosts (no `*` or `*/*`).",
    why="A wildcard host accepts traffic for any Host header, so any VirtualService in the mesh can bind to the public edge.",
    remediation="List the served host names on each server (on the ingress gateway scoped to their owner: shop/shop.apps.example.com).",
    frameworks=("SOC 2 CC6.6", "PCI-DSS 4.0 1.3.1", "NIST 800-53 SC-7", "NIST 800-53 CM-7"),
)
@for_each(_servers)
def wildcard_hosts(at: str, server: dict, ctx: Ctx) -> None:
    hosts = server.get("hosts")
    if not ctx.known(hosts, f"{at}.hosts"):
        return
    if not as_list(hosts):
        ctx.fail(f"{at}.hosts is empty; list the served host names")
    for host in known_values(hosts, f"{at}.hosts", ctx):
        if _wildcard_host(host):
            ctx.fail(f"{at}.hosts contains {host!r}; name the hosts")


INGRESS_GATEWAY_LABELS = {"istio": "ingressgateway"}
EGRESS_GATEWAY_LABELS = {"istio": "egressgateway"}


def _gateway_labels_setting(labels: dict[str, str], description: str) -> dict[str, Any]:
    """A rule's config key naming a gateway's pod labels (a Gateway or policy selecting them is about that gateway)."""
    return setting("object", dict(labels), description, additionalProperties={"type": "string"})


def _gateway_labels(ctx: Ctx, key: str) -> dict[str, str]:
    """The gateway pod labels configured under ``key`` (string values only); the rule's default when there are none."""
    labels = {k: v for k, v in as_map(ctx.config[key]).items() if isinstance(v, str)}
    return labels or dict(ctx.defaults[key])


def _selects(selector: Any, wanted: Mapping[str, str]) -> Any:
    """Whether a label map includes every wanted label (UNKNOWN if the map is unknown)."""
    if selector is UNKNOWN:
        return UNKNOWN
    labels = as_map(selector)
    if any(v is UNKNOWN for v in labels.values()):
        return UNKNOWN
    return bool(wanted) and all(labels.get(k) == v for k, v in wanted.items())


_INGRESS_SELECTOR = _gateway_labels_setting(
    INGRESS_GATEWAY_LABELS, "Pod labels of the ingress gateway (a Gateway selecting them serves the public edge)."
)
# `<namespace>/<dnsName>`: a DNS-1123 label, or `.` (the Gateway's own namespace), then a non-empty name.
_NAMESPACE_SCOPED = re.compile(r"^(\.|[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)/[^/\s]+$")


@resource_rule(
    name="istio-ingress-gateway-namespace-hosts",
    domain="istio",
    targets=(GATEWAY,),
    severity="high",
    what="Ingress Gateway server hosts are scoped to the namespace that owns them (`<namespace>/<host>`, never bare or `*/`).",
    why="A host without a namespace means `*/<host>`: a VirtualService in any namespace binds it, and Istio merges the VirtualServices bound to a gateway for one host, so another team can capture the owner's traffic.",
    remediation="Write each host as <owning namespace>/<host> (appNamespaces[].publicHosts: shop/shop.apps.example.com).",
    frameworks=BOUNDARY + ("NIST 800-53 AC-4",),
    config={"ingressGatewaySelector": _INGRESS_SELECTOR},
)
def ingress_namespace_hosts(r: Res, ctx: Ctx) -> None:
    selects = _selects(r.get("spec.selector"), _gateway_labels(ctx, "ingressGatewaySelector"))
    if selects is UNKNOWN:
        ctx.unknown("spec.selector")
        return
    if not selects:
        return  # not the public edge (the egress gateway's servers name external hosts)
    for at, server in _servers(r, ctx):
        for host in known_values(server.get("hosts"), f"{at}.hosts", ctx):
            if not (isinstance(host, str) and _NAMESPACE_SCOPED.match(host)):
                ctx.fail(f"{at}.hosts contains {host!r}; write <owning namespace>/<host>")


# --------------------------------------------------------------------------- authorization

_ANY_PRINCIPAL = re.compile(r"^([^/]*/)?\*$")


@resource_rule(
    name="istio-authz-no-allow-all",
    domain="istio",
    targets=(AUTHORIZATION_POLICY,),
    severity="critical",
    what="No ALLOW AuthorizationPolicy allows everything (a rule without from/to/when) or any peer (principals/namespaces `*`).",
    why="An allow-all rule silently cancels the namespace's default-deny policy.",
    remediation="Name the callers: rules: [{from: [{source: {principals: [<trustDomain>/ns/<ns>/sa/<sa>]}}], to: [...]}].",
    frameworks=AUTHORIZATION,
)
@given(spec_of)
def allow_all(r: Res, spec: dict, ctx: Ctx) -> None:
    action = spec.get("action")
    if not ctx.known(action, "spec.action") or action not in (None, "ALLOW"):
        return
    for at, rule in known_items(spec.get("rules"), "spec.rules", ctx):
        parts = [rule.get(k) for k in ("from", "to", "when")]
        if any(p is UNKNOWN for p in parts):
            ctx.unknown(at)
        elif not any(as_list(p) for p in parts):
            ctx.fail(f"{at} has no from/to/when, so it allows every request")
        else:
            _any_peer(at, rule, ctx)


def _any_peer(at: str, rule: dict, ctx: Ctx) -> None:
    """Fail each ``from.source`` principal or namespace of an ALLOW rule that matches any peer."""
    for j, source in enumerate(maps(rule.get("from"))):
        src = source.get("source")
        if not ctx.known(src, f"{at}.from[{j}].source"):
            continue
        for key in ("principals", "namespaces"):
            path = f"{at}.from[{j}].source.{key}"
            for value in known_values(as_map(src).get(key), path, ctx):
                if isinstance(value, str) and (value == "*" or (key == "principals" and _ANY_PRINCIPAL.match(value))):
                    ctx.fail(f"{path} contains {value!r}, which matches any peer")


def _injected(labels: dict) -> bool:
    return bool(labels.get(REVISION_LABEL)) or labels.get("istio-injection") == "enabled"


def _is_default_deny(spec: Any) -> Any:
    if spec is UNKNOWN:
        return UNKNOWN
    if spec is None:
        return True
    spec = as_map(spec)
    extra = {k: v for k, v in spec.items() if v not in (None, {}, [])}
    if any(v is UNKNOWN for v in extra.values()):
        return UNKNOWN
    return not extra or extra == {"action": "ALLOW"}


@stack_rule(
    name="istio-namespace-default-deny",
    domain="istio",
    targets=(NAMESPACE, AUTHORIZATION_POLICY),
    severity="high",
    what="Every sidecar-injected application namespace has a default-deny AuthorizationPolicy (empty spec).",
    why="Istio allows all traffic to a workload with no ALLOW policy; deny-by-default makes every allowed caller an explicit decision.",
    remediation="Create AuthorizationPolicy {name: allow-nothing, namespace: <ns>} with spec: {} in each namespace labelled istio.io/rev or istio-injection=enabled.",
    frameworks=AUTHORIZATION + ("NIST 800-53 SC-7(5)",),
    config={"systemNamespaces": SYSTEM_NAMESPACES_SCHEMA},
)
def namespace_default_deny(stack: Stack, ctx: Ctx) -> None:
    system = set(ctx.cfg_list("systemNamespaces"))
    namespaces = []
    for ns in stack.k8s_of("core", "Namespace"):
        labels = ns.labels()
        if labels is UNKNOWN:
            ctx.unknown(f"{ns.name}: metadata.labels")
            continue
        name = ns.get("metadata.name")
        if _injected(labels) and not (isinstance(name, str) and name in system):
            namespaces.append(ns)
    if not namespaces:
        not_applicable("the stack declares no sidecar-injected application namespace")
    # One pass over the policies, then lookups per namespace. A policy is in a namespace when its metadata
    # depends on the Namespace resource or when its namespace equals the namespace's name.
    by_dependency = _DefaultDenyVerdicts()  # keyed by the URN of a Namespace the metadata depends on
    by_namespace = _DefaultDenyVerdicts()  # keyed by the policy's own (known) namespace
    # A policy tied to no Namespace by dependency could be in a namespace we cannot match yet: with an
    # unknown namespace it could be in any namespace; with a known one, in any namespace of unknown name.
    unknown_ns_without_dependency = False
    without_dependency = False
    for ap in stack.k8s_of(SEC, "AuthorizationPolicy"):
        verdict = _is_default_deny(ap.get("spec"))
        metadata_deps = ap.property_dependencies.get("metadata", [])
        for urn in set(metadata_deps):
            by_dependency.add(urn, verdict)
        ap_ns = ap.k8s_namespace
        if ap_ns is not UNKNOWN:
            by_namespace.add(ap_ns, verdict)
        if not metadata_deps:
            without_dependency = True
            unknown_ns_without_dependency = unknown_ns_without_dependency or ap_ns is UNKNOWN
    for ns in namespaces:
        name = ns.get("metadata.name")
        found = by_dependency.found(ns.urn)
        undecided = by_dependency.undecided(ns.urn)
        if isinstance(name, str):
            found = found or by_namespace.found(name)
            undecided = undecided or by_namespace.undecided(name) or unknown_ns_without_dependency
        else:
            undecided = undecided or without_dependency
        if found:
            continue
        label = name if isinstance(name, str) else ns.name
        if undecided:
            ctx.unknown(f"{label}: AuthorizationPolicy")
        else:
            ctx.fail(
                f"namespace {label!r} is in the mesh but has no default-deny AuthorizationPolicy (spec: {{}})", ns.urn
            )


class _DefaultDenyVerdicts:
    """Per key, whether some AuthorizationPolicy there is default-deny, and whether one cannot be decided yet."""

    def __init__(self) -> None:
        self._found: set[str] = set()
        self._undecided: set[str] = set()

    def add(self, key: str, verdict: Any) -> None:
        if verdict is UNKNOWN:
            self._undecided.add(key)
        elif verdict:
            self._found.add(key)

    def found(self, key: str) -> bool:
        return key in self._found

    def undecided(self, key: str) -> bool:
        return key in self._undecided


# --------------------------------------------------------------------------- tenancy: what app teams may not do

_PLATFORM_NAMESPACES = setting(
    "array",
    ["istio-system", "istio-ingress", "istio-egress"],
    "Namespaces the platform owns: the mesh root and the gateway namespaces.",
    items={"type": "string"},
)
PERIMETER_KINDS = (
    SERVICE_ENTRY,
    GATEWAY,
    f"{NET}/Sidecar",
    f"{NET}/EnvoyFilter",
    "extensions.istio.io/WasmPlugin",
)


@resource_rule(
    name="istio-perimeter-platform-owned",
    domain="istio",
    targets=PERIMETER_KINDS,
    severity="high",
    what="ServiceEntry, Gateway, Sidecar, EnvoyFilter and WasmPlugin objects exist only in the platform's namespaces.",
    why="Each moves the mesh's perimeter: a ServiceEntry opens an exit, a Gateway an entry, a Sidecar or EnvoyFilter rewrites what the proxy enforces, a WasmPlugin runs code in it.",
    remediation="Ask the platform team: egress hosts and public hosts are config entries of the app namespace (docs/app-teams.md).",
    frameworks=EGRESS + ("NIST 800-53 CM-5",),
    config={"platformNamespaces": _PLATFORM_NAMESPACES},
)
def perimeter_platform_owned(r: Res, ctx: Ctx) -> None:
    ns = r.k8s_namespace
    allowed = ctx.cfg_list("platformNamespaces")
    if ctx.known(ns, "metadata.namespace") and ns not in allowed:
        ctx.fail(f"{r.k8s_group_kind[1]} in namespace {ns!r}; only the platform's namespaces {allowed} may have one")


_INJECT = "sidecar.istio.io/inject"
_CAPTURE_PREFIX = "traffic.sidecar.istio.io/"
ISTIO_PROXY_UID = 1337  # istio-proxy: its traffic is never redirected to the sidecar


def _pod_metadata(r: Res, ctx: Ctx) -> Any:
    kind = r.k8s_group_kind[1]
    path = {"Pod": "metadata", "CronJob": "spec.jobTemplate.spec.template.metadata"}.get(kind, "spec.template.metadata")
    meta = r.get(path)
    return as_map(meta) if ctx.known(meta, path) else UNKNOWN


def _bypass_by_metadata(meta: dict, ctx: Ctx) -> None:
    for where in ("annotations", "labels"):
        values = meta.get(where)
        if not ctx.known(values, f"pod metadata.{where}"):
            continue
        values = as_map(values)
        inject = values.get(_INJECT)
        if ctx.known(inject, f"pod metadata.{where}.{_INJECT}") and inject is not None and inject != "true":
            ctx.fail(f"pod {where[:-1]} {_INJECT}: {inject!r} opts out of the sidecar; remove it")
        if where == "annotations":
            for key in values:
                if isinstance(key, str) and key.startswith(_CAPTURE_PREFIX):
                    ctx.fail(f"pod annotation {key} changes what the sidecar captures; remove it")


@resource_rule(
    name="istio-no-sidecar-bypass",
    domain="istio",
    targets=WORKLOADS,
    severity="critical",
    what=f"Pods neither opt out of sidecar injection ({_INJECT} other than 'true'), nor change traffic capture ({_CAPTURE_PREFIX}* annotations), nor run as istio-proxy's UID/GID {ISTIO_PROXY_UID}.",
    why="Traffic that skips the sidecar skips mTLS, authorization and the REGISTRY_ONLY egress boundary.",
    remediation=f"Remove {_INJECT}: 'false' and {_CAPTURE_PREFIX}* annotations; run as any UID/GID but {ISTIO_PROXY_UID}.",
    frameworks=TRANSIT + EGRESS,
)
def no_sidecar_bypass(r: Res, ctx: Ctx) -> None:
    meta = _pod_metadata(r, ctx)
    if meta is not UNKNOWN:
        _bypass_by_metadata(meta, ctx)
    spec = pod_spec(r, ctx)
    if spec is None:
        return
    for key in ("runAsUser", "runAsGroup"):
        for label, container in containers(spec, ctx):
            value = security_setting(spec, container, key)
            if ctx.known(value, f"{label}.securityContext.{key}") and is_number(value) and value == ISTIO_PROXY_UID:
                ctx.fail(
                    f"{label} runs with {key} {ISTIO_PROXY_UID} (istio-proxy's), so its traffic bypasses the sidecar"
                )


# --------------------------------------------------------------------------- egress gateway identity

_EGRESS_SELECTOR = _gateway_labels_setting(
    EGRESS_GATEWAY_LABELS, "Pod labels of the egress gateway (a Gateway selecting them is an egress gateway)."
)


def _identity_and_sni(rule: dict) -> Any:
    """An egress ALLOW rule names its callers (namespaces or principals, no `*`) and the server names (SNI).

    ``to.operation.hosts``/``notHosts`` are HTTP-only: on the gateway's TLS server Istio drops such a rule.
    """
    sources = [as_map(f.get("source")) for f in maps(rule.get("from"))]
    conditions = maps(rule.get("when"))
    if any(v is UNKNOWN for v in (rule.get("from"), rule.get("when"), rule.get("to"))):
        return UNKNOWN
    if any(k in as_map(t.get("operation")) for t in maps(rule.get("to")) for k in ("hosts", "notHosts")):
        return False
    named = bool(sources) and all(
        any(as_list(src.get(k)) for k in ("namespaces", "principals"))
        and not any(v == "*" for k in ("namespaces", "principals") for v in as_list(src.get(k)))
        for src in sources
    )
    sni = any(c.get("key") == "connection.sni" and as_list(c.get("values")) for c in conditions)
    return named and sni


@stack_rule(
    name="istio-egress-gateway-authorization",
    domain="istio",
    targets=(GATEWAY, AUTHORIZATION_POLICY),
    severity="high",
    what="An egress gateway terminates Istio mTLS (servers tls.mode ISTIO_MUTUAL) and has an ALLOW AuthorizationPolicy whose every rule names its callers (namespaces or principals) and the server names (when connection.sni).",
    why="Without caller identity at the exit, any workload that reaches the gateway can call every allowed external host; `to.operation.hosts` is HTTP-only and never matches a TLS server.",
    remediation="Give egress Gateway servers tls: {mode: ISTIO_MUTUAL}, route the sidecar to it with a DestinationRule tls {mode: ISTIO_MUTUAL, sni: <host>}, and add an ALLOW AuthorizationPolicy selecting the gateway with rules [{from: [{source: {namespaces: [...]}}], when: [{key: connection.sni, values: [<host>]}]}].",
    frameworks=EGRESS + AUTHORIZATION[:2],
    config={"egressGatewaySelector": _EGRESS_SELECTOR},
)
def egress_gateway_authorization(stack: Stack, ctx: Ctx) -> None:
    wanted = _gateway_labels(ctx, "egressGatewaySelector")
    namespaces: dict[str, Res] = {}
    for gw in stack.k8s_of(NET, "Gateway"):
        selects = _selects(gw.get("spec.selector"), wanted)
        if selects is UNKNOWN:
            ctx.unknown(f"{gw.name}: spec.selector")
            continue
        if not selects:
            continue
        ns = gw.k8s_namespace
        if ns is UNKNOWN:
            ctx.unknown(f"{gw.name}: metadata.namespace")
            continue
        namespaces.setdefault(ns, gw)
        for i, server in enumerate(maps(gw.get("spec.servers"))):
            mode = dig(server, "tls.mode")
            if mode is UNKNOWN:
                ctx.unknown(f"{gw.name}: spec.servers[{i}].tls.mode")
            elif mode != "ISTIO_MUTUAL":
                ctx.fail(
                    f"egress Gateway {ns}/{gw.k8s_name} server {i} has tls.mode {mode or 'unset'!r}; "
                    "ISTIO_MUTUAL lets the gateway see the caller's identity",
                    gw.urn,
                )
    if not namespaces:
        not_applicable("the stack declares no egress Gateway")
    for ns, gw in namespaces.items():
        verdicts = []
        for ap in stack.k8s_of(SEC, "AuthorizationPolicy"):
            if ap.k8s_namespace is UNKNOWN:
                verdicts.append(UNKNOWN)
                continue
            if ap.k8s_namespace != ns or ap.get("spec.action") not in (None, "ALLOW"):
                continue
            selects = _selects(ap.get("spec.selector.matchLabels"), wanted)
            rules = ap.get("spec.rules")
            if selects is UNKNOWN or rules is UNKNOWN:
                verdicts.append(UNKNOWN)
            elif selects:
                checked = [_identity_and_sni(r) for r in maps(rules)]
                verdicts.append(UNKNOWN if UNKNOWN in checked else all(checked))
        if True in verdicts:
            continue
        if UNKNOWN in verdicts:
            ctx.unknown(f"{ns}: AuthorizationPolicy")
        else:
            ctx.fail(
                f"egress gateway in namespace {ns!r} has no ALLOW AuthorizationPolicy naming callers and "
                "connection.sni for every rule",
                gw.urn,
            )


CACERTS = "cacerts"
CACERTS_KEYS = ("ca-cert.pem", "ca-key.pem", "root-cert.pem", "cert-chain.pem")


def _cacerts_by_namespace(stack: Stack, ctx: Ctx) -> dict[str, Res]:
    """The ``cacerts`` Secrets of the stack, by namespace (a Secret whose name or namespace is unknown is noted)."""
    found: dict[str, Res] = {}
    for secret in stack.k8s_of("core", "Secret"):
        name, ns = secret.k8s_name, secret.k8s_namespace
        if name is UNKNOWN or ns is UNKNOWN:
            ctx.unknown(f"{secret.name}: metadata")
        elif name == CACERTS:
            found[ns] = secret
    return found


@stack_rule(
    name="istio-plugin-ca",
    domain="istio",
    targets=HELM_TYPES + ("core/Secret",),
    severity="high",
    what="Every istiod release has a plug-in CA: a cacerts Secret (ca-cert.pem, ca-key.pem, root-cert.pem, cert-chain.pem) in its namespace, which the release depends on.",
    why="Without cacerts istiod generates a self-signed root inside the cluster: whoever reads istio-system Secrets holds the mesh's trust anchor, and nothing outside the cluster can rotate or revoke it.",
    remediation="Create cacerts from an intermediate CA signed by the root kept outside the cluster (components/mesh_ca.py), and make every istiod release depend on it so istiod never starts without it.",
    frameworks=("SOC 2 CC6.1", "PCI-DSS 4.0 3.6.1", "NIST 800-53 SC-12", "NIST 800-53 SC-17"),
)
def plugin_ca(stack: Stack, ctx: Ctx) -> None:
    releases = stack.helm_releases("istiod") or not_applicable("the stack installs no istiod")
    secrets = _cacerts_by_namespace(stack, ctx)
    for release in releases:
        ns = release.get("namespace")
        if not ctx.known(ns, f"{release.name}: namespace"):
            continue
        ns = ns if isinstance(ns, str) and ns else "default"
        secret = secrets.get(ns)
        if secret is None:
            if not ctx.unknown_paths:
                ctx.fail(
                    f"istiod release {release.name!r} has no cacerts Secret in {ns!r}: istiod would make its own root",
                    release.urn,
                )
            continue
        if secret.urn not in release.dependencies:
            ctx.fail(
                f"istiod release {release.name!r} does not depend on cacerts: it may start before its CA exists",
                release.urn,
            )
        data = {**as_map(secret.get("data")), **as_map(secret.get("stringData"))}
        if secret.get("data") is UNKNOWN or secret.get("stringData") is UNKNOWN:
            ctx.unknown(f"{secret.name}: data")
            continue
        missing = [k for k in CACERTS_KEYS if k not in data]
        if missing:
            ctx.fail(f"cacerts in {ns!r} lacks {', '.join(missing)}", secret.urn)
