"""The analyzer conversation with a real policy pack process, as the Pulumi engine holds it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.resource_types import Azure, K8s
from tools import analyzer_host as ah
from tools import wire
from tools.policy_config import PolicyConfig, PolicyConfigError, parse_policy_config, reconcile

FIXTURES = Path(__file__).parent / "fixtures"
PACK = FIXTURES / "policy_pack"
STACK_URN = "urn:pulumi:t::platform::pulumi:pulumi:Stack::platform-t"


@pytest.fixture(scope="module")
def host():
    """One pack process for the module (start-up costs a Python interpreter)."""
    h = ah.PolicyPackHost(PACK, project="platform", stack="t", config={"platform:environment": "t"}).start()
    yield h
    h.close()


def istiod(
    mode: str | None,
    urn: str = "urn:pulumi:t::platform::kubernetes:helm.sh/v3:Release::istiod",
    secret_values: bool = False,
) -> ah.AnalyzerResource:
    values = {"meshConfig": {"outboundTrafficPolicy": {"mode": mode}}} if mode else {}
    props = {"chart": "istiod", "version": "1.30.3", "namespace": "istio-system", "values": values}
    props = wire.encode(props, ["values"] if secret_values else [])
    return ah.AnalyzerResource(
        urn=urn, type=K8s.HELM_RELEASE, name="istiod", properties=props, parent=STACK_URN, protect=False
    )


def configure(host: ah.PolicyPackHost, config: dict) -> None:
    """Configure the pack as the preview does: the file's entries merged over the pack's defaults."""
    info = host.info()
    host.configure(reconcile(info.policies, parse_policy_config(config), initial=info.initial_config))


def rg(tags: dict) -> ah.AnalyzerResource:
    return ah.AnalyzerResource(
        urn="urn:pulumi:t::platform::azure-native:resources:ResourceGroup::rg",
        type=Azure.RESOURCE_GROUP,
        name="rg",
        properties={"location": "westeurope", "tags": tags},
        protect=True,
        ignore_changes=["tags.createdBy"],
    )


def test_get_analyzer_info_lists_the_policies_with_their_metadata(host):
    info = host.info()
    assert info.name == "fixture-pack"
    assert info.supports_config is True
    by_name = {p.name: p for p in info.policies}
    assert sorted(by_name) == ["fixture-istio-registry-only", "fixture-max-resources", "fixture-required-tags"]
    assert by_name["fixture-istio-registry-only"].policy_type == "resource"
    assert by_name["fixture-max-resources"].policy_type == "stack"
    assert by_name["fixture-istio-registry-only"].severity == "high"
    assert all(p.enforcement_level == "advisory" for p in info.policies)  # the pack's default level
    assert by_name["fixture-required-tags"].config_schema["properties"]["requiredTags"]["default"] == ["owner"]
    assert host.plugin_version  # GetPluginInfo answered with the SDK version


def test_the_merge_reads_the_policies_as_get_analyzer_info_describes_them(host):
    info = host.info()
    cfg = reconcile(
        info.policies,
        parse_policy_config(
            {"all": "mandatory", "fixture-required-tags": {"enforcementLevel": "advisory", "requiredTags": ["a"]}}
        ),
    )
    assert cfg["fixture-istio-registry-only"] == PolicyConfig("mandatory", None)
    assert cfg["fixture-required-tags"] == PolicyConfig("advisory", {"requiredTags": ["a"]})
    assert cfg["fixture-max-resources"] == PolicyConfig("mandatory", {"maxResources": 5000})
    with pytest.raises(PolicyConfigError) as e:
        reconcile(info.policies, parse_policy_config({"fixture-max-resources": {"maxResources": 0}}))
    assert e.value.problems == ["fixture-max-resources: maxResources: 0 is less than the minimum of 1"]


def test_analyze_reports_a_violation_for_a_bad_resource_at_the_configured_level(host):
    configure(host, {"fixture-istio-registry-only": "mandatory"})
    diags = host.analyze(istiod("ALLOW_ANY"))
    assert [(d.policy_name, d.enforcement_level, d.severity) for d in diags] == [
        ("fixture-istio-registry-only", "mandatory", "high")
    ]
    assert "mode is ALLOW_ANY" in diags[0].message
    assert diags[0].urn.endswith("::istiod")
    assert diags[0].policy_pack_name == "fixture-pack"


def test_analyze_passes_a_good_resource_and_sees_through_secret_wrappers(host):
    assert host.analyze(istiod("REGISTRY_ONLY")) == []
    # Secret inputs travel wrapped (KeepSecrets), the pack unwraps them and still judges the value.
    assert [d.policy_name for d in host.analyze(istiod("ALLOW_ANY", secret_values=True))] == [
        "fixture-istio-registry-only"
    ]


def test_configured_properties_reach_the_policy(host):
    configure(host, {"fixture-required-tags": {"requiredTags": ["owner", "costCenter"]}})
    diags = host.analyze(rg({"owner": "me"}))
    assert [(d.policy_name, d.enforcement_level) for d in diags] == [("fixture-required-tags", "advisory")]
    assert "missing tags: costCenter" in diags[0].message
    assert host.analyze(rg({"owner": "me", "costCenter": "cc"})) == []


def test_analyze_many_keeps_the_order_of_the_resources(host):
    configure(host, {})
    results = host.analyze_many(
        [
            istiod("REGISTRY_ONLY", urn=f"urn:x::good{i}") if i % 2 else istiod("ALLOW_ANY", urn=f"urn:x::bad{i}")
            for i in range(40)
        ]
    )
    assert [bool(r) for r in results] == [i % 2 == 0 for i in range(40)]
    assert results[4][0].urn == "urn:x::bad4"


def test_analyze_stack_reports_on_the_stack_when_no_resource_is_named(host):
    configure(host, {"fixture-max-resources": {"enforcementLevel": "mandatory", "maxResources": 1}})
    resources = [istiod("REGISTRY_ONLY"), rg({"owner": "me"})]
    diags = host.analyze_stack(resources, root_urn=STACK_URN)
    assert [(d.policy_name, d.enforcement_level, d.urn) for d in diags] == [
        ("fixture-max-resources", "mandatory", STACK_URN)
    ]
    assert "2 resources, more than 1" in diags[0].message


def test_close_stops_the_pack_process():
    h = ah.PolicyPackHost(PACK, project="platform", stack="t").start()
    proc = h.proc
    assert proc is not None and h.info().name == "fixture-pack"
    h.close()
    assert proc.poll() is not None
    assert h.proc is None


def test_a_pack_that_fails_to_start_reports_its_error(tmp_path):
    (tmp_path / "PulumiPolicy.yaml").write_text("runtime: python\n")
    (tmp_path / "__main__.py").write_text("raise SystemExit('broken pack: missing rules module')\n")
    with ah.PolicyPackHost(tmp_path, project="platform", stack="t") as h, pytest.raises(ah.PolicyPackError) as e:
        h.info()
    assert "broken pack: missing rules module" in str(e.value)


def test_the_pack_runs_with_its_own_virtualenv_when_it_exists(tmp_path):
    """As the engine: ``<pack>/<runtime.options.virtualenv>/bin/python``; the project's interpreter only as fallback."""
    import sys

    (tmp_path / "PulumiPolicy.yaml").write_text("runtime:\n  name: python\n  options:\n    virtualenv: venv\n")
    assert ah.pack_python(tmp_path)[0] == sys.executable
    (tmp_path / "venv" / "bin").mkdir(parents=True)
    (tmp_path / "venv" / "bin" / "python").symlink_to(sys.executable)
    assert ah.pack_python(tmp_path)[0] == str(tmp_path.resolve() / "venv" / "bin" / "python")
