"""The generated tables of ``docs/outputs.md``, one per stack role, from the contract table ``OUTPUTS``.

Regenerate with ``python -m components.outputs_docs --write-docs`` (``make docs``); a test fails when they drift.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from components.platform_outputs import CONTRACT_VERSION, ROLE_ENVIRONMENT, ROLE_KEY_OWNER, ROLES, outputs_for

DOCS_PATH = Path(__file__).resolve().parent.parent / "docs" / "outputs.md"
DOCS_BEGIN = "<!-- BEGIN GENERATED: outputs table (python -m components.outputs_docs --write-docs) -->"
DOCS_END = "<!-- END GENERATED: outputs table -->"
_ROLE_TITLES = {
    ROLE_ENVIRONMENT: "Environment stacks (`dev`, `prod`, ...; stackRole `environment`)",
    ROLE_KEY_OWNER: "Non-prod key-owner stack (`nonprod-keys`; stackRole `sealingKeyOwner`)",
}


def _example_md(value: Any) -> str:
    if isinstance(value, str):
        text = value if "\n" not in value else value.split("\n", 1)[0] + " ..."
    else:
        text = json.dumps(value)
    if len(text) > 70:
        text = text[:67] + "..."
    return "`" + text.replace("|", "\\|").replace("`", "'") + "`"


def render_tables() -> str:
    """The generated part of ``docs/outputs.md``: one table per role, from ``OUTPUTS``."""
    lines = [DOCS_BEGIN, "", f"Contract version: **{CONTRACT_VERSION}**", ""]
    for role in ROLES:
        lines += [
            f"### {_ROLE_TITLES[role]}",
            "",
            "| output | type | secret | example | use it for |",
            "|---|---|---|---|---|",
        ]
        for spec in outputs_for(role):
            desc = spec.description.replace("|", "\\|")
            lines.append(
                f"| `{spec.name}` | `{spec.type}` | {'**yes**' if spec.secret else 'no'} | "
                f"{_example_md(spec.example)} | {desc} |"
            )
        lines.append("")
    lines.append(DOCS_END)
    return "\n".join(lines)


def generated_section(text: str) -> str | None:
    """The generated block inside a docs file's text (``None`` when the markers are missing)."""
    start, end = text.find(DOCS_BEGIN), text.find(DOCS_END)
    if start < 0 or end < start:
        return None
    return text[start : end + len(DOCS_END)]


def write_docs(path: Path = DOCS_PATH) -> bool:
    """Replace the generated block of ``docs/outputs.md``; returns whether the file changed."""
    text = path.read_text()
    current = generated_section(text)
    if current is None:
        raise SystemExit(f"{path}: markers {DOCS_BEGIN!r} ... {DOCS_END!r} not found")
    new = text.replace(current, render_tables())
    if new != text:
        path.write_text(new)
    return new != text


if __name__ == "__main__":  # pragma: no cover - developer entry point
    if sys.argv[1:] == ["--write-docs"]:
        print(f"{DOCS_PATH}: {'updated' if write_docs() else 'already up to date'}")
    else:
        print(render_tables())
