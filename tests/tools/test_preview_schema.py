"""The preview reports schema findings like policy violations, and a mandatory one makes it exit 1."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest

from tools import preview

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def typo_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("typos")
    stdout, stderr = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PLATFORM_REFERENCE", str(FIXTURES / "reference"))
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            code = preview.main(
                [
                    "--stack",
                    str(FIXTURES / "Pulumi.secrets.yaml"),
                    "--program",
                    str(FIXTURES / "typo_program.py"),
                    "--policy-pack",
                    str(FIXTURES / "policy_pack"),
                    "--out",
                    str(out),
                ]
            )
    return code, stdout.getvalue(), stderr.getvalue(), json.loads((out / "plan.json").read_text())


def test_a_typo_for_each_check_blocks_the_preview(typo_run):
    code, stdout, stderr, _ = typo_run
    assert code == preview.EXIT_VIOLATIONS, stderr
    assert "BLOCKED by mandatory policy violations (3 mandatory, 0 advisory)" in stdout


def test_findings_print_like_policy_violations_with_their_path(typo_run):
    _, stdout, _, _ = typo_run
    assert "[mandatory, high] azure-schema: Azure inputs match the azure-native provider schema" in stdout
    assert (
        "azure-native:keyvault:Vault  vault: properties.networkAcls.defaultActon: "
        "unknown property of NetworkRuleSetArgs (did you mean 'defaultAction'?)"
    ) in stdout
    assert (
        "kubernetes:helm.sh/v3:Release  istiod: values.global.logAsJsn: "
        "not a value of the chart (did you mean 'logAsJson'?)"
    ) in stdout
    assert (
        "kubernetes:networking.k8s.io/v1:NetworkPolicy  default-deny: spec: "
        "Additional properties are not allowed ('policyTyps' was unexpected)"
    ) in stdout


def test_plan_json_records_each_finding_with_its_source(typo_run):
    _, _, _, plan = typo_run
    found = {(v["source"], v["resourceName"], v["enforcementLevel"]) for v in plan["violations"]}
    assert found == {
        ("azure-schema", "vault", "mandatory"),
        ("helm-values", "istiod", "mandatory"),
        ("k8s-schema", "default-deny", "mandatory"),
    }
    assert plan["summary"]["mandatory"] == 3
    vault = next(r for r in plan["resources"] if r["name"] == "vault")
    assert vault["violations"] == 1
