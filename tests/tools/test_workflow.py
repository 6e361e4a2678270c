"""The CI workflow users get: tests, the offline preview, and OIDC-authenticated previews and deploys."""

from __future__ import annotations

import pytest
import yaml

from tools.program_runner import ROOT


@pytest.fixture(scope="module")
def workflow() -> dict:
    return yaml.safe_load((ROOT / ".github" / "workflows" / "platform.yml").read_text())


def _uses(job: dict, action: str) -> list[dict]:
    return [s for s in job["steps"] if str(s.get("uses", "")).startswith(action + "@")]


def test_pull_requests_run_tests_and_the_offline_preview_for_dev_and_prod(workflow):
    on = workflow[True] if True in workflow else workflow["on"]  # YAML 1.1 reads a bare `on` as true
    assert "pull_request" in on and on["push"]["branches"] == ["main"]
    jobs = workflow["jobs"]
    assert any(s.get("run") == "make test" for s in jobs["test"]["steps"])
    offline = jobs["offline-preview"]
    assert offline["strategy"]["matrix"]["stack"] == ["dev", "prod"]
    assert any(s.get("run") == "make plan STACK=${{ matrix.stack }}" for s in offline["steps"])
    [upload] = _uses(offline, "actions/upload-artifact")
    assert upload["with"]["path"] == "out/${{ matrix.stack }}/" and upload["if"] == "always()"
    assert workflow["permissions"] == {"contents": "read"}  # least privilege by default


@pytest.mark.parametrize("name", ["preview", "up-dev", "up-prod"])
def test_cloud_jobs_use_azure_oidc_and_the_policy_pack(workflow, name):
    job = workflow["jobs"][name]
    assert job["permissions"]["id-token"] == "write"
    assert job["env"]["ARM_USE_OIDC"] == "true"
    [login] = _uses(job, "azure/login")
    assert set(login["with"]) == {"client-id", "tenant-id", "subscription-id"}
    assert "client-secret" not in str(job)
    [pulumi] = _uses(job, "pulumi/actions")
    assert pulumi["uses"] == "pulumi/actions@v6"
    assert pulumi["with"]["policyPacks"] == "policies"
    assert pulumi["with"]["policyPackConfigs"].startswith("policies/config/")
    assert pulumi["with"]["stack-name"].startswith("${{ vars.PULUMI_ORG }}/platform/")


def test_previews_on_pull_requests_and_prod_deploys_behind_an_approved_environment(workflow):
    jobs = workflow["jobs"]
    preview = jobs["preview"]
    assert preview["if"].startswith("github.event_name == 'pull_request'")
    stacks = {m["stack"]: m["policy-config"] for m in preview["strategy"]["matrix"]["include"]}
    assert stacks == {"nonprod-keys": "dev.json", "dev": "dev.json", "prod": "prod.json"}
    assert _uses(preview, "pulumi/actions")[0]["with"]["command"] == "preview"
    assert jobs["up-dev"]["strategy"]["matrix"]["stack"] == ["nonprod-keys", "dev"]
    assert "refs/heads/main" in jobs["up-dev"]["if"]
    prod = jobs["up-prod"]
    assert prod["environment"] == "production" and prod["needs"] == ["up-dev"]
    assert _uses(prod, "pulumi/actions")[0]["with"] == {
        "command": "up", "stack-name": "${{ vars.PULUMI_ORG }}/platform/prod", "policyPacks": "policies",
        "policyPackConfigs": "policies/config/prod.json"}
