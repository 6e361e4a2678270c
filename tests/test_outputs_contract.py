"""The real program's stack outputs ARE the contract: exact names, secrecy and types, per stack.

Runs ``__main__.py`` for dev, prod and nonprod-keys and compares ``run.outputs`` and
``run.secret_outputs`` with the table in ``components/platform_outputs.py``. A renamed or missing
output, an extra one, a secret exported in plaintext (or a public one exported as secret) or a
wrongly typed value fails the build.

NOTE FOR THE LEAD: these tests fail until every component is wired and ``__main__.py`` ends with
``export_outputs(cfg.stack_role, {...})``. The failure message lists exactly which outputs are still
missing; do not xfail them, wire the outputs.
"""

from __future__ import annotations

import pytest

from components.platform_outputs import CONTRACT_VERSION, outputs_for, secret_names, type_problem

STACKS = {"dev": "environment", "prod": "environment", "nonprod-keys": "sealingKeyOwner"}


@pytest.mark.parametrize("stack", STACKS)
def test_exported_names_are_exactly_the_contract(stack, stack_run):
    run = stack_run(stack)
    expected = [spec.name for spec in outputs_for(STACKS[stack])]
    missing = [name for name in expected if name not in run.outputs]
    extra = sorted(set(run.outputs) - set(expected))
    assert not missing and not extra, (
        f"stack {stack} (role {STACKS[stack]}) does not export contract {CONTRACT_VERSION}:\n"
        f"  missing ({len(missing)}): {', '.join(missing) or '-'}\n"
        f"  not in the contract: {', '.join(extra) or '-'}\n"
        "wire them with components.outputs_export.export_outputs in __main__.py (see docs/outputs.md)"
    )


@pytest.mark.parametrize("stack", STACKS)
def test_secrecy_matches_the_contract(stack, stack_run):
    run = stack_run(stack)
    expected = secret_names(STACKS[stack])
    # (A missing output is reported by the names test above.)
    plaintext = sorted(name for name in expected if name in run.outputs and name not in run.secret_outputs)
    assert not plaintext, f"stack {stack} exports secret outputs in PLAINTEXT: {', '.join(plaintext)}"
    # A public output exported as secret breaks `kubeseal --cert <(pulumi stack output ...)` and the helper types.
    over = sorted(run.secret_outputs - expected)
    assert not over, f"stack {stack} exports public outputs as secret: {', '.join(over)}"


@pytest.mark.parametrize("stack", STACKS)
def test_values_have_the_declared_types(stack, stack_run):
    run = stack_run(stack)
    problems = [
        f"{spec.name}: {problem}"
        for spec in outputs_for(STACKS[stack])
        if spec.name in run.outputs
        for problem in [type_problem(spec.type, run.outputs[spec.name])]
        if problem
    ]
    assert not problems, f"stack {stack}:\n  " + "\n  ".join(problems)
    assert run.outputs.get("contractVersion") == CONTRACT_VERSION


def test_values_agree_with_the_stack_config(stack_run):
    """Spot checks that the outputs say what the config says (an app team trusts them)."""
    run = stack_run("dev")
    out = run.outputs
    assert out.get("environment") == "dev" and out.get("environmentClass") == "nonprod"
    assert out.get("location") == "westeurope"
    missing = [
        n
        for n in ("ingressHostnames", "egressAllowList", "appNamespaces", "istioRevision", "injectionLabel")
        if n not in out
    ]
    assert not missing, f"not wired yet: {', '.join(missing)}"
    assert out["ingressHostnames"] == ["*.dev.apps.example.com"]
    assert out["egressAllowList"] == ["login.microsoftonline.com", "graph.microsoft.com", "api.github.com"]
    assert out["appNamespaces"] == ["shop", "payments"]
    assert out["istioRevision"] == "1-30-3"
    assert out["injectionLabel"] == {"istio.io/rev": "stable"}  # the default revision tag, never a version
