"""The admission rules: the pack's workload and mesh checks as CEL, and the objects the API server receives.

Each :class:`AdmissionRule` is one ``ValidatingAdmissionPolicy`` (what it matches, its variables and
validations) and how it is bound; every validation names the pack rule it mirrors (its message starts with
the rule's name), so tests/admission/ can run one shared corpus through both. Fields are read with ``has()``
guards so that a well-formed object never errors. The metadata read is the pod template's
(``spec.template.metadata``, an ordinary nested field) and, for bare Pods, ``object.metadata.labels``/
``annotations`` (docs/app-teams.md on the Kubernetes documentation's note about metadata in CEL). The
component that creates them is :mod:`components.admission_policies`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from components.mesh_names import (
    APP_NAMESPACE_LABEL,
    DEFAULT_DENY_POLICY,
    MTLS_EXCEPTION_LABEL,
    PERIMETER_ISTIO_KINDS,
)

ISTIO_PROXY_UID = 1337  # istio-proxy's UID and GID: traffic from it is never redirected to the sidecar
POLICY_PREFIX = "platform-"


@dataclass(frozen=True)
class Validation:
    """One CEL check and the pack rule it mirrors (the message starts with the rule's name)."""

    rule: str
    expression: str
    message: str


@dataclass(frozen=True)
class AdmissionRule:
    """One ValidatingAdmissionPolicy: what it matches, its variables and validations, and how it is bound."""

    name: str
    resource_rules: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]  # (apiGroups, resources)
    validations: tuple[Validation, ...]
    variables: tuple[tuple[str, str], ...] = ()
    skip_mtls_exceptions: bool = False  # the binding leaves out namespaces with a configured mTLS exception
    operations: tuple[str, ...] = ("CREATE", "UPDATE")


# --------------------------------------------------------------------------- workloads


def _has(path: str, last: str) -> str:
    return f"has({path}.{last})"


_C = "c.securityContext"
_POD_SC = "variables.podSecurityContext"


def _container_setting_is(field: str, value: str) -> str:
    """Every container sets ``securityContext.<field>`` to ``value`` (unset is wrong)."""
    return f"variables.containers.all(c, has({_C}) && has({_C}.{field}) && {_C}.{field} == {value})"


def _inherited(field: str, ok: str) -> str:
    """Every container's ``field`` (its own, else the pod's) satisfies ``ok`` (a template on ``v``)."""
    own, pod = ok.replace("v", f"{_C}.{field}"), ok.replace("v", f"{_POD_SC}.{field}")
    return f"variables.containers.all(c, (has({_C}) && has({_C}.{field})) ? {own} : (has({_POD_SC}.{field}) && {pod}))"


def _inherited_or_unset(field: str, ok: str) -> str:
    """Like ``_inherited``, but a field set nowhere passes."""
    own, pod = ok.replace("v", f"{_C}.{field}"), ok.replace("v", f"{_POD_SC}.{field}")
    return f"variables.containers.all(c, (has({_C}) && has({_C}.{field})) ? {own} : (!has({_POD_SC}.{field}) || {pod}))"


_LIMITS = (
    "variables.limitedContainers.all(c, has(c.resources) && has(c.resources.limits) && "
    "'cpu' in c.resources.limits && 'memory' in c.resources.limits && "
    "!(string(c.resources.limits.cpu) in ['', '0']) && !(string(c.resources.limits.memory) in ['', '0']))"
)
_OPT_OUT = (
    "!has(variables.podMeta.{where}) || !('sidecar.istio.io/inject' in variables.podMeta.{where}) || "
    "variables.podMeta.{where}['sidecar.istio.io/inject'] == 'true'"
)

WORKLOAD_VALIDATIONS = (
    Validation(
        "k8s-no-privileged-containers",
        f"variables.containers.all(c, !has({_C}) || !has({_C}.privileged) || {_C}.privileged != true)",
        "a container runs privileged",
    ),
    Validation(
        "k8s-no-privilege-escalation",
        _container_setting_is("allowPrivilegeEscalation", "false"),
        "every container must set securityContext.allowPrivilegeEscalation: false",
    ),
    Validation(
        "k8s-run-as-non-root",
        _inherited("runAsNonRoot", "v == true"),
        "every container must run with runAsNonRoot: true (its own or the pod's)",
    ),
    Validation("k8s-run-as-non-root", _inherited_or_unset("runAsUser", "v != 0"), "a container runs as UID 0"),
    Validation(
        "k8s-read-only-root-filesystem",
        _container_setting_is("readOnlyRootFilesystem", "true"),
        "every container must set securityContext.readOnlyRootFilesystem: true",
    ),
    Validation("k8s-resource-limits", _LIMITS, "every container must set resources.limits.cpu and .memory"),
    Validation(
        "k8s-no-host-namespaces",
        " && ".join(
            f"!(has(variables.podSpec.{f}) && variables.podSpec.{f} == true)"
            for f in ("hostNetwork", "hostPID", "hostIPC")
        ),
        "the pod shares the node's network, PID or IPC namespace",
    ),
    Validation(
        "k8s-no-host-path-volumes",
        "!has(variables.podSpec.volumes) || variables.podSpec.volumes.all(v, !has(v.hostPath))",
        "the pod mounts a hostPath volume",
    ),
    Validation(
        "istio-no-sidecar-bypass",
        f"({_OPT_OUT.format(where='annotations')}) && ({_OPT_OUT.format(where='labels')})",
        "the pod opts out of sidecar injection (sidecar.istio.io/inject other than 'true')",
    ),
    Validation(
        "istio-no-sidecar-bypass",
        "!has(variables.podMeta.annotations) || "
        "!variables.podMeta.annotations.exists(k, k.startsWith('traffic.sidecar.istio.io/'))",
        "the pod changes which traffic the sidecar captures (traffic.sidecar.istio.io/* annotations)",
    ),
    Validation(
        "istio-no-sidecar-bypass",
        " && ".join(_inherited_or_unset(f, f"v != {ISTIO_PROXY_UID}") for f in ("runAsUser", "runAsGroup")),
        f"a container runs as UID or GID {ISTIO_PROXY_UID} (istio-proxy's), whose traffic bypasses the sidecar",
    ),
)

# Where the pod spec and the pod's metadata are, by workload shape.
_POD_SHAPES = (
    ("pods", (("",), ("pods", "pods/ephemeralcontainers")), "object.spec", "object.metadata"),
    (
        "workloads",
        (("apps",), ("deployments", "statefulsets", "daemonsets", "replicasets")),
        "object.spec.template.spec",
        "object.spec.template.metadata",
    ),
    ("jobs", (("batch",), ("jobs",)), "object.spec.template.spec", "object.spec.template.metadata"),
    (
        "cronjobs",
        (("batch",), ("cronjobs",)),
        "object.spec.jobTemplate.spec.template.spec",
        "object.spec.jobTemplate.spec.template.metadata",
    ),
)


def _pod_variables(spec: str, meta: str) -> tuple[tuple[str, str], ...]:
    parent, _, last = meta.rpartition(".")
    ps = "variables.podSpec"
    return (
        ("podSpec", spec),
        ("podMeta", f"has({parent}.{last}) ? {meta} : {{}}"),
        ("podSecurityContext", f"has({ps}.securityContext) ? {ps}.securityContext : {{}}"),
        ("initContainers", f"has({ps}.initContainers) ? {ps}.initContainers : []"),
        # Ephemeral (debug) containers obey the same hardening; they cannot declare resources.
        ("limitedContainers", f"variables.initContainers + {ps}.containers"),
        (
            "containers",
            f"variables.limitedContainers + (has({ps}.ephemeralContainers) ? {ps}.ephemeralContainers : [])",
        ),
    )


# --------------------------------------------------------------------------- mesh objects

_MTLS_OK = "['STRICT', 'UNSET']"
PEER_AUTHENTICATION_VALIDATIONS = (
    Validation(
        "istio-peer-authentication-strict",
        "!has(object.spec) || !has(object.spec.mtls) || !has(object.spec.mtls.mode) || "
        f"object.spec.mtls.mode in {_MTLS_OK}",
        "mTLS must stay STRICT: spec.mtls.mode may only be STRICT (or UNSET, inheriting STRICT)",
    ),
    Validation(
        "istio-peer-authentication-strict",
        "!has(object.spec) || !has(object.spec.portLevelMtls) || object.spec.portLevelMtls.all(p, "
        f"!('mode' in object.spec.portLevelMtls[p]) || object.spec.portLevelMtls[p].mode in {_MTLS_OK})",
        "no port may be exempted from STRICT mTLS (spec.portLevelMtls)",
    ),
)

_ALLOW = "(!has(object.spec.action) || object.spec.action == 'ALLOW')"
_NON_EMPTY = "(has(r.{0}) && size(r.{0}) > 0)"
AUTHORIZATION_VALIDATIONS = (
    Validation(
        "istio-authz-no-allow-all",
        f"!has(object.spec) || !{_ALLOW} || !has(object.spec.rules) || object.spec.rules.all(r, "
        + " || ".join(_NON_EMPTY.format(part) for part in ("from", "to", "when"))
        + ")",
        "an ALLOW rule without from/to/when allows every request",
    ),
    Validation(
        "istio-authz-no-allow-all",
        f"!has(object.spec) || !{_ALLOW} || !has(object.spec.rules) || object.spec.rules.all(r, "
        "!has(r.from) || r.from.all(f, !has(f.source) || "
        "((!has(f.source.principals) || f.source.principals.all(p, !p.matches('^([^/]*/)?[*]$'))) && "
        "(!has(f.source.namespaces) || f.source.namespaces.all(n, n != '*')))))",
        "an ALLOW rule matches any peer (principals or namespaces '*')",
    ),
)

# A team may manage AuthorizationPolicies, so it could delete or loosen the platform's default deny; Istio then
# allows every request to a workload that no ALLOW policy selects. The policy goes only with its namespace
# (status.phase Terminating: the namespace controller empties it; a status field, not root metadata).
_DEFAULT_DENY = f"'{DEFAULT_DENY_POLICY}'"
DEFAULT_DENY_VALIDATIONS = (
    Validation(
        "istio-namespace-default-deny",
        f"request.operation != 'DELETE' || oldObject.metadata.name != {_DEFAULT_DENY} || "
        "(has(namespaceObject.status) && has(namespaceObject.status.phase) && "
        "namespaceObject.status.phase == 'Terminating')",
        f"the namespace's default-deny AuthorizationPolicy {DEFAULT_DENY_POLICY} is platform-owned and goes only "
        "with its namespace",
    ),
    Validation(
        "istio-namespace-default-deny",
        f"request.operation != 'UPDATE' || object.metadata.name != {_DEFAULT_DENY} || "
        "!has(object.spec) || size(object.spec) == 0",
        f"the default-deny AuthorizationPolicy {DEFAULT_DENY_POLICY} keeps its empty spec",
    ),
)

PERIMETER_VALIDATIONS = (
    Validation(
        "istio-perimeter-platform-owned",
        "false",
        "ServiceEntry, Gateway, Sidecar, EnvoyFilter and WasmPlugin change the mesh's perimeter and are "
        "platform-owned: ask the platform team (docs/app-teams.md)",
    ),
)


def _by_group(kinds: Sequence[tuple[str, str, str]]) -> tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]:
    groups: dict[str, list[str]] = {}
    for group, plural, _ in kinds:
        groups.setdefault(group, []).append(plural)
    return tuple(((group,), tuple(plurals)) for group, plurals in groups.items())


def admission_rules() -> tuple[AdmissionRule, ...]:
    """Every policy the platform enforces at admission in app namespaces."""
    pods = tuple(
        AdmissionRule(f"{POLICY_PREFIX}pod-security-{name}", (match,), WORKLOAD_VALIDATIONS, _pod_variables(spec, meta))
        for name, match, spec, meta in _POD_SHAPES
    )
    perimeter = [k for k in PERIMETER_ISTIO_KINDS if k[2] != "PeerAuthentication"]  # its own rule: STRICT only
    return (
        *pods,
        AdmissionRule(
            f"{POLICY_PREFIX}mesh-mtls-strict",
            ((("security.istio.io",), ("peerauthentications",)),),
            PEER_AUTHENTICATION_VALIDATIONS,
            skip_mtls_exceptions=True,
        ),
        AdmissionRule(
            f"{POLICY_PREFIX}mesh-authz-no-allow-all",
            ((("security.istio.io",), ("authorizationpolicies",)),),
            AUTHORIZATION_VALIDATIONS,
        ),
        AdmissionRule(f"{POLICY_PREFIX}mesh-perimeter", _by_group(perimeter), PERIMETER_VALIDATIONS),
        AdmissionRule(
            f"{POLICY_PREFIX}mesh-default-deny-kept",
            ((("security.istio.io",), ("authorizationpolicies",)),),
            DEFAULT_DENY_VALIDATIONS,
            operations=("UPDATE", "DELETE"),
        ),
    )


# --------------------------------------------------------------------------- the Kubernetes objects


def policy_object(rule: AdmissionRule) -> dict[str, Any]:
    """The ValidatingAdmissionPolicy as the API server receives it (camelCase)."""
    spec: dict[str, Any] = {
        # An expression that errors refuses the request: a check that cannot run must not admit.
        "failurePolicy": "Fail",
        "matchConstraints": {
            "resourceRules": [
                {
                    "apiGroups": list(groups),
                    "apiVersions": ["*"],
                    "operations": list(rule.operations),
                    "resources": list(resources),
                }
                for groups, resources in rule.resource_rules
            ]
        },
        "validations": [
            {"expression": v.expression, "message": f"{v.rule}: {v.message}", "reason": "Forbidden"}
            for v in rule.validations
        ],
    }
    if rule.variables:
        spec["variables"] = [{"name": name, "expression": expression} for name, expression in rule.variables]
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": rule.name},
        "spec": spec,
    }


def app_namespace_selector(skip_mtls_exceptions: bool = False) -> dict[str, Any]:
    selector: dict[str, Any] = {"matchLabels": {APP_NAMESPACE_LABEL: "true"}}
    if skip_mtls_exceptions:
        selector["matchExpressions"] = [{"key": MTLS_EXCEPTION_LABEL, "operator": "DoesNotExist"}]
    return selector


def binding_object(rule: AdmissionRule) -> dict[str, Any]:
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": rule.name},
        "spec": {
            "policyName": rule.name,
            "validationActions": ["Deny"],
            "matchResources": {"namespaceSelector": app_namespace_selector(rule.skip_mtls_exceptions)},
        },
    }
