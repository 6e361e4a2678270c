"""Every resource rule through the analyzer: the valid resource passes, each one-field change (tests/policies/cases.py,
one table a domain) fails with the rule's name alone, as a mandatory violation in prod."""

from __future__ import annotations

import pytest

from tests.policies.analyzer import analyze, names, report, set_path, violations
from tests.policies.cases import AKS_ADVISORY, ALL, Case, case_id

# Mandatory in prod (policies/config/prod.json): every case but AKS_ADVISORY, whose level test_aks.py checks.
MANDATORY_CASES = [case for case in ALL if case not in AKS_ADVISORY]


@pytest.mark.parametrize("case", MANDATORY_CASES, ids=case_id)
def test_one_field_change_fails(case: Case) -> None:
    rule, rtype, build, path, bad = case
    valid = build()
    assert violations(analyze(rtype, valid, "prod")) == [], report(analyze(rtype, valid, "prod"))
    diags = analyze(rtype, set_path(valid, path, bad), "prod")
    found = violations(diags)
    assert rule in names(found), f"{rule} did not fire for {path}={bad!r}:\n{report(diags)}"
    assert names(found) == [rule], f"only {rule} should fire for {path}:\n{report(diags)}"
    assert all(d.level == "mandatory" for d in found), report(found)
