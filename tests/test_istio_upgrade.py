"""An Istio upgrade simulated end to end: the real program at each step of the runbook (docs/istio.md).

A = 1.29.6, B = 1.30.3 (both tags of istio/istio). The steps are the config an operator writes:

1. A only;                          2. A and B, ``canary`` on B (one namespace restarted onto it);
3. A and B, ``stable`` moved to B;  4. B only.

Between two steps, a resource recorded before and not after is what ``pulumi up`` would delete; one
recorded in both with other inputs is what it would update. From those the tests assert that no step
deletes a revision something still points to, that both istiods exist in the middle, and that the
gateways and namespaces follow their tags.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from stack_config import ConfigError
from tests.conftest import stack_raw_config
from tests.policies.analyzer import analyze_stack, report
from tests.resource_types import K8s
from tools.program_runner import ProgramRun, RecordedResource, run_program

A, B = "1.29.6", "1.30.3"
REV_A, REV_B = "1-29-6", "1-30-3"
STACK = "prod"
CANARY_NAMESPACE = "payments"  # the namespace the runbook restarts onto the canary first


def istio(**keys: Any) -> dict[str, Any]:
    section = {k: v for k, v in stack_raw_config(STACK)["istio"].items() if k not in ("version", "revision")}
    return {**section, **keys}


def namespaces(canary: bool) -> list[dict[str, Any]]:
    apps = copy.deepcopy(stack_raw_config(STACK)["appNamespaces"])
    for app in apps:
        if canary and app["name"] == CANARY_NAMESPACE:
            app["revisionTag"] = "canary"
    return apps


STEPS: dict[str, dict[str, Any]] = {
    "1 A only": {"istio": istio(version=A), "appNamespaces": namespaces(canary=False)},
    "2 canary on B": {
        "istio": istio(revisions=[A, B], tags={"stable": REV_A, "canary": REV_B}),
        "appNamespaces": namespaces(canary=True),
    },
    "3 stable on B": {
        "istio": istio(revisions=[A, B], tags={"stable": REV_B, "canary": REV_B}),
        "appNamespaces": namespaces(canary=True),
    },
    "4 B only": {
        "istio": istio(revisions=[B], tags={"stable": REV_B, "canary": REV_B}),
        "appNamespaces": namespaces(canary=True),
    },
}
NAMES = list(STEPS)


@pytest.fixture(scope="module")
def runs() -> dict[str, ProgramRun]:
    return {step: run_program(STACK, overrides=overrides) for step, overrides in STEPS.items()}


def by_urn(run: ProgramRun) -> dict[str, RecordedResource]:
    return {r.urn: r for r in run.resources}


def deleted(before: ProgramRun, after: ProgramRun) -> list[RecordedResource]:
    kept = by_urn(after)
    return [r for r in before.resources if r.urn not in kept]


def istiod_revisions(run: ProgramRun) -> dict[str, RecordedResource]:
    return {r.get("values.revision"): r for r in run.of_type(K8s.HELM_RELEASE) if r.get("chart") == "istiod"}


def tags(run: ProgramRun) -> dict[str, str]:
    """tag -> revision, as the tag webhooks say."""
    labels = [r.get("metadata.labels") for r in run.of_type(K8s.MUTATING_WEBHOOK_CONFIGURATION)]
    return {label["istio.io/tag"]: label["istio.io/rev"] for label in labels}


def referenced(run: ProgramRun) -> set[str]:
    """Every revision a tag, namespace, gateway or the validating webhook points to."""
    tag_map = tags(run)
    values = {r.get("metadata.labels").get("istio.io/rev") for r in run.of_type(K8s.NAMESPACE)}
    values |= {r.get("values.revision") for r in run.of_type(K8s.HELM_RELEASE) if r.get("chart") == "gateway"}
    revisions = {tag_map.get(v, v) for v in values if v}
    revisions |= set(tag_map.values())
    revisions |= {r.get("values.defaultRevision") for r in run.of_type(K8s.HELM_RELEASE) if r.get("chart") == "base"}
    return revisions


@pytest.mark.parametrize("before, after", list(zip(NAMES, NAMES[1:], strict=False)))
def test_no_step_deletes_a_revision_still_referenced(runs, before, after):
    gone = {r.get("values.revision") for r in deleted(runs[before], runs[after]) if r.get("chart") == "istiod"}
    # Only the last step removes a revision (A); the checks below must not pass on an empty set there.
    assert gone == ({REV_A} if after == "4 B only" else set()), gone
    # Not referenced once the step is applied, and not in the step before either: its pods were moved and
    # restarted one step earlier (running sidecars keep talking to the istiod that injected them).
    assert not gone & referenced(runs[after]), gone
    assert not gone & referenced(runs[before]), gone
    # Nothing else of the mesh goes away with a revision: only that revision's istiod release.
    mesh_gone = [r.name for r in deleted(runs[before], runs[after]) if r.name.startswith("mesh-")]
    assert mesh_gone == [f"mesh-istiod-{rev}" for rev in sorted(gone)]


def test_adding_the_canary_leaves_the_stable_revision_untouched(runs):
    old = by_urn(runs["1 A only"])
    new = by_urn(runs["2 canary on B"])
    for name in (f"mesh-istiod-{REV_A}", "mesh-cni", "mesh-revision-tag-stable"):
        (urn,) = [u for u in old if u.endswith(f"::{name}")]
        assert new[urn].inputs == old[urn].inputs, name  # no update, let alone a replacement


def test_both_istiods_exist_in_the_middle(runs):
    for step in ("2 canary on B", "3 stable on B"):
        releases = istiod_revisions(runs[step])
        assert set(releases) == {REV_A, REV_B}
        assert {rev: r.get("version") for rev, r in releases.items()} == {REV_A: A, REV_B: B}
        assert {rev: r.get("name") for rev, r in releases.items()} == {rev: f"istiod-{rev}" for rev in (REV_A, REV_B)}
        # Both start only once the plug-in CA exists, so both sign with the same intermediate.
        (cacerts,) = [r for r in runs[step].of_type(K8s.SECRET) if r.get("metadata.name") == "cacerts"]
        assert all(cacerts.urn in r.dependencies for r in releases.values())
        # Sidecars of both revisions reach their istiod.
        policy = runs[step].one(K8s.NETWORK_POLICY, "mesh-system-allow-istiod")
        assert policy.get("spec.podSelector.matchExpressions") == [
            {"key": "istio.io/rev", "operator": "In", "values": [REV_A, REV_B]}
        ]
    assert set(istiod_revisions(runs["1 A only"])) == {REV_A}
    assert set(istiod_revisions(runs["4 B only"])) == {REV_B}


EXPECTED_TAGS = {
    "1 A only": {"stable": REV_A},
    "2 canary on B": {"stable": REV_A, "canary": REV_B},
    "3 stable on B": {"stable": REV_B, "canary": REV_B},
    "4 B only": {"stable": REV_B, "canary": REV_B},
}


@pytest.mark.parametrize("step", NAMES)
def test_tags_gateways_and_namespaces_follow_the_config(runs, step):
    run = runs[step]
    assert tags(run) == EXPECTED_TAGS[step]
    stable = EXPECTED_TAGS[step]["stable"]
    version = {REV_A: A, REV_B: B}[stable]
    for webhook in run.of_type(K8s.MUTATING_WEBHOOK_CONFIGURATION):
        tag_revision = webhook.get("metadata.labels")["istio.io/rev"]
        assert {w["clientConfig"]["service"]["name"] for w in webhook.get("webhooks")} == {f"istiod-{tag_revision}"}
    # Namespaces and gateways carry a tag, never a versioned revision, at every step.
    labels = {r.get("metadata.name"): r.get("metadata.labels").get("istio.io/rev") for r in run.of_type(K8s.NAMESPACE)}
    canary_on = step != "1 A only"
    for app in ("shop", "payments"):
        assert labels[app] == ("canary" if canary_on and app == CANARY_NAMESPACE else "stable")
    gateways = [r for r in run.of_type(K8s.HELM_RELEASE) if r.get("chart") == "gateway"]
    assert len(gateways) == 2
    for gateway in gateways:
        assert gateway.get("values.revision") == "stable"
        assert gateway.get("version") == version  # the gateway chart follows its tag's revision
        assert labels[gateway.get("namespace")] == "stable"
    base = run.one(K8s.HELM_RELEASE, "mesh-base")
    assert base.get("values.defaultRevision") == stable  # validation follows the default tag
    assert base.get("version") == (B if step != "1 A only" else A)  # CRDs: the newest installed release
    assert run.one(K8s.HELM_RELEASE, "mesh-cni").get("version") == version  # the CNI moves with the stable tag


def test_moving_the_stable_tag_is_an_in_place_update(runs):
    before, after = by_urn(runs["2 canary on B"]), by_urn(runs["3 stable on B"])
    changed = sorted(after[u].name for u in after if u in before and after[u].inputs != before[u].inputs)
    assert set(before) == set(after)  # nothing created or deleted
    # The stable tag's webhook, the cluster-wide charts that follow it, and the gateways (restarted onto B).
    assert changed == ["egress-release", "ingress-release", "mesh-base", "mesh-cni", "mesh-revision-tag-stable"]


@pytest.mark.parametrize("step", NAMES)
def test_every_step_passes_the_pack(runs, step):
    diags = analyze_stack(runs[step].resources, config=STACK)
    assert not [d for d in diags if d.level == "mandatory"], report(diags)


def test_removing_a_revision_still_referenced_is_refused_before_anything_is_registered():
    recorded: list = []
    overrides = {**STEPS["4 B only"], "istio": istio(revisions=[B], tags={"stable": REV_A, "canary": REV_B})}
    with pytest.raises(ConfigError) as err:
        run_program(STACK, overrides=overrides, recorded=recorded)
    assert err.value.problems == [
        f"istio.tags.stable: got '{REV_A}'; allowed: an installed revision ({REV_B}); "
        "move the tag before removing its revision"
    ]
    assert recorded == []


def test_rollback_moves_stable_back_without_deleting_anything(runs):
    """Rollback from step 3: stable back on A (step 2's config) deletes nothing and restores A's charts."""
    rollback = runs["2 canary on B"]
    assert not deleted(runs["3 stable on B"], rollback)
    assert tags(rollback)["stable"] == REV_A
