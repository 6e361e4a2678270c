"""Any stack file gives a clean answer: a config, or exit 2 with one line naming the file and the problem.

The corpus is generated here (the 50 MB file is sparse, nothing large is committed). Each broken file must give
exit 2, exactly one line on stderr that names the file, no traceback, and no output folder.
"""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tools import preview
from tools import stack_file as sf
from tools.program_runner import ROOT

FIXTURES = Path(__file__).parent / "fixtures"
PACK = FIXTURES / "policy_pack"
PROGRAM = FIXTURES / "program.py"


def _alias_bomb() -> str:
    lines = ["  a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"  a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    return "config:\n" + "\n".join(lines) + "\n"


def _write(content: str | bytes) -> Callable[[Path], Path]:
    def make(path: Path) -> Path:
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return path

    return make


def _directory(path: Path) -> Path:
    path.mkdir()
    return path


def _fifty_megabytes(path: Path) -> Path:
    with path.open("wb") as f:
        f.truncate(50 * 1024 * 1024)
    return path


def _missing(path: Path) -> Path:
    return path


# name -> (how to make it, what the one line must say)
CORPUS: dict[str, tuple[Callable[[Path], Path], str]] = {
    "syntax": (_write("config:\n  platform:cluster: {skuTier: Free\n"), "YAML syntax error at line"),
    "tab-indent": (_write("config:\n\tplatform:environment: dev\n"), "YAML syntax error at line 2"),
    "empty": (_write(""), "is empty"),
    "comments-only": (_write("# nothing but a comment\n"), "is empty"),
    "binary": (_write(b"\x7fELF\x02\x01\x01\x00\x00\x00"), "is binary, not YAML text (NUL byte at offset 7)"),
    "latin-1": (_write(b"config:\n  platform:namePrefix: caf\xe9\n"), "is not UTF-8 text (byte 0xe9 at offset 34)"),
    "top-level-list": (_write("- config\n- platform:environment\n"), "the top level is a list"),
    "top-level-scalar": (_write("just some words\n"), "the top level is a scalar (str)"),
    "config-scalar": (_write("config: 42\n"), "`config` must be a map of keys to values, not int"),
    "duplicate-keys": (
        _write("config:\n  platform:environment: dev\n  platform:environment: prod\n"),
        "duplicate key 'platform:environment' at line 3, column 3 (first at line 2, column 3)",
    ),
    "alias-bomb": (_write(_alias_bomb()), "expands to more than 100,000 values"),
    "python-tag": (
        _write('config: !!python/object/apply:os.system ["touch pwned"]\n'),
        "uses the YAML tag !!python/object/apply:os.system at line 1, column 9",
    ),
    "custom-tag": (_write("config:\n  platform:environment: !Ref dev\n"), "uses the YAML tag !Ref"),
    "two-documents": (_write("config: {}\n---\nconfig: {}\n"), "YAML syntax error"),
    "deep-nesting": (_write("config:\n  platform:x: " + "[" * 5000 + "]" * 5000 + "\n"), "nest"),
    "non-string-key": (_write("config:\n  443: https\n"), "config key 443 is not a string"),
    "unhashable-key": (_write("config:\n  [a, b]: c\n"), "found unhashable key"),
    "directory": (_directory, "is a directory, not a stack file"),
    "missing": (_missing, "no such file"),
    "fifty-megabytes": (_fifty_megabytes, "is 52,428,800 bytes; a stack file may be at most 1,048,576 bytes"),
}


def run_preview(*args: str) -> tuple[int, str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = preview.main(list(args))
    return code, stdout.getvalue(), stderr.getvalue()


@pytest.mark.parametrize("case", sorted(CORPUS))
def test_a_broken_stack_file_exits_2_with_one_line_and_writes_nothing(case, tmp_path):
    make, expected = CORPUS[case]
    path = make(tmp_path / f"Pulumi.{case}.yaml")
    out = tmp_path / "out"
    code, stdout, stderr = run_preview("--stack", str(path), "--out", str(out), "--policy-pack", str(PACK))
    assert code == preview.EXIT_CONFIG
    assert stdout == ""
    assert stderr.count("\n") == 1, stderr
    assert stderr.startswith(f"error: {path}: "), stderr
    assert expected in stderr
    assert "Traceback" not in stderr
    assert not out.exists()
    left = [path.name] if path.exists() else []
    assert sorted(p.name for p in tmp_path.iterdir()) == left  # no staging folder, no lock file


def test_the_command_line_answers_a_broken_file_the_same_way(tmp_path):
    path = tmp_path / "Pulumi.bomb.yaml"
    path.write_text(_alias_bomb())
    proc = subprocess.run(
        [sys.executable, "-m", "tools.preview", "--stack", str(path), "--out", str(tmp_path / "out")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    bomb = "expands to more than 100,000 values (YAML aliases: an alias bomb?)"
    assert proc.stderr.splitlines() == [f"error: {path}: {bomb}"]
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name", ["dev;rm -rf ~", "$(touch x)", "-dev", "dev dev"])
def test_a_stack_name_is_a_name_or_a_path(name, tmp_path):
    code, _, stderr = run_preview(f"--stack={name}", "--out", str(tmp_path / "out"), "--skip-policy")
    assert code == preview.EXIT_CONFIG
    assert stderr.count("\n") == 1 and "Traceback" not in stderr


def test_plain_yaml_features_still_read():
    text = (
        "# comment\nconfig:\n  base: &base {a: 1}\n  platform:x:\n    <<: *base\n    b: 2\n"
        "  platform:when: 2024-01-01\n  platform:flag: yes\n"
    )
    doc = sf.parse(Path("Pulumi.t.yaml"), ("\ufeff" + text).encode())
    assert doc["config"]["platform:x"] == {"a": 1, "b": 2}


def test_every_real_stack_file_reads():
    for path in ROOT.glob("Pulumi.*.yaml"):
        assert isinstance(sf.read(path).get("config"), dict), path


def test_a_stack_config_over_128_kib_reaches_the_pack(tmp_path):
    """The config travels to the pack in a file: an environment string over 128 KiB would fail execve (E2BIG)."""
    big = tmp_path / "Pulumi.big.yaml"
    blob = "x" * (200 * 1024)
    big.write_text((FIXTURES / "Pulumi.secrets.yaml").read_text() + f"  notes:blob: {blob}\n")
    code, stdout, stderr = run_preview(
        "--stack", str(big), "--program", str(PROGRAM), "--policy-pack", str(PACK), "--out", str(tmp_path / "out")
    )
    assert code == preview.EXIT_OK, stderr[-2000:]
    assert "OK: no mandatory policy violation" in stdout
