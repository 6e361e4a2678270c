"""Config of the control-plane revisions and their tags: what an upgrade may and may not say."""

from __future__ import annotations

from typing import Any

import pytest

from stack_config import ConfigError, IstioRevision, parse_config
from tests.test_config import with_changes

OLD, NEW = "1.29.6", "1.30.3"  # both are tags of istio/istio (the mirror's tags), the pair the simulation runs


def side_by_side(**changes: Any) -> dict[str, Any]:
    """The istio keys of the middle of an upgrade: both revisions, stable on the old one, canary on the new."""
    keys = {
        "istio.version": None,
        "istio.revisions": [OLD, NEW],
        "istio.tags": {"stable": "1-29-6", "canary": "1-30-3"},
    }
    return {**keys, **changes}


def problems(stack: str, changes: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(with_changes(stack, changes))
    return caught.value.problems


def test_one_version_is_the_one_revision_with_the_default_tag_on_it():
    istio = parse_config(with_changes("dev", {})).istio
    assert istio.revisions == (IstioRevision(version="1.30.3", name="1-30-3"),)
    assert istio.tags == (("stable", "1-30-3"),)
    assert istio.default_revision == "1-30-3"


def test_two_revisions_side_by_side():
    cfg = parse_config(with_changes("prod", side_by_side(**{"istio.defaultTag": "stable"})))
    istio = cfg.istio
    assert istio.revision_names == ("1-29-6", "1-30-3")
    assert istio.revision_of("canary") == "1-30-3"
    assert istio.default_revision == "1-29-6"
    # The default tag's release; CRDs come from the newest release.
    assert istio.tag_version(istio.default_tag) == OLD
    assert istio.newest_version == NEW
    # Namespaces that name no tag take the default one.
    assert {ns.revision_tag for ns in cfg.app_namespaces} == {"stable"}


def test_a_revision_can_be_named_and_given_as_an_object():
    changes = side_by_side(
        **{
            "istio.revisions": [{"version": OLD, "name": "old"}, NEW],
            "istio.tags": {"stable": "old", "canary": "1-30-3"},
        }
    )
    assert parse_config(with_changes("dev", changes)).istio.revision_names == ("old", "1-30-3")


@pytest.mark.parametrize(
    "changes, key, says",
    [
        # Removing the revision that a tag still points to: the tag names it.
        (
            {"istio.version": None, "istio.revisions": [NEW], "istio.tags": {"stable": "1-29-6", "canary": "1-30-3"}},
            "istio.tags.stable",
            "move the tag before removing its revision",
        ),
        # A namespace on a tag that no longer exists.
        (
            {"appNamespaces": [{"name": "shop", "revisionTag": "canary"}]},
            "appNamespaces[0].revisionTag",
            "a tag of istio.tags (stable)",
        ),
        (side_by_side(**{"istio.defaultTag": "prod"}), "istio.defaultTag", "a tag of istio.tags (canary, stable)"),
        (side_by_side(**{"istio.tags": None}), "istio.tags", "required with 2 revisions"),
        (side_by_side(**{"istio.version": NEW}), "istio.revisions", "not both"),
        (side_by_side(**{"istio.revisions": [OLD, NEW, "1.30.2"]}), "istio.revisions", "1 to 2 revisions"),
        (
            side_by_side(**{"istio.revisions": ["1.28.10", NEW], "istio.tags": {"stable": "1-28-10"}}),
            "istio.revisions",
            "at most one minor version",
        ),
        (side_by_side(**{"istio.revisions": [OLD, OLD]}), "istio.revisions[1].name", "listed once"),
        (side_by_side(**{"istio.tags": {"default": "1-30-3"}}), "istio.tags.default", "reserved by Istio"),
        (
            side_by_side(**{"istio.tags": {"stable": "1-29-6", "1-30-3": "1-30-3"}}),
            "istio.tags.1-30-3",
            "named like a revision",
        ),
        (side_by_side(**{"istio.revisions": ["1.30", NEW]}), "istio.revisions[0]", "exact version"),
    ],
)
def test_bad_revision_config_names_the_key(changes, key, says):
    found = problems("dev", changes)
    assert len(found) == 1, found
    assert found[0].startswith(f"{key}:") and says in found[0], found
