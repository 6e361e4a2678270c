"""The offline preview end to end: program under mocks, pack over the analyzer protocol, plan out."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.resource_types import Azure, K8s
from tools import preview
from tools.program_runner import ROOT

FIXTURES = Path(__file__).parent / "fixtures"
PACK = FIXTURES / "policy_pack"
PROGRAM = FIXTURES / "program.py"
REAL_PACK = ROOT / "policies"
CIPHERTEXTS = (
    "v1:Zml4dHVyZS1jZXJ0aWZpY2F0ZS1jaXBoZXJ0ZXh0LW5vdC1hLXJlYWwtb25l",
    "v1:Zml4dHVyZS1wcml2YXRlLWtleS1jaXBoZXJ0ZXh0LW5vdC1hLXJlYWwtb25l",
)


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str
    out: Path

    @property
    def plan(self) -> dict:
        return json.loads((self.out / "plan.json").read_text())

    def manifests(self) -> dict[str, dict]:
        return {
            str(p.relative_to(self.out)): yaml.safe_load(p.read_text())
            for p in sorted((self.out / "manifests").rglob("*.yaml"))
        }


def run_preview(out: Path, *args: str) -> Result:
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = preview.main([*args, "--out", str(out)])
    return Result(code, stdout.getvalue(), stderr.getvalue(), out)


def run_fixture_program(out: Path, stack_file: str) -> Result:
    """The fixture program with a fixture stack file, checked by the fixture pack."""
    return run_preview(
        out, "--stack", str(FIXTURES / stack_file), "--program", str(PROGRAM), "--policy-pack", str(PACK)
    )


@pytest.fixture(scope="module")
def outdir(tmp_path_factory):
    return tmp_path_factory.mktemp("preview")


@pytest.fixture(scope="module")
def secrets_run(outdir):
    return run_fixture_program(outdir / "secrets", "Pulumi.secrets.yaml")


@pytest.fixture(scope="module")
def insecure_run(outdir):
    return run_fixture_program(outdir / "insecure", "Pulumi.insecure.yaml")


def test_a_clean_stack_exits_zero_and_prints_the_plan(secrets_run):
    r = secrets_run
    assert r.code == preview.EXIT_OK, r.stderr
    assert "OK: no mandatory policy violation (0 mandatory, 0 advisory)" in r.stdout
    for section in ("Resources\n", "Resources by type\n", "Outputs\n"):
        assert section in r.stdout
    assert "+ kubernetes:helm.sh/v3:Release  istiod  [provider: k8s]" in r.stdout
    assert "rg  [protect; ignoreChanges: tags.createdBy]" in r.stdout


def test_the_insecure_stack_exits_non_zero_naming_the_policy(insecure_run):
    r = insecure_run
    assert r.code == preview.EXIT_VIOLATIONS
    assert "[mandatory, high] fixture-istio-registry-only" in r.stdout
    assert "kubernetes:helm.sh/v3:Release  istiod: meshConfig.outboundTrafficPolicy.mode is ALLOW_ANY" in r.stdout
    assert "BLOCKED by mandatory policy violations (1 mandatory, 0 advisory)" in r.stdout
    [v] = r.plan["violations"]
    assert (v["policy"], v["enforcementLevel"], v["resourceName"]) == (
        "fixture-istio-registry-only",
        "mandatory",
        "istiod",
    )
    assert r.plan["policyPack"]["config"].endswith("policy_pack/config/dev.json")  # nonprod -> dev.json


def test_secure_values_show_as_placeholders_and_secrets_never_leave(secrets_run):
    r = secrets_run
    plan = r.plan
    assert (
        plan["config"]["platform:ingressTlsPrivateKey"]
        == "[placeholder for secure value of platform:ingressTlsPrivateKey]"
    )
    assert plan["secretConfigKeys"] == ["platform:ingressTlsCertificate", "platform:ingressTlsPrivateKey"]
    secret = next(x for x in plan["resources"] if x["type"] == K8s.SECRET)
    assert secret["secretPaths"] == ["stringData"]
    assert secret["inputs"]["stringData"] == {"tls.crt": "[secret]", "tls.key": "[secret]"}
    assert plan["outputs"]["kubeconfig"] == "[secret]"
    assert "kubeconfig: [secret]" in r.stdout
    manifest = r.manifests()["manifests/istio-system/secret-ingress-tls.yaml"]
    assert manifest["stringData"] == {"tls.crt": "[secret]", "tls.key": "[secret]"}
    everything = r.stdout + r.stderr + "".join(p.read_text() for p in r.out.rglob("*") if p.is_file())
    for forbidden in CIPHERTEXTS + ("fixture-secret-kubeconfig-value",):
        assert forbidden not in everything
    # The placeholder reaches the program (as config) but, being secret there, never an output file's resource.
    assert "placeholder for secure value" not in json.dumps(plan["resources"])


def test_plan_records_options_dependencies_and_providers(secrets_run):
    res = {(x["type"], x["name"]): x for x in secrets_run.plan["resources"]}
    rg = res[(Azure.RESOURCE_GROUP, "rg")]
    assert rg["protect"] is True and rg["ignoreChanges"] == ["tags.createdBy"]
    assert rg["provider"] == "urn:pulumi:secrets::platform::pulumi:providers:azure-native::default_3_29_0"
    assert res[("pulumi:providers:azure-native", "default_3_29_0")]["inputs"] == {
        "location": "westeurope",
        "version": "3.29.0",
    }
    istiod = res[(K8s.HELM_RELEASE, "istiod")]
    assert istiod["dependencies"] == [
        "urn:pulumi:secrets::platform::pulumi:pulumi:Stack$kubernetes:core/v1:Namespace::istio-system"
    ]
    assert istiod["provider"].endswith("pulumi:providers:kubernetes::k8s")
    assert istiod["parent"] == secrets_run.plan["rootUrn"]
    assert secrets_run.plan["resources"][0]["type"] == "pulumi:pulumi:Stack"


def test_manifests_are_yaml_objects_with_kind_and_name(secrets_run, insecure_run):
    for r in (secrets_run, insecure_run):
        docs = r.manifests()
        assert docs and sorted(docs) == sorted(r.plan["manifests"])
        for path, doc in docs.items():
            assert doc["apiVersion"] and doc["kind"] and doc["metadata"]["name"], path
    docs = secrets_run.manifests()
    assert docs["manifests/_cluster/namespace-istio-system.yaml"]["metadata"]["labels"] == {"istio.io/rev": "default"}
    release = docs["manifests/istio-system/helmrelease-istiod.yaml"]
    assert release["spec"]["chart"] == "istiod" and release["spec"]["version"] == "1.30.3"
    assert release["spec"]["repositoryOpts"]["repo"] == "https://istio-release.storage.googleapis.com/charts"
    assert release["spec"]["values"]["meshConfig"]["outboundTrafficPolicy"]["mode"] == "REGISTRY_ONLY"
    assert docs["manifests/istio-system/peerauthentication-default.yaml"]["spec"] == {"mtls": {"mode": "STRICT"}}


def test_plan_json_is_identical_across_runs(secrets_run, outdir):
    again = run_fixture_program(outdir / "secrets-again", "Pulumi.secrets.yaml")
    assert again.code == 0
    assert (again.out / "plan.json").read_text() == (secrets_run.out / "plan.json").read_text()


def test_invalid_stack_config_prints_every_problem_and_exits_2(tmp_path):
    bad = (ROOT / "Pulumi.dev.yaml").read_text().replace("environmentClass: nonprod", "environmentClass: staging")
    (tmp_path / "Pulumi.bad.yaml").write_text(bad.replace("skuTier: Free", "skuTier: Gold"))
    r = run_preview(tmp_path / "out", "--stack", str(tmp_path / "Pulumi.bad.yaml"), "--policy-pack", str(PACK))
    assert r.code == preview.EXIT_CONFIG
    assert "environmentClass: got 'staging'" in r.stderr
    assert "cluster.skuTier" in r.stderr
    assert not (tmp_path / "out" / "plan.json").exists()


def test_a_failing_program_exits_3_with_its_traceback(tmp_path):
    (tmp_path / "prog.py").write_text("raise RuntimeError('boom in the program')\n")
    r = run_preview(
        tmp_path / "out", "--stack", "dev", "--program", str(tmp_path / "prog.py"), "--policy-pack", str(PACK)
    )
    assert r.code == preview.EXIT_ERROR
    assert "boom in the program" in r.stderr


def test_a_missing_pack_or_a_bad_policy_config_is_reported(tmp_path):
    r = run_preview(tmp_path / "a", "--stack", "dev", "--policy-pack", str(tmp_path / "nowhere"))
    assert r.code == preview.EXIT_ERROR and "no policy pack at" in r.stderr
    (tmp_path / "bad.json").write_text('{"fixture-istio-registry-only": "strict"}')
    r = run_preview(
        tmp_path / "b",
        "--stack",
        "dev",
        "--program",
        str(PROGRAM),
        "--policy-pack",
        str(PACK),
        "--policy-config",
        str(tmp_path / "bad.json"),
    )
    assert r.code == preview.EXIT_CONFIG and "'strict' is not a valid enforcement level" in r.stderr


def test_prod_uses_prod_json_where_everything_is_mandatory(tmp_path):
    r = run_preview(
        tmp_path / "p",
        "--stack",
        "prod",
        "--program",
        str(PROGRAM),
        "--policy-pack",
        str(PACK),
        "--policy-config",
        str(PACK / "config" / "prod.json"),
    )
    assert r.code == 0, r.stdout + r.stderr
    levels = {p["name"]: p["enforcementLevel"] for p in r.plan["policyPack"]["policies"]}
    assert set(levels.values()) == {"mandatory"}
    assert preview.default_policy_config(PACK, "prod") == PACK / "config" / "prod.json"
    assert preview.default_policy_config(PACK, "nonprod") == PACK / "config" / "dev.json"


def test_the_command_line_exit_code(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "tools.preview",
            "--stack",
            str(FIXTURES / "Pulumi.insecure.yaml"),
            "--program",
            str(PROGRAM),
            "--policy-pack",
            str(PACK),
            "--out",
            str(tmp_path),
            "--quiet",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout.startswith("BLOCKED by mandatory policy violations")


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_real_program_previews_cleanly(stack, outdir):
    """The real __main__.py with the real pack once it exists (the fixture pack until then)."""
    pack = REAL_PACK if (REAL_PACK / "__main__.py").exists() else PACK
    r = run_preview(outdir / f"real-{stack}", "--stack", stack, "--policy-pack", str(pack))
    assert r.code == 0, r.stdout[-3000:] + r.stderr[-3000:]
    for path, doc in r.manifests().items():
        assert doc["apiVersion"] and doc["kind"] and doc["metadata"]["name"], path
    assert r.plan["outputs"].get("kubeconfig", "[secret]") == "[secret]"


@pytest.mark.skipif(not (REAL_PACK / "__main__.py").exists(), reason="the real policy pack has not landed")
def test_the_insecure_stack_is_blocked_by_the_real_pack(outdir):
    r = run_preview(
        outdir / "real-insecure", "--stack", str(FIXTURES / "Pulumi.insecure.yaml"), "--policy-pack", str(REAL_PACK)
    )
    assert r.code == preview.EXIT_VIOLATIONS, r.stdout[-3000:] + r.stderr[-3000:]
    assert any(
        "ALLOW_ANY" in v["message"] or "REGISTRY_ONLY" in v["message"]
        for v in r.plan["violations"]
        if v["enforcementLevel"] == "mandatory"
    )
