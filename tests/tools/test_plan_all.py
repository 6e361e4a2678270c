"""Every stack at once: owners first, one summary table, the worst exit code."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

from tools import preview

FIXTURES = Path(__file__).parent / "fixtures"
PACK = FIXTURES / "policy_pack"
PROGRAM = FIXTURES / "program.py"


def test_stacks_come_after_the_stacks_their_config_references():
    configs = {
        "dev": {"platform:sealedSecrets": json.dumps({"sharedKeyStack": "contoso/platform/nonprod-keys"})},
        "nonprod-keys": {"platform:environment": "shared"},
        "prod": {"platform:environment": "prod"},
        "qa": {"platform:peer": "platform/dev"},
    }
    assert preview.stack_order(configs) == ["nonprod-keys", "dev", "prod", "qa"]
    assert preview.stack_order({"a": {"x": "o/p/b"}, "b": {"x": "o/p/a"}}) == ["a", "b"]  # a cycle: by name


def test_plan_all_previews_every_stack_prints_one_table_and_exits_with_the_worst_code(tmp_path):
    stacks = tmp_path / "stacks"
    stacks.mkdir()
    for name in ("secrets", "insecure"):
        (stacks / f"Pulumi.{name}.yaml").write_text((FIXTURES / f"Pulumi.{name}.yaml").read_text())
    (stacks / "Pulumi.broken.yaml").write_text("config: [unclosed\n")
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = preview.main(
            ["--all", str(stacks), "--program", str(PROGRAM), "--policy-pack", str(PACK), "--out", str(tmp_path / "o")]
        )
    assert code == preview.EXIT_CONFIG  # the worst of 2 (broken), 1 (insecure), 0 (secrets)
    table = stdout.getvalue().split("\n\n")[-1].splitlines()
    assert table[0].split() == ["stack", "resources", "mandatory", "advisory", "exit"]
    rows = {line.split()[0]: line.split()[1:] for line in table[1:4]}
    assert rows["insecure"][1:] == ["1", "0", "1"] and rows["secrets"][1:] == ["0", "0", "0"]
    assert rows["broken"] == ["-", "-", "-", "2"]
    assert table[4].startswith("plan-all: 3 stacks, worst exit 2")
    assert stderr.getvalue().count("Pulumi.broken.yaml: YAML syntax error") == 1
    assert json.loads((tmp_path / "o" / "insecure" / "plan.json").read_text())["stack"] == "insecure"
    assert not (tmp_path / "o" / "broken").exists()
