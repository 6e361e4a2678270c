"""Keep the README true: its commands exist, and its config reference is generated from the key declarations."""

from __future__ import annotations

import re

import pytest

from stack_config import ConfigError, PlatformConfig, gen_docs, parse_config
from stack_config.spec import Objects, Section, keys_of
from tests.conftest import stack_raw_config
from tools.program_runner import ROOT

README = (ROOT / "README.md").read_text()


def readme_section(title: str) -> str:
    start = README.index(f"## {title}")
    end = README.find("\n## ", start + 1)
    return README[start : end if end > 0 else None]


def known_keys(section: str) -> list[str]:
    """The keys config validation accepts at a section path, read from its own unknown-key message."""
    raw = stack_raw_config("dev")
    raw.setdefault("istio", {})["mtlsExceptions"] = [{"namespace": "legacy"}]
    raw["ingress"]["jwtIssuers"] = [
        {"issuer": "https://idp.example.com", "jwksUri": "https://idp.example.com/k", "audiences": ["a"]}
    ]
    raw["egress"]["hosts"] = [{"host": "api.github.com"}]
    target = raw
    if section:
        for part in re.split(r"\.", section):
            name, _, index = part.partition("[")
            target = target.setdefault(name, {})
            if index:
                target = target[int(index.rstrip("]"))]
    target["zzzUnknownKey"] = 1
    with pytest.raises(ConfigError) as err:
        parse_config(raw)
    [problem] = [p for p in err.value.problems if "zzzUnknownKey" in p]
    return problem.split("allowed keys: ", 1)[1].split(", ")


SECTIONS = [
    "",
    "cluster",
    "cluster.maintenance",
    "cluster.maintenance.nodeOs",
    "cluster.systemPool",
    "cluster.userPool",
    "cluster.network",
    "keyVault",
    "sealedSecrets",
    "istio",
    "istio.mtlsExceptions[0]",
    "ingress",
    "ingress.jwtIssuers[0]",
    "egress",
    "egress.hosts[0]",
    "appNamespaces[0]",
]


@pytest.mark.parametrize("section", SECTIONS, ids=[s or "top" for s in SECTIONS])
def test_config_reference_names_every_key(section):
    reference = readme_section("Config reference")
    missing = [k for k in known_keys(section) if not re.search(rf"\b{re.escape(k)}\b", reference)]
    assert not missing, f"README config reference lacks {section or 'top-level'} keys: {missing}"


def test_config_reference_is_generated_from_the_declarations():
    assert gen_docs.BEGIN in README and gen_docs.END in README
    assert gen_docs.render_readme(README) == README, (
        "README config reference is out of date: run `venv/bin/python -m stack_config.gen_docs` (or `make docs`)"
    )
    assert gen_docs.main(["--check"]) == 0


def _declared(cls: type, prefix: str = "") -> list[tuple[str, str]]:
    found = []
    for _, spec in keys_of(cls):
        path = f"{prefix}.{spec.name}" if prefix else spec.name
        if isinstance(spec.kind, Section):
            found += _declared(spec.kind.cls, path)
        else:
            found.append((path, spec.doc))
            if isinstance(spec.kind, Objects):
                found += _declared(spec.kind.cls, f"{path}[]")
    return found


def test_every_key_has_a_description_and_a_row():
    rows = gen_docs.render_table()
    for path, doc in _declared(PlatformConfig):
        assert doc.strip(), f"{path} has no description"
        assert f"| `{path}` |" in rows, path


def test_quick_start_commands_exist():
    quick = readme_section("Quick start")
    assert "make plan STACK=dev" in quick and "make test" in quick
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^plan:", makefile, re.M) and re.search(r"^test:", makefile, re.M)
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_every_stack_file_is_documented():
    for stack_file in ROOT.glob("Pulumi.*.yaml"):
        stack = stack_file.stem.removeprefix("Pulumi.")
        assert f"`{stack}`" in README or f"-s {stack}" in README, stack
