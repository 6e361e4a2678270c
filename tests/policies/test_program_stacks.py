"""The program's own stacks pass the pack: every recorded resource (type, urn, name, inputs, protect, parent,
dependencies, property dependencies) goes through Analyze and AnalyzeStack with the stack's config file.

Meaningful as the program grows: it checks whatever ``__main__.py`` registers today, and prints every finding.
"""

from __future__ import annotations

import pytest

from tests.policies.analyzer import analyze_stack, report


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_stack_has_no_mandatory_violations(stack, stack_run):
    run = stack_run(stack)
    diags = analyze_stack(run.resources, config=stack)
    mandatory = [d for d in diags if d.level == "mandatory"]
    print(f"\n{stack}: {len(run.resources)} resources; policy findings:\n{report(diags)}")
    assert not mandatory, (
        f"{len(mandatory)} mandatory violation(s) in the {stack} stack "
        f"(policies/config/{stack}.json):\n{report(mandatory)}"
    )
    # Under the mocks every value is known, so nothing may hide behind "cannot check yet".
    assert not [d for d in diags if d.cannot_check], report(diags)
