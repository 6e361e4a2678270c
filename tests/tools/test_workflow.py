"""The CI workflow users get: credential-free pull requests, credentialed deploys on main only, pinned tools.

Each rule is a function that lists the problems it finds in a parsed workflow. The shipped workflow must have
none, and each rule is shown to catch its violation in a copy of the workflow with that one thing changed.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW_FILE = ROOT / ".github" / "workflows" / "platform.yml"
Workflow = dict[Any, Any]  # YAML 1.1 reads the `on` key as True, so keys are not all strings

SHA_PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")
MAIN_ONLY = re.compile(r"github\.ref\s*==\s*'refs/heads/main'")
NOT_A_PULL_REQUEST = re.compile(r"github\.event_name\s*(!=\s*'pull_request'|==\s*'(push|workflow_dispatch)')")
EXACT_VERSION = re.compile(r"^\d+\.\d+\.\d+$")


def stack_files() -> dict[str, dict]:
    """Every Pulumi.<stack>.yaml, by stack name: the list CI must cover comes from the files themselves."""
    return {
        p.name[len("Pulumi.") : -len(".yaml")]: yaml.safe_load(p.read_text())["config"]
        for p in sorted(ROOT.glob("Pulumi.*.yaml"))
    }


def load_workflow() -> Workflow:
    return yaml.safe_load(WORKFLOW_FILE.read_text())


def triggers(workflow: Workflow) -> dict:
    on = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` key as the boolean true
    return {name: None for name in on} if isinstance(on, list) else dict(on or {})


def main_only(job: dict) -> bool:
    """The job's own `if` limits it to main and excludes pull requests, with no `||` to widen it again."""
    condition = str(job.get("if", ""))
    return bool(MAIN_ONLY.search(condition) and NOT_A_PULL_REQUEST.search(condition)) and "||" not in condition


def pull_request_jobs(workflow: Workflow) -> dict[str, dict]:
    if "pull_request" not in triggers(workflow):
        return {}
    return {name: job for name, job in workflow["jobs"].items() if not main_only(job)}


def steps(job: dict) -> list[dict]:
    return list(job.get("steps") or [])


def runs(job: dict) -> list[str]:
    return [str(s["run"]) for s in steps(job) if "run" in s]


def uses(job: dict, action: str) -> list[dict]:
    return [s for s in steps(job) if str(s.get("uses", "")).split("@")[0].lower() == action.lower()]


def pulumi_commands(job: dict) -> list[str]:
    """Every `pulumi preview|up` the job runs, as a command line (pulumi/actions inputs spelled as flags)."""
    commands = [r for r in runs(job) if re.search(r"\bpulumi (up|update|preview)\b", r)]
    for step in uses(job, "pulumi/actions"):
        given = step.get("with") or {}
        if given.get("command"):
            commands.append(
                " ".join(
                    [
                        f"pulumi {given['command']} --stack {given.get('stack-name', '')}",
                        "--refresh" if str(given.get("refresh")).lower() == "true" else "",
                        f"--policy-pack {given['policyPacks']}" if given.get("policyPacks") else "",
                    ]
                )
            )
    return commands


def deployed_stacks(job: dict) -> list[str]:
    """The stacks a job runs `pulumi up` on: its PULUMI_STACK or --stack, expanded over a stack matrix."""
    ups = [c for c in pulumi_commands(job) if re.search(r"\bpulumi (up|update)\b", c)]
    if not ups:
        return []
    named = re.search(r"--stack\s+\"?(.+?)\"?(?=\s+--|\s*$)", ups[0])
    target = str((job.get("env") or {}).get("PULUMI_STACK") or (named.group(1) if named else ""))
    stack = target.rsplit("/", 1)[-1]
    if "matrix.stack" in stack:
        matrix = (job.get("strategy") or {}).get("matrix") or {}
        return list(matrix.get("stack") or []) + [i["stack"] for i in matrix.get("include") or [] if "stack" in i]
    return [stack]


def deploy_jobs(workflow: Workflow) -> dict[str, tuple[str, dict]]:
    """Jobs that run `pulumi up`, by the stack they deploy."""
    return {stack: (name, job) for name, job in workflow["jobs"].items() for stack in deployed_stacks(job)}


def ancestors(workflow: Workflow, name: str) -> set[str]:
    needs = workflow["jobs"][name].get("needs") or []
    direct = {needs} if isinstance(needs, str) else set(needs)
    return direct.union(*(ancestors(workflow, n) for n in direct)) if direct else set()


# --- the rules ---------------------------------------------------------------------------------------------


def problems_pull_requests_hold_no_credentials(workflow: Workflow) -> list[str]:
    problems = []
    if "pull_request_target" in triggers(workflow):
        problems.append("pull_request_target runs pull-request code with the repository's secrets")
    if "secrets." in yaml.safe_dump(workflow.get("env") or {}):
        problems.append("workflow-level env reads a secret, so every pull-request job gets it")
    if (workflow.get("permissions") or {}).get("id-token") == "write":
        problems.append("workflow-level permissions grant id-token: write to pull-request jobs")
    for name, job in pull_request_jobs(workflow).items():
        if "secrets." in yaml.safe_dump(job):
            problems.append(f"{name}: a pull-request job reads a secret")
        if (job.get("permissions") or {}).get("id-token") == "write":
            problems.append(f"{name}: a pull-request job can mint an OIDC token (id-token: write)")
        if job.get("environment") or uses(job, "azure/login"):
            problems.append(f"{name}: a pull-request job logs in to Azure or enters a deployment environment")
    return problems


def problems_pull_requests_preview_every_stack(workflow: Workflow) -> list[str]:
    jobs = pull_request_jobs(workflow)
    problems = (
        []
        if any("make test" in r for job in jobs.values() for r in runs(job))
        else ["no pull-request job runs `make test`"]
    )
    covered: set[str] = set()
    for job in jobs.values():
        if any(r.strip() == "make plan STACK=${{ matrix.stack }}" for r in runs(job)):
            covered |= set(job.get("strategy", {}).get("matrix", {}).get("stack") or [])
    if covered != set(stack_files()):
        problems.append(f"the offline preview covers {sorted(covered)}, the stack files are {sorted(stack_files())}")
    return problems


def problems_deploys_run_on_main_per_stack(workflow: Workflow) -> list[str]:
    problems = []
    deploys = deploy_jobs(workflow)
    if set(deploys) != set(stack_files()):
        problems.append(f"`pulumi up` jobs cover {sorted(deploys)}, the stack files are {sorted(stack_files())}")
    for stack, (name, job) in deploys.items():
        config = stack_files().get(stack, {})
        if not main_only(job):
            problems.append(f"{name}: may run outside main (its `if` must require refs/heads/main, no pull request)")
        if job.get("environment") != config.get("platform:environmentClass"):
            problems.append(
                f"{name}: environment {job.get('environment')!r} is not the stack's environmentClass "
                f"{config.get('platform:environmentClass')!r} (one Azure identity per class)"
            )
        if (job.get("permissions") or {}).get("id-token") != "write":
            problems.append(f"{name}: no id-token: write for the Azure OIDC login")
        [login] = uses(job, "azure/login") or [{}]
        if set(login.get("with") or {}) != {"client-id", "tenant-id", "subscription-id"}:
            problems.append(f"{name}: azure/login must use OIDC (client-id, tenant-id, subscription-id only)")
        if not any(re.search(r"\bpulumi preview\b", c) for c in pulumi_commands(job)):
            problems.append(f"{name}: no credentialed `pulumi preview` before `pulumi up`")
        if not all("--policy-pack policies" in c for c in pulumi_commands(job)):
            problems.append(f"{name}: preview and up must run the policy pack")
        runner = job.get("runs-on")
        if not (isinstance(runner, dict) and "vars." in str(runner.get("group", ""))):
            problems.append(
                f"{name}: runs-on {runner!r} is not a self-hosted runner group from a repository "
                f"variable (the API server and vault admit only the CI runners' addresses)"
            )
    return problems


def problems_one_operation_per_stack(workflow: Workflow) -> list[str]:
    problems = []
    top = workflow.get("concurrency") or {}
    if top and str(top.get("cancel-in-progress", False)) not in ("False", "${{ github.event_name == 'pull_request' }}"):
        problems.append("workflow-level concurrency may cancel a run on main")
    groups: dict[str, str] = {}
    for stack, (name, job) in deploy_jobs(workflow).items():
        concurrency = job.get("concurrency")
        group = str(concurrency.get("group", "")) if isinstance(concurrency, dict) else str(concurrency or "")
        if stack not in group and "matrix.stack" not in group:
            problems.append(f"{name}: concurrency group {group!r} is not per stack")
        elif group.lower() in groups and groups[group.lower()] != name:
            problems.append(f"{name}: shares concurrency group {group!r} with {groups[group.lower()]}")
        groups[group.lower()] = name
        if isinstance(concurrency, dict) and concurrency.get("cancel-in-progress") not in (False, None):
            problems.append(f"{name}: cancel-in-progress would kill a running `pulumi up` mid-update")
    return problems


def problems_deploy_order(workflow: Workflow) -> list[str]:
    problems = []
    deploys = deploy_jobs(workflow)
    files = stack_files()
    owners = {s for s, c in files.items() if c.get("platform:stackRole") == "sealingKeyOwner"}
    for stack, config in files.items():
        if stack not in deploys:
            continue
        before = ancestors(workflow, deploys[stack][0])
        if (config.get("platform:sealedSecrets") or {}).get("keyMode") == "sharedReference":
            problems += [
                f"{deploys[stack][0]}: runs before the key owner {o}"
                for o in owners
                if o in deploys and deploys[o][0] not in before
            ]
        if config.get("platform:environmentClass") == "prod":
            problems += [
                f"{deploys[stack][0]}: prod runs without waiting for {other}"
                for other, c in files.items()
                if other in deploys
                and other not in owners
                and c.get("platform:environmentClass") != "prod"
                and deploys[other][0] not in before
            ]
    return problems


def problems_actions_pinned_by_sha(workflow: Workflow, text: str) -> list[str]:
    problems = []
    for name, job in workflow["jobs"].items():
        targets = [str(s["uses"]) for s in steps(job) if "uses" in s] + ([str(job["uses"])] if "uses" in job else [])
        problems += [
            f"{name}: {u} is not pinned to a 40-character commit SHA"
            for u in targets
            if not u.startswith("./") and not SHA_PINNED.match(u)
        ]
    problems += [
        f"line {n}: `{line.strip()}` has no `# vX.Y.Z` comment naming the pinned release"
        for n, line in enumerate(text.splitlines(), 1)
        if re.match(r"^\s*(- )?uses:\s*[^.]", line) and not re.search(r"@[0-9a-f]{40} # v\d", line)
    ]
    return problems


def problems_up_refreshes(workflow: Workflow) -> list[str]:
    return [
        f"{name}: `pulumi up` without --refresh (ignore_changes compares against stale state)"
        for name, job in workflow["jobs"].items()
        for c in pulumi_commands(job)
        if re.search(r"\bpulumi (up|update)\b", c) and "--refresh" not in c
    ]


def problems_pulumi_cli_pinned(workflow: Workflow) -> list[str]:
    problems = []
    version = str((workflow.get("env") or {}).get("PULUMI_VERSION", ""))
    sdk = re.search(r"^pulumi>=([\d.]+)", (ROOT / "requirements.txt").read_text(), re.MULTILINE)
    if not EXACT_VERSION.match(version) or not sdk or version != sdk.group(1):
        problems.append(
            f"PULUMI_VERSION {version!r} must be the exact release of the pulumi SDK in requirements.txt "
            f"({sdk.group(1) if sdk else 'missing'})"
        )
    for name, job in workflow["jobs"].items():
        if pulumi_commands(job) or uses(job, "pulumi/actions"):
            installs = uses(job, "pulumi/actions")
            if not installs or any(
                (s.get("with") or {}).get("pulumi-version") != "${{ env.PULUMI_VERSION }}" for s in installs
            ):
                problems.append(f"{name}: the Pulumi CLI is not installed at PULUMI_VERSION")
    return problems


RULES: dict[str, Callable[[Workflow], list[str]]] = {
    "pull requests hold no credentials": problems_pull_requests_hold_no_credentials,
    "pull requests preview every stack": problems_pull_requests_preview_every_stack,
    "deploys run on main, per stack": problems_deploys_run_on_main_per_stack,
    "one operation per stack": problems_one_operation_per_stack,
    "owner first, prod last": problems_deploy_order,
    "up refreshes": problems_up_refreshes,
    "Pulumi CLI pinned": problems_pulumi_cli_pinned,
}


# --- the shipped workflow ------------------------------------------------------------------------------------


@pytest.mark.parametrize("rule", list(RULES), ids=list(RULES))
def test_the_workflow_keeps_the_rule(rule):
    assert RULES[rule](load_workflow()) == []


def test_every_action_is_pinned_by_sha_with_its_release_named():
    assert problems_actions_pinned_by_sha(load_workflow(), WORKFLOW_FILE.read_text()) == []


def test_least_privilege_by_default():
    assert load_workflow()["permissions"] == {"contents": "read"}


def test_the_deployment_doc_names_every_variable_and_secret_the_workflow_reads():
    names = set(re.findall(r"\$\{\{\s*(?:vars|secrets)\.(\w+)", WORKFLOW_FILE.read_text()))
    doc = (ROOT / "docs" / "deployment.md").read_text()
    assert names and not [n for n in names if f"`{n}`" not in doc]
    environments = {job.get("environment") for job in load_workflow()["jobs"].values()} - {None}
    assert environments == {"nonprod", "prod"}
    assert all(f"environment:{e}" in doc for e in environments)  # the federated credential subjects


# --- each rule catches its violation -------------------------------------------------------------------------


def _job(workflow: Workflow, stack: str) -> dict:
    return deploy_jobs(workflow)[stack][1]


def _edit_run(job: dict, pattern: str, replacement: str) -> None:
    for s in steps(job):
        if "run" in s:
            s["run"] = re.sub(pattern, replacement, s["run"])


VIOLATIONS: list[tuple[str, str, Callable[[Workflow], Any]]] = [
    (
        "pull requests hold no credentials",
        "a secret in a pull-request job",
        lambda w: w["jobs"]["test"].setdefault("env", {}).update(TOKEN="${{ secrets.PULUMI_ACCESS_TOKEN }}"),
    ),
    (
        "pull requests hold no credentials",
        "an OIDC token for a pull-request job",
        lambda w: w["jobs"]["offline-preview"].update(permissions={"contents": "read", "id-token": "write"}),
    ),
    (
        "pull requests hold no credentials",
        "a deploy job that also runs on pull requests",
        lambda w: _job(w, "dev").update(
            {"if": "github.ref == 'refs/heads/main' || github.event_name == 'pull_request'"}
        ),
    ),
    ("pull requests hold no credentials", "pull_request_target", lambda w: w[True].update(pull_request_target=None)),
    (
        "pull requests preview every stack",
        "a stack missing from the offline preview",
        lambda w: w["jobs"]["offline-preview"]["strategy"]["matrix"]["stack"].remove("nonprod-keys"),
    ),
    ("pull requests preview every stack", "no unit tests", lambda w: w["jobs"].pop("test")),
    ("deploys run on main, per stack", "a deploy without the main-only condition", lambda w: _job(w, "prod").pop("if")),
    (
        "deploys run on main, per stack",
        "prod deployed with the nonprod identity",
        lambda w: _job(w, "prod").update(environment="nonprod"),
    ),
    (
        "deploys run on main, per stack",
        "a deploy on a GitHub-hosted runner",
        lambda w: _job(w, "dev").update({"runs-on": "ubuntu-latest"}),
    ),
    (
        "deploys run on main, per stack",
        "a stored client secret",
        lambda w: uses(_job(w, "dev"), "azure/login")[0]["with"].update({"creds": "${{ secrets.AZURE_CREDENTIALS }}"}),
    ),
    (
        "deploys run on main, per stack",
        "up without the credentialed preview",
        lambda w: _job(w, "dev").update(
            steps=[s for s in steps(_job(w, "dev")) if "pulumi preview" not in str(s.get("run", ""))]
        ),
    ),
    (
        "one operation per stack",
        "a shared concurrency group",
        lambda w: _job(w, "prod").update(concurrency={"group": "platform-stack-dev", "cancel-in-progress": False}),
    ),
    (
        "one operation per stack",
        "cancel-in-progress on a deploy",
        lambda w: _job(w, "dev").update(concurrency={"group": "platform-stack-dev", "cancel-in-progress": True}),
    ),
    (
        "one operation per stack",
        "workflow-level cancellation of main runs",
        lambda w: w.update(concurrency={"group": "platform-${{ github.ref }}", "cancel-in-progress": True}),
    ),
    (
        "owner first, prod last",
        "dev before the key owner",
        lambda w: _job(w, "dev").update(needs=["test", "offline-preview"]),
    ),
    (
        "owner first, prod last",
        "prod in parallel with dev",
        lambda w: _job(w, "prod").update(needs=["deploy-nonprod-keys"]),
    ),
    ("up refreshes", "up without --refresh", lambda w: _edit_run(_job(w, "prod"), r" --refresh", "")),
    ("Pulumi CLI pinned", "a version range", lambda w: w["env"].update(PULUMI_VERSION="^3")),
    (
        "Pulumi CLI pinned",
        "the CLI installed at the action's default",
        lambda w: uses(_job(w, "dev"), "pulumi/actions")[0].pop("with"),
    ),
]


@pytest.mark.parametrize("rule, _what, violate", VIOLATIONS, ids=[f"{r}: {w}" for r, w, _ in VIOLATIONS])
def test_each_rule_catches_its_violation(rule, _what, violate):
    # Deep copies: the deploy jobs share one anchored step list, which an edit must not leak into the others.
    workflow = copy.deepcopy(load_workflow())
    for job in workflow["jobs"].values():
        if "steps" in job:
            job["steps"] = copy.deepcopy(job["steps"])
    violate(workflow)
    assert RULES[rule](workflow), f"{rule} missed: {_what}"


@pytest.mark.parametrize(
    "line",
    [
        "      - uses: actions/checkout@v7",
        "      - uses: actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1",
        "      - uses: actions/checkout@3d3c42e # v7.0.1",
    ],
)
def test_pinning_catches_a_tag_a_missing_release_comment_and_a_short_sha(line):
    text = WORKFLOW_FILE.read_text().replace(
        "      - uses: actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1", line, 1
    )
    assert problems_actions_pinned_by_sha(yaml.safe_load(text), text)
