"""Helm values against the pinned charts: a value the chart does not know is reported with its path.

The rules run against miniature charts written for the tests (``fixtures/reference``); the real
stacks run against the charts' real values where the reference folder is present
(``shared/reference`` beside the repository, or ``PLATFORM_REFERENCE``).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from tests.resource_types import K8s
from tools import helm_values
from tools.findings import MANDATORY

FIXTURE = Path(__file__).parent / "fixtures" / "reference"


def problems(chart: str, values: dict, version: str = "9.9.9", root: Path = FIXTURE) -> dict[str, str]:
    return dict(helm_values.release_problems(root, chart, version, values, "1.33"))


def test_known_values_and_open_maps_pass():
    assert (
        problems(
            "istiod",
            {
                "replicaCount": 2,
                "env": {"ANY_NAME": "x"},
                "global": {"proxy": {"privileged": False}},
                "resources": {"requests": {"cpu": "1"}, "limits": {"memory": "1Gi"}},
            },
        )
        == {}
    )


def test_a_misspelled_value_path_is_reported_with_a_suggestion():
    found = problems("istiod", {"global": {"proxy": {"privilegd": False}}})
    assert found == {"global.proxy.privilegd": "not a value of the chart (did you mean 'privileged'?)"}


def test_values_are_checked_against_the_istio_defaults_wrapper_not_around_it():
    found = problems("istiod", {"_internal_defaults_do_not_set": {"replicaCount": 3}, "replicaCount": 3})
    assert list(found) == ["_internal_defaults_do_not_set"]


def test_the_istiod_pilot_section_is_checked_as_the_top_level():
    assert problems("istiod", {"pilot": {"replicaCount": 2, "env": {"X": "1"}}}) == {}
    found = problems("istiod", {"pilot": {"replicCount": 2}})
    assert found == {"pilot.replicCount": "not a value of the chart (did you mean 'replicaCount'?)"}


def test_a_mapping_where_the_chart_has_a_scalar_is_reported():
    found = problems("istiod", {"replicaCount": {"min": 1}})
    assert "expects int" in found["replicaCount"]


def test_istiod_renders_only_limits_and_requests_of_resources():
    found = problems("istiod", {"resources": {"claims": [{"name": "gpu"}]}})
    assert list(found) == ["resources.claims"]


@pytest.mark.parametrize(
    "mesh, path, text",
    [
        ({"accesLogFile": "/dev/stdout"}, "meshConfig.accesLogFile", "did you mean 'accessLogFile'"),
        (
            {"defaultConfig": {"holdApplicationUntilProxyStart": True}},
            "meshConfig.defaultConfig.holdApplicationUntilProxyStart",
            "unknown ProxyConfig field",
        ),
        (
            {"outboundTrafficPolicy": {"mode": "REGISTRY"}},
            "meshConfig.outboundTrafficPolicy.mode",
            "allowed REGISTRY_ONLY, ALLOW_ANY",
        ),
        ({"enablePrometheusMerge": "yes"}, "meshConfig.enablePrometheusMerge", "expected bool"),
        ({"extensionProviders": {"name": "otel"}}, "meshConfig.extensionProviders", "expected a list"),
    ],
)
def test_mesh_config_keys_enums_and_shapes_are_checked(mesh, path, text):
    found = problems("istiod", {"meshConfig": mesh})
    assert list(found) == [path] and text in found[path]
    assert problems("istiod", {"pilot": {"meshConfig": mesh}}).keys() == {"pilot." + path}


def test_mesh_config_accepts_proto_and_json_names_and_free_maps():
    mesh = {
        "access_log_file": "/dev/stdout",
        "outboundTrafficPolicy": {"mode": "REGISTRY_ONLY"},
        "defaultConfig": {"proxyMetadata": {"ANY_VARIABLE": "1"}},
        "extensionProviders": [{"name": "otel"}],
    }
    assert problems("istiod", {"meshConfig": mesh}) == {}


def test_values_schema_json_is_applied_to_the_merged_values():
    assert problems("gateway", {"autoscaling": {"minReplicas": 2}}) == {}
    found = problems("gateway", {"autoscaling": {"minReplicas": "2"}})
    assert found == {"autoscaling.minReplicas": "values.schema.json: '2' is not of type 'integer'"}


def test_sections_passed_through_as_kubernetes_types_are_checked_as_those_types():
    assert (
        problems(
            "sealed-secrets",
            {
                "containerSecurityContext": {
                    "enabled": True,
                    "readOnlyRootFilesystem": True,
                    "seccompProfile": {"type": "RuntimeDefault"},
                }
            },
        )
        == {}
    )
    found = problems("sealed-secrets", {"containerSecurityContext": {"runAsNonroot": True}})
    assert (
        list(found) == ["containerSecurityContext"]
        and "'runAsNonroot' was unexpected" in found["containerSecurityContext"]
    )


def test_list_sections_passed_through_as_kubernetes_types_are_checked_item_by_item():
    volume: dict[str, Any] = {
        "name": "tls",
        "csi": {"driver": "secrets-store.csi.k8s.io", "volumeAttributes": {"a": "b"}},
    }
    assert problems("gateway", {"volumes": [volume]}) == {}
    volume["csi"]["volumeAtributes"] = volume["csi"].pop("volumeAttributes")
    found = problems("gateway", {"volumes": [volume]})
    assert found == {"volumes[0].csi": "Additional properties are not allowed ('volumeAtributes' was unexpected)"}


def test_a_chart_version_without_reference_values_is_an_error():
    with pytest.raises(LookupError, match=r"chart istiod 1\.0\.0 has no reference values .*have: 9\.9\.9"):
        problems("istiod", {}, version="1.0.0")


class Release:
    def __init__(self, name: str, chart: str, version: object, values: dict):
        self.type, self.name, self.urn, self.custom = K8s.HELM_RELEASE, name, f"urn:{name}", True
        self.inputs = {"chart": chart, "version": version, "values": values}
        self.secret_paths: list[str] = []


def test_check_reports_findings_per_release(monkeypatch):
    monkeypatch.setenv("PLATFORM_REFERENCE", str(FIXTURE))
    findings, notes = helm_values.check(
        [
            Release("istiod", "istiod", "9.9.9", {"global": {"logAsJsn": True}}),
            Release("old", "istiod", "1.0.0", {}),
            Release("unpinned", "istiod", None, {}),
        ]
    )
    assert notes == []
    assert [(f.resource_name, f.path, f.level) for f in findings] == [
        ("istiod", "values.global.logAsJsn", MANDATORY),
        ("old", "version", MANDATORY),
        ("unpinned", "version", MANDATORY),
    ]


def test_without_a_reference_folder_the_releases_are_reported_unchecked(monkeypatch, tmp_path):
    monkeypatch.setenv("PLATFORM_REFERENCE", str(tmp_path))
    findings, notes = helm_values.check([Release("istiod", "istiod", "9.9.9", {})])
    assert findings == [] and notes == [
        (
            "helm-values: 1 Helm releases not checked: no chart reference folder "
            "(shared/reference/charts beside the repository, or PLATFORM_REFERENCE)"
        )
    ]


# --------------------------------------------------------------------------- the real charts

REAL = helm_values.reference_root()
needs_reference = pytest.mark.skipif(
    REAL is None, reason="chart reference data absent (shared/reference/charts beside the repo, or PLATFORM_REFERENCE)"
)


@needs_reference
def test_every_reference_chart_names_its_source():
    assert REAL is not None
    folders = [p for p in (REAL / "charts").glob("*/*") if p.is_dir()]
    assert folders
    for folder in folders:
        source = (folder / "SOURCE").read_text()
        for field in ("repository:", "tag:", "commit:", "path:"):
            assert field in source, f"{folder}/SOURCE has no {field}"


@needs_reference
@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_real_stacks_set_only_values_the_pinned_charts_know(stack_run, stack):
    findings, notes = helm_values.check(stack_run(stack).resources, "1.33")
    assert notes == []
    assert findings == [], "\n".join(map(str, findings))


@needs_reference
def test_a_typo_in_the_real_istiod_values_is_reported(stack_run):
    # One istiod release per revision (mesh-istiod-<revision>); prod runs a single revision.
    (istiod,) = [r for r in stack_run("prod").of_type(K8s.HELM_RELEASE) if r.name.startswith("mesh-istiod-")]
    release = copy.deepcopy(istiod)
    release.inputs["values"]["meshConfig"]["defaultConfig"]["holdApplicationUntilProxyStart"] = True
    release.inputs["values"]["global"]["proxy"]["privilegd"] = False
    findings, _ = helm_values.check([release], "1.33")
    assert sorted(f.path for f in findings) == [
        "values.global.proxy.privilegd",
        "values.meshConfig.defaultConfig.holdApplicationUntilProxyStart",
    ]
