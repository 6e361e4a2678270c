"""Kubernetes objects against the cluster minor's strict OpenAPI schema: unknown fields are errors."""

from __future__ import annotations

import copy

import pytest

from tools import k8s_schema
from tools.findings import ADVISORY, MANDATORY


class Obj:
    """A recorded Kubernetes resource, as the preview sees it."""

    def __init__(self, inputs: dict, name: str = "obj", secret_paths: tuple[str, ...] = ()):
        self.type = f"kubernetes:{inputs['apiVersion']}:{inputs['kind']}"  # the check reads only the prefix
        self.name, self.urn, self.custom = name, f"urn:{name}", True
        self.inputs, self.secret_paths = inputs, list(secret_paths)


def network_policy(**spec_fields) -> dict:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "deny-all", "namespace": "shop"},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"], **spec_fields},
    }


def test_each_minor_maps_to_the_newest_schema_shipped_for_it():
    versions = k8s_schema.schema_versions()
    assert versions["1.33"] == "v1.33.0-local-strict"
    assert k8s_schema.minor_of("1.33.2") == k8s_schema.minor_of("v1.33") == "1.33"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_real_stacks_emit_only_schema_valid_objects(stack_run, stack):
    findings, notes = k8s_schema.check(stack_run(stack).resources, "1.33")
    assert findings == [], "\n".join(map(str, findings))
    # The Secrets Store CSI driver's SecretProviderClass is a custom resource: named, not silently skipped.
    assert notes == [
        (
            "k8s-schema: 1 secrets-store.csi.x-k8s.io/v1 SecretProviderClass not checked: "
            "no schema for this custom resource in kubernetes-validate"
        )
    ]


def test_a_misspelled_field_is_reported_with_its_path():
    obj = network_policy(policyTyps=["Ingress"])
    assert k8s_schema.validate(obj, "1.33") == [
        ("spec", "Additional properties are not allowed ('policyTyps' was unexpected)")
    ]


def test_a_misspelled_nested_field_in_a_real_object_is_reported(stack_run):
    policy = copy.deepcopy(stack_run("prod").k8s_objects("NetworkPolicy")[0])
    policy.inputs["spec"]["ingress"] = [{"form": [{"podSelector": {}}]}]
    findings, _ = k8s_schema.check([policy], "1.33")
    assert [(f.path, f.message, f.level) for f in findings] == [
        ("spec.ingress[0]", "Additional properties are not allowed ('form' was unexpected)", MANDATORY)
    ]


def test_a_wrong_type_is_reported():
    problems = k8s_schema.validate(network_policy(ingress=[{"ports": [{"port": 443, "protocol": 6}]}]), "1.33")
    assert problems == [("spec.ingress[0].ports[0].protocol", "6 is not of type 'string', 'null'")]


def test_istio_objects_and_helm_releases_are_left_to_their_own_checks():
    istio = Obj({"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication", "spec": {"mtls": {"mod": 1}}})
    assert k8s_schema.check([istio], "1.33") == ([], [])


def test_an_unknown_minor_is_a_finding_not_a_crash():
    findings, _ = k8s_schema.check([Obj(network_policy())], "1.99")
    (finding,) = findings
    assert finding.level == MANDATORY
    assert "no schema for Kubernetes 1.99 (it ships 1.25" in finding.message


def test_an_unpinned_version_is_an_advisory_finding():
    (finding,), _ = k8s_schema.check([Obj(network_policy())], None)
    assert finding.level == ADVISORY and "cluster.kubernetesVersion is not set" in finding.message


def test_a_secret_value_is_never_shown():
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "tls"},
        "type": "kubernetes.io/tls",
        "stringData": {"tls.key": ["not", "a", "string"]},
    }
    (finding,), _ = k8s_schema.check([Obj(secret, secret_paths=("stringData",))], "1.33")
    assert finding.path == "stringData.tls.key" and "not" not in finding.message
