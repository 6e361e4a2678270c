"""The preview checks Istio objects strictly against the CRDs, with the parsed schemas cached by file hash."""

from __future__ import annotations

import pytest

from tools import istio_schema
from tools.findings import MANDATORY

pytestmark = pytest.mark.skipif(
    not istio_schema.available(), reason="Istio CRD reference (shared/reference/istio-crds-*.yaml or ISTIO_CRDS) absent"
)


class Obj:
    """A recorded Kubernetes resource, as the preview sees it."""

    def __init__(self, inputs: dict, name: str = "obj"):
        self.type = f"kubernetes:{inputs['apiVersion']}:{inputs['kind']}"
        self.name, self.urn, self.custom = name, f"urn:{name}", True
        self.inputs = inputs
        self.secret_paths: list[str] = []


def peer_authentication(spec: dict) -> dict:
    meta = {"name": "default", "namespace": "istio-system"}
    return {"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication", "metadata": meta, "spec": spec}


def test_a_misspelled_field_of_a_security_policy_is_a_mandatory_finding():
    findings, notes = istio_schema.check([Obj(peer_authentication({"mTLS": {"mode": "STRICT"}}))])
    assert notes == []
    [f] = findings
    assert (f.source, f.level, f.path) == ("istio-schema", MANDATORY, "spec")
    assert "'mTLS' was unexpected" in f.message


def test_a_value_outside_the_enum_and_an_unknown_kind_are_findings():
    findings, _ = istio_schema.check(
        [
            Obj(peer_authentication({"mtls": {"mode": "STRICTER"}}), "pa"),
            Obj({"apiVersion": "security.istio.io/v1", "kind": "PeerAuthenticaton", "spec": {}}, "typo"),
        ]
    )
    assert [(f.resource_name, f.path) for f in findings] == [("pa", "spec.mtls.mode"), ("typo", "")]
    assert "not a kind of the Istio CRDs" in findings[1].message


def test_a_valid_object_has_no_finding():
    assert istio_schema.check([Obj(peer_authentication({"mtls": {"mode": "STRICT"}}))]) == ([], [])


def test_the_parsed_schemas_are_cached_by_the_files_hash(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    istio_schema._schemas.cache_clear()
    try:
        parsed = istio_schema._schemas()
        [cached] = (tmp_path / "platform-preview").glob("istio-crds-*.json")
        istio_schema._schemas.cache_clear()
        assert istio_schema._schemas() == parsed  # read back from the cache file
        cached.write_text("{not json")  # a broken cache is parsed again, never trusted
        istio_schema._schemas.cache_clear()
        assert istio_schema._schemas() == parsed
    finally:
        istio_schema._schemas.cache_clear()
        istio_schema._validator.cache_clear()
