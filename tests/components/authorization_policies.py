"""Istio AuthorizationPolicy (and gateway RequestAuthentication) semantics for tests: is this request allowed.

Tests check what the policies MEAN, not only their shape; nothing here reuses the components' builders
(components/ingress_specs.py, components/app_namespaces.py), so a builder bug shows. What the evaluator does not
model (CUSTOM/AUDIT actions, targetRefs, other attributes or condition keys) fails the test instead of being ignored.
Istio semantics (istio.io/latest/docs/reference/config/security/authorization-policy/): a matching DENY denies;
with no ALLOW policy everything is allowed; otherwise some rule of some ALLOW policy must match (a policy with no
rules matches nothing). Strings match exactly, as "*", as a prefix "abc*" or a suffix "*abc"; hosts ignore case.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tests.components.network_policies import INGRESS_POD

# The ingress gateway pods' label the gateway's policies select (the chart's `istio: ingressgateway`).
INGRESS_GATEWAY_LABELS = INGRESS_POD.label_map

_CLAIM_KEY = "request.auth.claims["


@dataclass(frozen=True)
class Request:
    """A request reaching a workload: peer identity (None for plaintext), method and path; at a gateway also the
    Host, port, and the validated JWT's principal ("iss/sub") and claims. An attribute a policy needs but the
    request does not carry (None) fails the test: the evaluator never guesses it."""

    principal: str | None
    method: str = "GET"
    path: str = "/"
    host: str | None = None
    port: int | None = None
    request_principal: str | None = None
    claims: Mapping[str, Any] | None = None  # None: no validated JWT

    @property
    def namespace(self) -> str | None:
        if self.principal is None:
            return None
        parts = self.principal.split("/")
        return parts[parts.index("ns") + 1] if "ns" in parts else None


def _str_match(pattern: str, value: str) -> bool:
    if pattern == "*":
        return True
    if pattern.startswith("*"):
        return value.endswith(pattern[1:])
    if pattern.endswith("*"):
        return value.startswith(pattern[:-1])
    return value == pattern


def _match(patterns: Sequence[str], value: str | None) -> bool:
    return value is not None and any(_str_match(p, value) for p in patterns)


def _fields_match(spec: Mapping[str, Any], values: Mapping[str, str | None], what: str) -> bool:
    """``spec``'s positive fields must match, its ``not*`` fields must not; unknown fields fail the test."""
    negated = {f"not{name[0].upper()}{name[1:]}": name for name in values}
    unsupported = set(spec) - set(values) - set(negated)
    assert not unsupported, f"the evaluator does not model {what} {unsupported}"
    for key, patterns in spec.items():
        name = negated.get(key, key)
        value = values[name]
        if value is None and name not in ("principals", "namespaces", "requestPrincipals"):
            raise AssertionError(f"the request carries no {name} for {what} {key}")
        if _match(patterns, value) != (key == name):
            return False
    return True


def _source_matches(source: Mapping[str, Any], req: Request) -> bool:
    values = {"principals": req.principal, "namespaces": req.namespace, "requestPrincipals": req.request_principal}
    return _fields_match(source, values, "source")


def _operation_matches(op: Mapping[str, Any], req: Request) -> bool:
    values = {
        "hosts": None if req.host is None else req.host.lower(),
        "methods": req.method,
        "paths": req.path,
        "ports": None if req.port is None else str(req.port),
    }
    lowered = {k: [p.lower() for p in v] if k in ("hosts", "notHosts") else v for k, v in op.items()}
    return _fields_match(lowered, values, "operation")


def _condition_matches(cond: Mapping[str, Any], req: Request) -> bool:
    assert set(cond) <= {"key", "values", "notValues"}, f"the evaluator does not model {cond}"
    key = cond["key"]
    assert key.startswith(_CLAIM_KEY) and key.endswith("]"), f"the evaluator models only JWT claims, not {key}"
    assert req.claims is not None, f"{key} on a request without a JWT: the evaluator does not guess it"
    present = req.claims.get(key[len(_CLAIM_KEY) : -1])
    values = present if isinstance(present, list) else ([] if present is None else [present])
    if "values" in cond and not any(_str_match(p, v) for p in cond["values"] for v in values):
        return False
    return "notValues" not in cond or not any(_str_match(p, v) for p in cond["notValues"] for v in values)


def _rule_matches(rule: Mapping[str, Any], req: Request) -> bool:
    assert set(rule) <= {"from", "to", "when"}, f"the evaluator does not model {set(rule)}"
    if "from" in rule and not any(_source_matches(f["source"], req) for f in rule["from"]):
        return False
    if "to" in rule and not any(_operation_matches(t["operation"], req) for t in rule["to"]):
        return False
    return all(_condition_matches(c, req) for c in rule.get("when", []))


def _applies(spec: Mapping[str, Any], workload: Mapping[str, str] | None) -> bool:
    """Whether a policy in the workload's namespace selects it (``workload=None``: namespace-wide policies only)."""
    assert "targetRef" not in spec and "targetRefs" not in spec, "the evaluator does not model targetRefs"
    selector = spec.get("selector")
    if workload is None:
        assert selector is None, "namespace-wide policies only"
        return True
    if selector is None:
        return True
    assert set(selector) == {"matchLabels"}, f"the evaluator does not model {selector}"
    return all(workload.get(k) == v for k, v in selector["matchLabels"].items())


def istio_allows(
    policies: Sequence[Mapping[str, Any]], req: Request, workload: Mapping[str, str] | None = None
) -> bool:
    """Istio's decision for the workload labelled ``workload`` under ``policies`` (objects with a ``spec``)."""
    specs = [s for s in ((p.get("spec") or {}) for p in policies) if _applies(s, workload)]
    for spec in specs:
        assert spec.get("action", "ALLOW") in ("ALLOW", "DENY"), f"the evaluator does not model {spec['action']}"
    denies = [s for s in specs if s.get("action") == "DENY"]
    if any(_rule_matches(r, req) for s in denies for r in s.get("rules", [])):
        return False
    allows = [s for s in specs if s.get("action", "ALLOW") == "ALLOW"]
    if not allows:
        return True
    return any(_rule_matches(r, req) for s in allows for r in s.get("rules", []))


def gateway_status(
    objects: Sequence[Mapping[str, Any]],
    host: str,
    path: str = "/",
    token: Mapping[str, Any] | None = None,
    port: int = 443,
    workload: Mapping[str, str] = INGRESS_GATEWAY_LABELS,
) -> int:
    """HTTP status the gateway answers: 401 bad token, 403 denied, 200 routed (on port 80: the 301).

    ``objects``: the RequestAuthentication and AuthorizationPolicy objects in the gateway's namespace; ``token``:
    ``{"iss", "sub", "aud": [...], "claims": {...}}`` or None for a request without one.
    """
    assert all(o["metadata"]["namespace"] == INGRESS_POD.namespace for o in objects), "the gateway's objects only"
    request_principal, claims = None, None
    if token is not None:
        rules = [
            r
            for o in objects
            if o["kind"] == "RequestAuthentication" and _applies(o["spec"], workload)
            for r in o["spec"]["jwtRules"]
        ]
        rule = next((r for r in rules if r["issuer"] == token["iss"]), None)
        if rule is None or not set(rule["audiences"]) & set(token["aud"]):
            return 401  # a token that fails validation is rejected outright
        request_principal, claims = f"{token['iss']}/{token['sub']}", token.get("claims", {})
    policies = [o for o in objects if o["kind"] == "AuthorizationPolicy"]
    # External clients have no mesh identity: the peer principal is absent.
    req = Request(None, path=path, host=host, port=port, request_principal=request_principal, claims=claims)
    return 200 if istio_allows(policies, req, workload) else 403
