"""Config validation never crashes: any shape of input yields a PlatformConfig or one ConfigError."""

from __future__ import annotations

import copy

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stack_config import ConfigError, PlatformConfig, parse_config
from tests.conftest import stack_raw_config

BASES = {name: stack_raw_config(name) for name in ("dev", "prod", "nonprod-keys")}

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-10, 70000)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.sampled_from(["*", "0.0.0.0/0", "10.0.0.0/8", "STRICT", "prod", "nonprod", "NodeImage", "1.30.3"]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)


def paths(obj, prefix=()):
    """Every (path) into the base config, so a mutation lands on a real key as well as on new ones."""
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from paths(v, prefix + (i,))


ALL_PATHS = {name: [p for p in paths(raw) if p] for name, raw in BASES.items()}


@st.composite
def mutated_configs(draw):
    stack = draw(st.sampled_from(sorted(BASES)))
    raw = copy.deepcopy(BASES[stack])
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(ALL_PATHS[stack]))
        target = raw
        try:
            for part in path[:-1]:
                target = target[part]
            target[path[-1]] = draw(json_values)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation changed the shape above this path
    return raw


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_configs())
def test_any_mutation_gives_a_config_or_a_config_error(raw):
    try:
        result = parse_config(raw)
    except ConfigError as err:
        assert err.problems and all(isinstance(p, str) and ": " in p for p in err.problems)
    else:
        assert isinstance(result, PlatformConfig)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=15), json_values, max_size=6))
def test_arbitrary_top_level_input_never_crashes(raw):
    try:
        parse_config(raw)
    except ConfigError as err:
        assert err.problems
