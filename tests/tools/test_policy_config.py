"""The one policy-config merge: the engine's order (defaults, initial config, file; "all" before names), validation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from tools.policy_config import PolicyConfig, PolicyConfigError, load_policy_config, parse_policy_config, reconcile


@dataclass(frozen=True)
class Policy:
    name: str
    enforcement_level: str = "advisory"
    config_schema: dict[str, Any] | None = None


TTL = Policy("ttl", config_schema={"properties": {"hours": {"type": "number", "minimum": 1, "default": 24}}})
TAGS = Policy("tags", "mandatory", {"properties": {"tags": {"type": "array"}}, "required": ["tags"]})
PLAIN = Policy("plain")


def test_defaults_then_all_then_each_named_entry():
    config = parse_policy_config(
        {"all": "mandatory", "ttl": {"enforcementLevel": "advisory", "hours": 12}, "tags": {"tags": ["owner"]}}
    )
    result = reconcile([TTL, TAGS, PLAIN], config)
    assert result["ttl"] == PolicyConfig("advisory", {"hours": 12})
    assert result["tags"] == PolicyConfig("mandatory", {"tags": ["owner"]})
    assert result["plain"] == PolicyConfig("mandatory", None)


def test_the_file_applies_over_the_packs_initial_config():
    initial = {"ttl": PolicyConfig("disabled", {"hours": 6}), "plain": PolicyConfig("mandatory")}
    result = reconcile([TTL, PLAIN], parse_policy_config({"ttl": "advisory"}), initial=initial)
    assert result["ttl"] == PolicyConfig("advisory", {"hours": 6})
    assert result["plain"] == PolicyConfig("mandatory", None)


def test_every_schema_problem_is_reported_at_once():
    with pytest.raises(PolicyConfigError) as e:
        reconcile([TTL, TAGS], parse_policy_config({"ttl": {"hours": 0}}))
    assert e.value.problems == ["ttl: hours: 0 is less than the minimum of 1", "tags: 'tags' is a required property"]


def test_the_cli_lets_unknown_names_and_properties_through_strict_mode_does_not():
    config = parse_policy_config({"tll": "advisory", "ttl": {"hourz": 3}, "plain": {"x": 1}})
    assert reconcile([TTL, PLAIN], config)["ttl"] == PolicyConfig("advisory", {"hours": 24, "hourz": 3})
    with pytest.raises(PolicyConfigError) as e:
        reconcile([TTL, PLAIN], config, strict=True)
    assert e.value.problems[0] == "tll: no such policy"
    assert "'hourz' was unexpected" in e.value.problems[1] and "'x' was unexpected" in e.value.problems[2]


def test_malformed_entries_are_all_reported():
    with pytest.raises(PolicyConfigError) as e:
        parse_policy_config({"all": "strict", "x": 3, "y": {"enforcementLevel": 1}})
    assert len(e.value.problems) == 3
    assert "'strict' is not a valid enforcement level" in e.value.problems[0]
    with pytest.raises(PolicyConfigError, match="top level must be a JSON object"):
        parse_policy_config(["advisory"])


def test_files(tmp_path):
    (tmp_path / "empty.json").write_text("\n")
    (tmp_path / "bad.json").write_text("{")
    assert load_policy_config(tmp_path / "empty.json") == {}
    with pytest.raises(PolicyConfigError, match="not valid JSON"):
        load_policy_config(tmp_path / "bad.json")
