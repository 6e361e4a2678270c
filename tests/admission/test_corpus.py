"""One corpus, two enforcement points: the policy pack at preview and the admission policies in the cluster.

Every corpus object goes through the pack via the analyzer (the engine's ``Analyze`` call, prod config) and
through the emitted ValidatingAdmissionPolicies' CEL, evaluated by cel-python as the API server would for a
CREATE in an app namespace. Both must name exactly the rules the corpus says the object breaks.
"""

from __future__ import annotations

import pytest

from components.admission_rules import admission_rules, binding_object, policy_object
from components.mesh_names import APP_NAMESPACE_LABEL, MTLS_EXCEPTION_LABEL
from tests.admission.cel_eval import admission_denials
from tests.admission.corpus import CORPUS, NS
from tests.policies.analyzer import analyze, report, violations

POLICIES = [policy_object(rule) for rule in admission_rules()]
BINDINGS = [binding_object(rule) for rule in admission_rules()]
# Rules judged on the object being created (the corpus); the default-deny guard judges changes to existing ones.
MIRRORED = {v.rule for rule in admission_rules() if "CREATE" in rule.operations for v in rule.validations}
APP_NAMESPACE = {
    "apiVersion": "v1",
    "kind": "Namespace",
    "metadata": {"name": NS, "labels": {APP_NAMESPACE_LABEL: "true"}},
}


def resource_type(obj: dict) -> str:
    api_version = obj["apiVersion"] if "/" in obj["apiVersion"] else f"core/{obj['apiVersion']}"
    return f"kubernetes:{api_version}:{obj['kind']}"


def pack_verdict(obj: dict) -> set[str]:
    diags = analyze(resource_type(obj), obj, "prod")
    return {d.policy for d in violations(diags)} & MIRRORED


def admission_verdict(obj: dict, namespace: dict = APP_NAMESPACE) -> set[str]:
    denials = admission_denials(POLICIES, BINDINGS, obj, namespace)
    assert not [d for d in denials if d.error], [d.error for d in denials if d.error]  # no expression errors
    return {d.rule for d in denials}


@pytest.mark.parametrize("name,build,expected", CORPUS, ids=[entry[0] for entry in CORPUS])
def test_pack_and_admission_agree(name, build, expected):
    obj = build()
    pack, admission = pack_verdict(obj), admission_verdict(obj)
    assert pack == set(expected), f"pack: {report(violations(analyze(resource_type(obj), obj, 'prod')))}"
    assert admission == set(expected), f"admission denied for {sorted(admission)}"


def test_corpus_is_large_and_covers_every_mirrored_rule():
    assert len(CORPUS) >= 25
    benign = [name for name, _, expected in CORPUS if not expected]
    assert len(benign) >= 10 and len(CORPUS) - len(benign) >= 15
    covered = set().union(*(expected for _, _, expected in CORPUS))
    assert covered == MIRRORED, f"no corpus object breaks {MIRRORED - covered}"


def test_every_validation_denies_some_corpus_object():
    """A validation that never fires on the corpus is untested (or dead)."""
    fired: set[str] = set()
    for policy in POLICIES:
        for _, build, _ in CORPUS:
            from tests.admission.cel_eval import evaluate_policy, matches

            obj = build()
            if matches(policy, obj):
                fired |= {d.message for d in evaluate_policy(policy, obj, APP_NAMESPACE)}
    on_create = [p for p in POLICIES if "CREATE" in p["spec"]["matchConstraints"]["resourceRules"][0]["operations"]]
    every = {v["message"] for p in on_create for v in p["spec"]["validations"]}
    assert every == fired, every - fired


def test_outside_app_namespaces_admission_does_not_apply():
    other = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "istio-ingress", "labels": {}}}
    gateway = next(build for name, build, _ in CORPUS if name == "gateway")()
    assert admission_verdict(gateway, other) == set()


def test_mtls_exception_namespace_skips_only_the_strict_check():
    labels = {APP_NAMESPACE_LABEL: "true", MTLS_EXCEPTION_LABEL: "true"}
    excepted = {**APP_NAMESPACE, "metadata": {"name": NS, "labels": labels}}
    permissive = next(build for name, build, _ in CORPUS if name == "peer-auth-permissive")()
    privileged = next(build for name, build, _ in CORPUS if name == "privileged")()
    assert admission_verdict(permissive, excepted) == set()
    assert admission_verdict(privileged, excepted) == {"k8s-no-privileged-containers"}


ALLOW_NOTHING = {
    "apiVersion": "security.istio.io/v1",
    "kind": "AuthorizationPolicy",
    "metadata": {"name": "allow-nothing", "namespace": NS},
    "spec": {},
}
TERMINATING = {**APP_NAMESPACE, "status": {"phase": "Terminating"}}


@pytest.mark.parametrize(
    "operation,obj,old,namespace,denied",
    [
        ("DELETE", None, ALLOW_NOTHING, APP_NAMESPACE, True),
        ("DELETE", None, ALLOW_NOTHING, TERMINATING, False),  # the namespace controller empties the namespace
        ("DELETE", None, {**ALLOW_NOTHING, "metadata": {"name": "allow-storefront"}}, APP_NAMESPACE, False),
        ("UPDATE", {**ALLOW_NOTHING, "spec": {"action": "ALLOW", "rules": [{}]}}, ALLOW_NOTHING, APP_NAMESPACE, True),
        ("UPDATE", {**ALLOW_NOTHING, "spec": {"action": "DENY", "rules": [{}]}}, ALLOW_NOTHING, APP_NAMESPACE, True),
        ("UPDATE", ALLOW_NOTHING, ALLOW_NOTHING, APP_NAMESPACE, False),  # the platform re-applies it unchanged
    ],
    ids=["delete", "delete-in-terminating-namespace", "delete-other", "loosen", "replace", "reapply"],
)
def test_the_default_deny_policy_stays(operation, obj, old, namespace, denied):
    denials = admission_denials(POLICIES, BINDINGS, obj, namespace, operation, old)
    assert not [d for d in denials if d.error], [d.error for d in denials if d.error]
    assert ("istio-namespace-default-deny" in {d.rule for d in denials}) is denied, denials
