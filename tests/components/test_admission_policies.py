"""AdmissionPolicies: the emitted ValidatingAdmissionPolicies and bindings, as the API server would receive them.

What the CEL decides is tested on the shared corpus (tests/admission/); here: the objects are valid against the
Kubernetes OpenAPI schema of the stacks' minor and of the first minor with VAP v1, bound to app namespaces only,
deny on failure, and are what the program registers.
"""

from __future__ import annotations

import pytest

from components.admission_rules import admission_rules, binding_object, policy_object
from tests.conftest import cached_stack_run, k8s_manifest
from tests.resource_types import K8s
from tools import k8s_schema
from tools.program_runner import ProgramRun

OBJECTS = [obj for rule in admission_rules() for obj in (policy_object(rule), binding_object(rule))]


@pytest.fixture(scope="module")
def prod() -> ProgramRun:
    return cached_stack_run("prod")


@pytest.mark.parametrize("version", ["1.30", "1.33"])  # VAP v1 is GA from 1.30; the stacks pin 1.33
@pytest.mark.parametrize("obj", OBJECTS, ids=lambda o: f"{o['kind']}/{o['metadata']['name']}")
def test_objects_are_valid_against_the_kubernetes_schema(obj, version):
    assert k8s_schema.validate(obj, version) == []


def test_a_misspelled_field_would_be_caught():
    binding = binding_object(admission_rules()[0])
    binding["spec"]["validationAction"] = binding["spec"].pop("validationActions")
    assert any("validationAction" in problem for _, problem in k8s_schema.validate(binding, "1.33"))


def test_program_registers_every_policy_with_its_binding(prod):
    policies = {r.get("metadata.name"): k8s_manifest(r) for r in prod.of_type(K8s.VALIDATING_ADMISSION_POLICY)}
    bindings = {r.get("metadata.name"): k8s_manifest(r) for r in prod.of_type(K8s.VALIDATING_ADMISSION_POLICY_BINDING)}
    expected = {rule.name: (policy_object(rule), binding_object(rule)) for rule in admission_rules()}
    assert set(policies) == set(bindings) == set(expected)
    for name, (policy, binding) in expected.items():
        assert policies[name]["spec"] == policy["spec"], name
        assert bindings[name]["spec"] == binding["spec"], name


def test_bindings_deny_in_app_namespaces_only(prod):
    for r in prod.of_type(K8s.VALIDATING_ADMISSION_POLICY_BINDING):
        spec = r.get("spec")
        assert spec["validationActions"] == ["Deny"]
        selector = spec["matchResources"]["namespaceSelector"]
        assert selector["matchLabels"] == {"platform.contoso.com/app-namespace": "true"}
    for r in prod.of_type(K8s.VALIDATING_ADMISSION_POLICY):
        assert r.get("spec.failurePolicy") == "Fail"
        # Every validation names the pack rule it mirrors.
        assert all(v["message"].split(":")[0].startswith(("k8s-", "istio-")) for v in r.get("spec.validations"))


def test_the_platforms_own_app_namespace_objects_pass_admission(prod):
    """What the platform itself creates in app namespaces must pass the policies it installs there."""
    from tests.admission.cel_eval import RESOURCES, admission_denials

    policies = [policy_object(rule) for rule in admission_rules()]
    bindings = [binding_object(rule) for rule in admission_rules()]
    namespaces = {
        r.get("metadata.name"): k8s_manifest(r)
        for r in prod.of_type(K8s.NAMESPACE)
        if r.get("metadata.labels", {}).get("platform.contoso.com/app-namespace") == "true"
    }
    checked = 0
    for r in prod.resources:
        obj = k8s_manifest(r)
        if r.type.startswith("kubernetes:") and obj.get("kind") in RESOURCES:
            ns = namespaces.get(obj["metadata"].get("namespace"))
            if ns is not None:
                assert admission_denials(policies, bindings, obj, ns) == [], r.urn
                checked += 1
    assert checked >= 2  # at least the allow-nothing policies
