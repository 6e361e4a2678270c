"""The shared assertion: a valid resource passes, a one-field change fails with the rule's name."""

from __future__ import annotations

from tests.policies.analyzer import analyze, names, report, set_path, violations


def assert_one_field_fails(rule, rtype, build, path, bad, config="prod"):
    valid = build()
    assert violations(analyze(rtype, valid, config)) == [], report(analyze(rtype, valid, config))
    diags = analyze(rtype, set_path(valid, path, bad), config)
    found = violations(diags)
    assert rule in names(found), f"{rule} did not fire for {path}={bad!r}:\n{report(diags)}"
    assert names(found) == [rule], f"only {rule} should fire for {path}:\n{report(diags)}"
    assert all(d.level == "mandatory" for d in found), report(found)
