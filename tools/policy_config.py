"""Policy pack configuration, in one place: read a ``--policy-pack-config`` file and merge it as the engine does.

The file is ``{"all": "mandatory", "<policy>": "advisory" | {"enforcementLevel": ..., "<property>": ...}}``.
The engine's merge (``ReconcilePolicyPackConfig`` in the Pulumi CLI), reproduced by ``reconcile``:

1. every policy starts at its own enforcement level with its config schema's defaults;
2. the pack's initial config, then the file, are applied: ``all`` first (a level for every policy), then
   each named entry (its level, its properties merged over what is there);
3. every policy's resulting properties are validated against its schema; all problems are reported at once.

The offline preview, the policy tests and the docs generator all use this one merge. ``strict`` adds what
the CLI lets through but this repository treats as typos: an entry naming no policy, a property the
policy's schema does not declare.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

ENFORCEMENT_LEVELS = ("advisory", "mandatory", "remediate", "disabled")


class PolicyConfigError(ValueError):
    """The policy pack config is invalid (bad JSON, enforcement level, or schema violation)."""

    def __init__(self, problems: Sequence[str]):
        self.problems = list(problems)
        super().__init__("Invalid policy pack configuration:\n" + "\n".join(f"  - {p}" for p in self.problems))


@dataclass(frozen=True)
class PolicyConfig:
    """One policy's configuration: an enforcement level ("" = unchanged) and its properties."""

    enforcement_level: str = ""
    properties: dict[str, Any] | None = None


class PolicySpec(Protocol):
    """What the merge needs to know of a policy (``analyzer_host.PolicyInfo`` is one)."""

    @property
    def name(self) -> str: ...

    @property
    def enforcement_level(self) -> str: ...

    @property
    def config_schema(self) -> dict[str, Any] | None: ...  # {"properties": {...}, "required": [...]}


def parse_policy_config(data: Any, source: str = "policy config") -> dict[str, PolicyConfig]:
    """The decoded JSON of a config file as ``PolicyConfig`` entries; every malformed entry is reported."""
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise PolicyConfigError([f"{source}: the top level must be a JSON object"])
    problems: list[str] = []
    result: dict[str, PolicyConfig] = {}
    for name, value in data.items():
        level, props = "", None
        if isinstance(value, str):
            level = value
        elif isinstance(value, Mapping):
            props = {k: v for k, v in value.items() if k != "enforcementLevel"} or None
            level = value.get("enforcementLevel", "")
            if not isinstance(level, str):
                problems.append(f"{source}: {name}.enforcementLevel: {level!r} is not a string")
                continue
        else:
            problems.append(f"{source}: {name}: {value!r} is not a valid value; must be a string or object")
            continue
        if level and level not in ENFORCEMENT_LEVELS:
            problems.append(
                f"{source}: {name}: {level!r} is not a valid enforcement level "
                f"(allowed: {', '.join(ENFORCEMENT_LEVELS)})"
            )
            continue
        if level or props:
            result[name] = PolicyConfig(level, props)
    if problems:
        raise PolicyConfigError(problems)
    return result


def load_policy_config(path: str | Path) -> dict[str, PolicyConfig]:
    """A config file (an empty file is an empty config)."""
    text = Path(path).read_text()
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise PolicyConfigError([f"{path}: not valid JSON: {e}"]) from None
    return parse_policy_config(data, str(path))


def _apply(result: dict[str, PolicyConfig], given: Mapping[str, PolicyConfig]) -> None:
    everything = given.get("all")
    if everything is not None and everything.enforcement_level:
        for name, current in list(result.items()):
            result[name] = PolicyConfig(everything.enforcement_level, current.properties)
    # As the CLI: "all" itself is also applied as an entry (the pack ignores a name that is no policy).
    for name, cfg in given.items():
        current = result.get(name, PolicyConfig())
        props = current.properties
        if cfg.properties:
            props = {**(props or {}), **cfg.properties}
        result[name] = PolicyConfig(cfg.enforcement_level or current.enforcement_level, props)


def reconcile(
    policies: Iterable[PolicySpec],
    config: Mapping[str, PolicyConfig],
    *,
    initial: Mapping[str, PolicyConfig] | None = None,
    strict: bool = False,
) -> dict[str, PolicyConfig]:
    """Each policy's effective config: its defaults, then the pack's ``initial`` config, then ``config``.

    Raises ``PolicyConfigError`` listing every policy whose resulting properties break its schema (and,
    when ``strict``, every entry naming no policy and every property the schema does not declare).
    """
    policies = list(policies)
    result: dict[str, PolicyConfig] = {}
    for p in policies:
        schema_props = (p.config_schema or {}).get("properties") or {}
        defaults = {k: v["default"] for k, v in schema_props.items() if isinstance(v, Mapping) and "default" in v}
        result[p.name] = PolicyConfig(p.enforcement_level, defaults or None)
    problems: list[str] = []
    if strict:
        problems += [f"{name}: no such policy" for name in config if name != "all" and name not in result]
    _apply(result, initial or {})
    _apply(result, config)

    import jsonschema

    for p in policies:
        if not p.config_schema and not strict:
            continue
        schema: dict[str, Any] = {"type": "object"}
        for key in ("properties", "required"):
            if (p.config_schema or {}).get(key):
                schema[key] = (p.config_schema or {})[key]
        if strict:
            schema["additionalProperties"] = False
        errors = jsonschema.Draft7Validator(schema).iter_errors(result[p.name].properties or {})
        for err in sorted(errors, key=lambda e: list(e.path)):
            where = ".".join(str(x) for x in err.path)
            problems.append(f"{p.name}: {where + ': ' if where else ''}{err.message}")
    if problems:
        raise PolicyConfigError(problems)
    return result
