"""istio-revision-referenced through AnalyzeStack: an upgrade's stacks pass; a removed revision still in use fails."""

from __future__ import annotations

import pytest

from tests.policies.analyzer import (
    UNKNOWN,
    StackResource,
    analyze_stack,
    names,
    report,
    set_path,
    valid_istiod_release,
    violations,
)
from tests.policies.test_stack_rules import valid_stack
from tests.resource_types import K8s

RULE = "istio-revision-referenced"


def tag_webhook(tag: str, revision: str) -> dict:
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": {
            "name": f"istio-revision-tag-{tag}",
            "labels": {"istio.io/tag": tag, "istio.io/rev": revision},
        },
        "webhooks": [],
    }


def istiod(revision: str) -> StackResource:
    props = set_path(valid_istiod_release(), "values.revision", revision)
    return StackResource(K8s.HELM_RELEASE, f"mesh-istiod-{revision}", {**props, "name": f"istiod-{revision}"})


def upgrade_stack() -> dict[str, StackResource]:
    """The middle of an upgrade: two istiods, stable on the old one, canary on the new, a gateway and base."""
    stack = valid_stack()
    del stack["istiod"]
    stack["istiod-old"] = istiod("1-29-6")
    stack["istiod-new"] = istiod("1-30-3")
    stack["tag-stable"] = StackResource(
        K8s.MUTATING_WEBHOOK_CONFIGURATION, "mesh-revision-tag-stable", tag_webhook("stable", "1-29-6")
    )
    stack["tag-canary"] = StackResource(
        K8s.MUTATING_WEBHOOK_CONFIGURATION, "mesh-revision-tag-canary", tag_webhook("canary", "1-30-3")
    )
    stack["base"] = StackResource(
        K8s.HELM_RELEASE,
        "mesh-base",
        {"name": "istio-base", "chart": "base", "version": "1.30.3", "values": {"defaultRevision": "1-29-6"}},
    )
    stack["gateway"] = StackResource(
        K8s.HELM_RELEASE,
        "egress-release",
        {"name": "istio-egressgateway", "chart": "gateway", "version": "1.29.6", "values": {"revision": "stable"}},
    )
    stack["ns"].props = set_path(stack["ns"].props, "metadata.labels", {"istio.io/rev": "canary"})
    return stack


def findings(stack: dict[str, StackResource]) -> list:
    return [d for d in analyze_stack(stack.values(), "prod") if d.policy == RULE]


def test_upgrade_in_progress_passes():
    assert findings(upgrade_stack()) == []


def test_a_namespace_may_name_an_installed_revision_itself():
    stack = upgrade_stack()
    stack["ns"].props = set_path(stack["ns"].props, "metadata.labels", {"istio.io/rev": "1-29-6"})
    assert findings(stack) == []


def _remove_old_istiod(s):
    del s["istiod-old"]


def _remove_tag(s):
    del s["tag-canary"]


def _relabel(s):
    s["ns"].props = set_path(s["ns"].props, "metadata.labels", {"istio.io/rev": "1-28-10"})


def _gateway_on_old_revision(s):
    s["gateway"].props = set_path(s["gateway"].props, "values.revision", "1-28-10")


def _base_on_a_tag(s):
    s["base"].props = set_path(s["base"].props, "values.defaultRevision", "stable")


@pytest.mark.parametrize(
    "change, says",
    [
        # The old revision's istiod removed while the stable tag (and through it the gateway) still points there.
        (_remove_old_istiod, "revision tag 'stable' points to revision '1-29-6'"),
        (_remove_tag, "namespace 'shop' is injected by istio.io/rev='canary'"),
        (_relabel, "namespace 'shop'"),
        (_gateway_on_old_revision, "gateway release 'egress-release'"),
        (_base_on_a_tag, "revision 'stable'"),
    ],
)
def test_a_reference_to_a_missing_revision_fails(change, says):
    stack = upgrade_stack()
    change(stack)
    diags = findings(stack)
    assert RULE in names(violations(diags), "mandatory"), report(diags)
    assert any(says in d.message for d in diags), report(diags)


def test_not_applicable_to_a_stack_without_istiod():
    """An app team's stack labels its namespace but runs no control plane."""
    ns = StackResource(
        K8s.NAMESPACE,
        "team",
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team", "labels": {"istio.io/rev": "stable"}}},
    )
    assert findings({"ns": ns}) == []


def test_unknown_label_cannot_be_checked_yet():
    stack = upgrade_stack()
    stack["ns"].props = set_path(stack["ns"].props, "metadata.labels", UNKNOWN)
    diags = findings(stack)
    assert diags and all(d.cannot_check and d.level == "advisory" for d in diags), report(diags)
