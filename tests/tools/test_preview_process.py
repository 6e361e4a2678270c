"""The preview as a process: `make plan` cannot be made to run shell code, output is swapped in whole, and
neither Ctrl-C, SIGTERM nor SIGKILL of the preview leaves a policy-pack process behind; a stop never hangs."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from tools import plan_render
from tools.program_runner import ROOT

FIXTURES = Path(__file__).parent / "fixtures"
PACK = FIXTURES / "policy_pack"
PROGRAM = FIXTURES / "program.py"


# --------------------------------------------------------------------------- make plan


def make(*variables: str) -> subprocess.CompletedProcess[str]:
    # -o: never rebuild the shared virtualenv from a test, whatever the requirement files' timestamps say.
    return subprocess.run(
        ["make", "--no-print-directory", "-o", "venv/.installed", *variables],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
@pytest.mark.parametrize(
    "variables",
    [
        ["STACK=dev; touch {canary}"],
        ["STACK=$(shell touch {canary})"],
        ["STACK=`touch {canary}`"],
        ["STACK=dev$$(touch {canary})"],
        ["STACK=dev", "OUT=../x; touch {canary}"],
        ["STACK=dev", "OUT=$(shell touch {canary})"],
        ["STACK=dev", "POLICY_CONFIG=$(shell touch {canary})"],
        ["STACK=dev", "OUT=../outside"],
        ["STACK=dev", "OUT=out/../../outside"],
        ["STACK=dev", "OUT=/tmp/outside"],
    ],
)
def test_make_plan_variables_are_data_never_shell_code(variables, tmp_path):
    canary = tmp_path / "canary"
    proc = make("plan", *(v.format(canary=canary) for v in variables))
    assert not canary.exists(), proc.stdout + proc.stderr
    assert proc.returncode == 2  # GNU make's own status for a failed recipe
    assert "make plan: the preview exited 2" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (ROOT.parent / "outside").exists() and not Path("/tmp/outside/plan.json").exists()


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_plan_runs_the_preview_into_out(tmp_path):
    out = ROOT / "out" / f"test-make-{os.getpid()}"
    try:
        proc = make("plan", "STACK=nonprod-keys", f"OUT={out.relative_to(ROOT)}")
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
        assert "OK: no mandatory policy violation" in proc.stdout
        assert json.loads((out / "plan.json").read_text())["stack"] == "nonprod-keys"
    finally:
        shutil.rmtree(out, ignore_errors=True)
        (out.parent / f".{out.name}.lock").unlink(missing_ok=True)


# --------------------------------------------------------------------------- whole output, never a mix


def _consistent(out: Path) -> str:
    """The stack whose output ``out`` holds, after checking plan.json and manifests/ come from the same run."""
    plan = json.loads((out / "plan.json").read_text())
    on_disk = sorted(f"manifests/{p.relative_to(out / 'manifests')}" for p in (out / "manifests").rglob("*.yaml"))
    assert on_disk == sorted(plan["manifests"])
    release = yaml.safe_load((out / "manifests/istio-system/helmrelease-istiod.yaml").read_text())
    mode = release["spec"]["values"]["meshConfig"]["outboundTrafficPolicy"]["mode"]
    assert mode == {"secrets": "REGISTRY_ONLY", "insecure": "ALLOW_ANY"}[plan["stack"]]
    return plan["stack"]


def test_two_concurrent_runs_into_one_folder_leave_one_whole_output(tmp_path):
    out = tmp_path / "out"
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tools.preview",
                "--stack",
                str(FIXTURES / stack_file),
                "--program",
                str(PROGRAM),
                "--policy-pack",
                str(PACK),
                "--out",
                str(out),
                "--quiet",
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for stack_file in ("Pulumi.secrets.yaml", "Pulumi.insecure.yaml")
    ]
    codes = [p.wait(timeout=300) for p in procs]
    assert codes == [0, 1], [p.stderr.read() for p in procs if p.stderr]
    assert _consistent(out) in ("secrets", "insecure")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".out.lock", "out"]  # no staging folder left


def test_racing_writers_never_leave_plan_and_manifests_disagreeing(tmp_path):
    out = tmp_path / "out"

    def plan_of(stack: str, n: int) -> tuple[dict, list[tuple[str, dict]]]:
        mode = {"secrets": "REGISTRY_ONLY", "insecure": "ALLOW_ANY"}[stack]
        manifests: list[tuple[str, dict]] = [(f"ns/cm-{stack}-{i}.yaml", {"kind": "ConfigMap"}) for i in range(n)]
        release = {"spec": {"values": {"meshConfig": {"outboundTrafficPolicy": {"mode": mode}}}}}
        manifests.append(("istio-system/helmrelease-istiod.yaml", release))
        return {"stack": stack, "manifests": [f"manifests/{rel}" for rel, _ in manifests]}, manifests

    def writer(stack: str, n: int) -> None:
        plan, manifests = plan_of(stack, n)
        for _ in range(15):
            plan_render.write_outputs(plan, manifests, out)

    threads = [threading.Thread(target=writer, args=args) for args in (("secrets", 3), ("insecure", 7))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    _consistent(out)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".out.lock", "out"]


def test_a_folder_the_preview_did_not_write_is_never_replaced(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError):
        plan_render.write_outputs({"stack": "x", "manifests": []}, [], tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_staging_left_by_a_killed_run_is_removed_by_the_next(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    abandoned = tmp_path / f".out.new-{dead.pid}-abc123"
    (abandoned / "manifests").mkdir(parents=True)
    plan_render.write_outputs({"stack": "x", "manifests": []}, [], tmp_path / "out")
    assert not abandoned.exists()


# --------------------------------------------------------------------------- no orphan pack


def _pack_processes(preview_pid: int) -> list[int]:
    """Pack processes started by the preview with this pid (their start environment names it)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if f"PLATFORM_PACK_PARENT={preview_pid}".encode() in environ and state != "Z":
            found.append(int(entry.name))
    return found


def _wait_for(condition, timeout: float = 120.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def _start_preview(program: Path, out: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tools.preview",
            "--stack",
            str(FIXTURES / "Pulumi.secrets.yaml"),
            "--program",
            str(program),
            "--policy-pack",
            str(PACK),
            "--out",
            str(out),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _exit_of(proc: subprocess.Popen[str]) -> tuple[int, str]:
    """The preview's exit code and stderr; both pipes are read while waiting, so a chatty exit cannot block."""
    try:
        _, stderr = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, stderr = proc.communicate()
        pytest.fail(f"the preview did not exit within 60s of the signal; its stderr:\n{stderr}")
    return proc.returncode, stderr


def _stop_everything(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.communicate()
    for pid in _pack_processes(proc.pid):
        with contextlib.suppress(ProcessLookupError):  # it may have exited since it was listed
            os.kill(pid, signal.SIGKILL)


def _program_holding_on(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A program that swallows the stop (as a hung gRPC close or thread join would), the file it makes on start and
    the one it makes once it has swallowed a stop."""
    started, swallowed = tmp_path / "started", tmp_path / "swallowed"
    program = tmp_path / "holds_on.py"
    program.write_text(
        "import pathlib, time\n"
        "while True:\n"
        "    try:\n"
        # The mark is made inside the try: once the file exists, every stop lands where it is swallowed.
        f"        pathlib.Path({str(started)!r}).touch()\n"
        "        time.sleep(600)\n"
        "    except BaseException:\n"
        f"        pathlib.Path({str(swallowed)!r}).touch()\n"
    )
    return program, started, swallowed


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs /proc to find the pack process")
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_killing_the_preview_mid_run_leaves_no_pack_process(sig, tmp_path):
    program = tmp_path / "slow.py"
    program.write_text("import time\ntime.sleep(600)\n")  # the run is mid-way while this sleeps
    out = tmp_path / "out"
    proc = _start_preview(program, out)
    try:
        assert _wait_for(lambda: bool(_pack_processes(proc.pid))), "the pack never started"
        packs = _pack_processes(proc.pid)
        proc.send_signal(sig)
        code, stderr = _exit_of(proc)
        assert code == (-sig if sig == signal.SIGKILL else 128 + sig), stderr
        assert _wait_for(lambda: not _pack_processes(proc.pid), timeout=30), f"pack processes left: {packs}"
        assert not out.exists()
        if sig != signal.SIGKILL:
            assert "Traceback" not in stderr
    finally:
        _stop_everything(proc)


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs /proc to find the pack process")
def test_a_stop_that_cannot_unwind_ends_at_the_deadline(tmp_path):
    # Whatever the main thread is stuck in, SIGTERM ends the preview STOP_DEADLINE_SECONDS later: exit 143, the
    # pack killed, nothing written, and stderr says where the preview was stuck.
    program, started, _ = _program_holding_on(tmp_path)
    out = tmp_path / "out"
    proc = _start_preview(program, out)
    try:
        assert _wait_for(started.exists), "the program never started"
        packs = _pack_processes(proc.pid)
        assert packs, "the pack is started before the program runs"
        proc.send_signal(signal.SIGTERM)
        code, stderr = _exit_of(proc)
        assert code == 143, stderr
        assert "still stopping 5s after SIGTERM; stopping hard" in stderr
        assert "holds_on.py" in stderr  # the dump names the frame that held on
        assert _wait_for(lambda: not _pack_processes(proc.pid), timeout=30), f"pack processes left: {packs}"
        assert not out.exists()
    finally:
        _stop_everything(proc)


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs /proc to find the pack process")
def test_a_second_signal_stops_at_once(tmp_path):
    # A CI runner's cancel escalates (SIGINT, then SIGTERM): the second signal does not wait for the deadline.
    program, started, swallowed = _program_holding_on(tmp_path)
    proc = _start_preview(program, tmp_path / "out")
    try:
        assert _wait_for(started.exists), "the program never started"
        proc.send_signal(signal.SIGINT)
        assert _wait_for(swallowed.exists, timeout=4), "the first signal never reached the program"
        proc.send_signal(signal.SIGTERM)
        code, stderr = _exit_of(proc)
        assert code == 143, stderr  # the deadline would end it as the first signal, 130
        assert "SIGTERM while stopping; stopping hard" in stderr
        assert _wait_for(lambda: not _pack_processes(proc.pid), timeout=30)
    finally:
        _stop_everything(proc)
