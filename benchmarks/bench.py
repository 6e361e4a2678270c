"""Benchmarks for the offline preview (``make bench``); prints results and PASS/FAIL per target.

1. Offline preview of prod, end to end in a fresh process (``python -m tools.preview --stack prod``),
   against its floor: a fresh interpreter importing exactly the SDK modules the preview loads
   (pulumi, and every pulumi_azure_native / pulumi_kubernetes / pulumi_tls module the program
   pulls in). Median of N runs each, after one warm-up. Target: preview <= 1.5x the floor.
2. Every stack at once (``python -m tools.preview --all``: one process, the SDK imported once, one pack
   process serving every stack) against each stack previewed alone. Target: all stacks <= 2x the slowest
   single stack.
3. The policy pack's throughput through the analyzer protocol (one pack process, Configure with
   prod.json, Analyze per resource then AnalyzeStack) on 1,000 and 10,000 resources generated
   from the prod program's own resources. Target: linear growth, 10,000 <= 12x the time of 1,000.

Results also go to out/bench/results.json (out/ is not committed: the numbers change every run).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SDK_PREFIXES = ("pulumi_azure_native", "pulumi_kubernetes", "pulumi_tls")
PREVIEW_TARGET = 1.5
PLAN_ALL_TARGET = 2.0
LINEAR_TARGET = 12.0


def pick_pack() -> Path:
    real = ROOT / "policies"
    return real if (real / "__main__.py").exists() else ROOT / "tests" / "tools" / "fixtures" / "policy_pack"


CPU_USED: list[float] = []  # CPU seconds of each timed command, its waited-for children (the pack) included


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(cmd: list[str]) -> float:
    start, cpu = time.perf_counter(), _children_cpu()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    CPU_USED.append(_children_cpu() - cpu)
    if proc.returncode not in (0,):
        raise SystemExit(
            f"command failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}"
        )
    return elapsed


def sdk_modules(stack: str) -> list[str]:
    """Every SDK module a preview of ``stack`` imports (found by running the program in a subprocess)."""
    code = (
        f"import sys; from tools.program_runner import run_program; run_program({stack!r}); "
        f"print('\\n'.join(sorted(m for m in sys.modules if m.split('.')[0] in {SDK_PREFIXES!r})))"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return ["pulumi"] + proc.stdout.split()


def bench_preview(runs: int, pack: Path) -> dict:
    modules = sdk_modules("prod")
    with tempfile.TemporaryDirectory() as tmp:
        mods_file = Path(tmp) / "modules.txt"
        mods_file.write_text("\n".join(modules))
        floor_cmd = [
            sys.executable,
            "-c",
            f"import importlib\nfor m in open({str(mods_file)!r}).read().split(): importlib.import_module(m)",
        ]
        preview_cmd = [
            sys.executable,
            "-m",
            "tools.preview",
            "--stack",
            "prod",
            "--out",
            str(Path(tmp) / "out"),
            "--policy-pack",
            str(pack),
            "--quiet",
        ]
        timed(floor_cmd), timed(preview_cmd)  # warm-up: bytecode caches, page cache
        floor, prev, floor_cpu, prev_cpu = [], [], [], []
        for _ in range(runs):  # interleaved so machine noise hits both alike
            floor.append(timed(floor_cmd))
            floor_cpu.append(CPU_USED[-1])
            prev.append(timed(preview_cmd))
            prev_cpu.append(CPU_USED[-1])
    f, p = statistics.median(floor), statistics.median(prev)
    fc, pc = statistics.median(floor_cpu), statistics.median(prev_cpu)
    return {
        "runs": runs,
        "sdkModules": len(modules),
        "importFloorSeconds": round(f, 3),
        "previewSeconds": round(p, 3),
        "ratio": round(p / f, 2),
        # On a shared machine wall time swings with the neighbours; CPU time (the pack process included) does not.
        "importFloorCpuSeconds": round(fc, 3),
        "previewCpuSeconds": round(pc, 3),
        "cpuRatio": round(pc / fc, 2),
        "target": PREVIEW_TARGET,
        "pass": p <= PREVIEW_TARGET * f,
        "samples": {"floor": [round(x, 3) for x in floor], "preview": [round(x, 3) for x in prev]},
    }


def stack_names() -> list[str]:
    return sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in ROOT.glob("Pulumi.*.yaml"))


def bench_plan_all(runs: int, pack: Path) -> dict:
    stacks = stack_names()
    with tempfile.TemporaryDirectory() as tmp:

        def preview_cmd(*which: str) -> list[str]:
            out = ["--out", str(Path(tmp) / "-".join(which))]
            return [sys.executable, "-m", "tools.preview", *which, *out, "--policy-pack", str(pack), "--quiet"]

        single_cmds = {s: preview_cmd("--stack", s) for s in stacks}
        all_cmd = preview_cmd("--all")
        timed(all_cmd)  # warm-up
        singles: dict[str, list[float]] = {s: [] for s in stacks}
        together: list[float] = []
        for _ in range(runs):  # interleaved so machine noise hits both alike
            for s, cmd in single_cmds.items():
                singles[s].append(timed(cmd))
            together.append(timed(all_cmd))
    single = {s: statistics.median(v) for s, v in singles.items()}
    slowest = max(single, key=lambda s: single[s])
    t = statistics.median(together)
    return {
        "runs": runs,
        "stacks": stacks,
        "singleSeconds": {s: round(v, 3) for s, v in single.items()},
        "slowestStack": slowest,
        "planAllSeconds": round(t, 3),
        "ratio": round(t / single[slowest], 2),
        "target": PLAN_ALL_TARGET,
        "pass": t <= PLAN_ALL_TARGET * single[slowest],
        "samples": {"all": [round(x, 3) for x in together], **{s: [round(x, 3) for x in singles[s]] for s in stacks}},
    }


def _cpu(host) -> float:
    """CPU seconds used so far by this process and the pack process (user + system)."""
    fields = Path(f"/proc/{host.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return time.process_time() + (int(fields[11]) + int(fields[12])) / ticks


def generated_resources(count: int, templates: list) -> list:
    out = []
    for i in range(count):
        t = templates[i % len(templates)]
        out.append(replace(t, urn=f"{t.urn}-{i}", name=f"{t.name}-{i}"))
    return out


def bench_policy(pack: Path, sizes: tuple[int, ...]) -> dict:
    import runpy

    from tools import analyzer_host as ah
    from tools import preview
    from tools.policy_config import load_policy_config, reconcile
    from tools.program_runner import ORGANIZATION, PROJECT, load_stack_config, run_program

    config, secret_keys = load_stack_config("prod")
    run = run_program("prod", config=(config, secret_keys))
    analyze, _, _ = preview.analyzer_resources(run, "prod")
    templates = [r for r in analyze if r.type != "pulumi:pulumi:Stack"]
    if len(templates) < 5:  # the program is still small: add the fixture program's resource shapes
        program = ROOT / "tests" / "tools" / "fixtures" / "program.py"
        extra = run_program(
            "prod", config=(config, secret_keys), program=lambda: runpy.run_path(str(program), run_name="__main__")
        )
        templates += [r for r in preview.analyzer_resources(extra, "prod")[0] if r.type != "pulumi:pulumi:Stack"]
    results: dict = {"templates": len(templates), "sizes": {}}
    with ah.PolicyPackHost(
        pack, project=PROJECT, stack="prod", organization=ORGANIZATION, config=config, secret_keys=secret_keys
    ) as host:
        info = host.info()
        cfg_file = preview.default_policy_config(pack, "prod")
        file_config = load_policy_config(cfg_file) if cfg_file else {}
        host.configure(reconcile(info.policies, file_config, initial=info.initial_config))
        host.analyze_many(generated_resources(200, templates))  # warm-up
        for n in sizes:
            resources = generated_resources(n, templates)
            cpu0, start = _cpu(host), time.perf_counter()
            diags = sum(len(d) for d in host.analyze_many(resources))
            mid = time.perf_counter()
            diags += len(host.analyze_stack(resources))
            end, cpu1 = time.perf_counter(), _cpu(host)
            results["sizes"][str(n)] = {
                "seconds": round(end - start, 3),
                "analyzeSeconds": round(mid - start, 3),
                "analyzeStackSeconds": round(end - mid, 3),
                "cpuSeconds": round(cpu1 - cpu0, 3),
                "resourcesPerSecond": round(n / (end - start)),
                "diagnostics": diags,
            }
    small, large = (results["sizes"][str(n)] for n in (sizes[0], sizes[-1]))
    # Judged on CPU time (this process + the pack process): what evaluation costs, which neighbours on a
    # shared 2-core machine cannot inflate; the wall-clock ratio is reported beside it.
    ratio = large["cpuSeconds"] / small["cpuSeconds"]
    results.update(
        {
            "ratio": round(ratio, 2),
            "wallRatio": round(large["seconds"] / small["seconds"], 2),
            "target": LINEAR_TARGET,
            "pass": ratio <= LINEAR_TARGET,
            "policies": len(info.policies),
            "pack": info.name,
        }
    )
    return results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=5, help="timed runs per command (median reported)")
    ap.add_argument("--policy-pack", default=None, help="policy pack folder (default: policies, else the fixture)")
    ap.add_argument(
        "--only", choices=("preview", "plan-all", "policy"), action="append", help="run only these parts (repeatable)"
    )
    args = ap.parse_args(argv)
    pack = Path(args.policy_pack) if args.policy_pack else pick_pack()
    parts = set(args.only or ("preview", "plan-all", "policy"))
    results: dict = {}

    print(f"policy pack: {pack.relative_to(ROOT) if pack.is_relative_to(ROOT) else pack}")
    if "preview" in parts:
        p = results["preview"] = bench_preview(args.runs, pack)
        print(
            f"offline preview of prod: median {p['previewSeconds']:.2f}s over {p['runs']} runs; "
            f"bare import of its {p['sdkModules']} SDK modules: {p['importFloorSeconds']:.2f}s; "
            f"ratio {p['ratio']:.2f} (target <= {PREVIEW_TARGET:g}x): {'PASS' if p['pass'] else 'FAIL'}; "
            f"CPU time {p['previewCpuSeconds']:.2f}s (pack included) vs {p['importFloorCpuSeconds']:.2f}s, "
            f"{p['cpuRatio']:.2f}x"
        )
    if "plan-all" in parts:
        a = results["planAll"] = bench_plan_all(max(1, min(args.runs, 3)), pack)
        alone = ", ".join(f"{s} {v:.2f}s" for s, v in a["singleSeconds"].items())
        print(
            f"every stack at once (plan-all): median {a['planAllSeconds']:.2f}s over {a['runs']} runs; each alone: "
            f"{alone}; ratio to the slowest ({a['slowestStack']}) {a['ratio']:.2f} "
            f"(target <= {PLAN_ALL_TARGET:g}x): {'PASS' if a['pass'] else 'FAIL'}"
        )
    if "policy" in parts:
        q = results["policy"] = bench_policy(pack, (1000, 10000))
        for n, s in q["sizes"].items():
            print(
                f"policy evaluation, {int(n):>6,} resources ({q['policies']} policies): {s['seconds']:.2f}s "
                f"(Analyze {s['analyzeSeconds']:.2f}s + AnalyzeStack {s['analyzeStackSeconds']:.2f}s), "
                f"{s['resourcesPerSecond']:,}/s wall, {s['cpuSeconds']:.2f}s CPU, {s['diagnostics']} diagnostics"
            )
        print(
            f"growth 1,000 -> 10,000 resources: {q['ratio']:.2f}x CPU time, {q['wallRatio']:.2f}x wall "
            f"(target <= {LINEAR_TARGET:g}x): {'PASS' if q['pass'] else 'FAIL'}"
        )
    out = ROOT / "out" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(f"results: {(out / 'results.json').relative_to(ROOT)}")
    return 0 if all(r["pass"] for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
