"""Offline preview: what a stack would create and whether the policy pack lets it through.

    python -m tools.preview --stack prod [--out out/prod] [--policy-pack policies]
                            [--policy-config policies/config/prod.json]
    python -m tools.preview --all [--out out]     # every Pulumi.*.yaml stack, one summary table

No cloud credentials, no Pulumi CLI, no plugins. The real ``__main__.py`` runs in-process under
Pulumi mocks with the stack's config file (``secure:`` values become marked placeholders); the
policy pack runs in its own process and is driven over the analyzer gRPC protocol exactly as
the engine drives it (see ``tools/analyzer_host.py``). The pack boots while the program runs.

Prints a readable plan (resource tree, counts by type, violations by policy, outputs) and
writes ``<out>/plan.json`` and ``<out>/manifests/<namespace>/<kind>-<name>.yaml``. Secrets are
shown as ``[secret]`` everywhere.

Besides the pack, the schema checks (``tools/schema_checks.py``) test what the program sends against
what Azure, Helm and Kubernetes accept; their findings are reported as violations of
``azure-schema`` / ``helm-values`` / ``k8s-schema``.

Exit codes: 0 no mandatory violation; 1 mandatory policy violation(s) or schema finding(s); 2 invalid
stack config or policy config (a stack file that is not plain YAML: one line, nothing written); 3 the program
or the policy pack failed. ``--all``: the worst of the stacks' codes.
"""

from __future__ import annotations

import argparse
import contextlib
import faulthandler
import json
import os
import re
import runpy
import signal
import sys
import threading
import time
import traceback
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from concurrent import futures
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NoReturn

from tools import analyzer_host as ah
from tools import plan_render, schema_checks, wire
from tools import stack_file as stack_files
from tools.findings import Finding, as_violation
from tools.policy_config import PolicyConfigError, load_policy_config, reconcile
from tools.program_runner import (
    ORGANIZATION,
    PROJECT,
    ROOT,
    ProgramRun,
    RecordedResource,
    config_of,
    dig,
    run_program,
)

EXIT_OK, EXIT_VIOLATIONS, EXIT_CONFIG, EXIT_ERROR = 0, 1, 2, 3
POLICY_CONFIG_BY_CLASS = {"nonprod": "dev.json", "prod": "prod.json"}


def environment_class(config: Mapping[str, str]) -> str:
    # stack_config treats a missing class as prod (the strict side); so does the preview.
    return config.get(f"{PROJECT}:environmentClass") or "prod"


def default_policy_config(pack_dir: Path, env_class: str) -> Path | None:
    path = pack_dir / "config" / POLICY_CONFIG_BY_CLASS.get(env_class, "prod.json")
    return path if path.exists() else None


def root_urn(stack: str) -> str:
    return f"urn:pulumi:{stack}::{PROJECT}::pulumi:pulumi:Stack::{PROJECT}-{stack}"


# --------------------------------------------------------------------------- resources as the engine sees them


def _secret_top_keys(r: RecordedResource) -> set[str]:
    return {p.split(".")[0] for p in r.secret_paths} | set(r.additional_secret_outputs)


def _config_value(raw: str) -> Any:
    if raw[:1] in "[{":
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw


def default_providers(run: ProgramRun, stack: str) -> dict[str, dict[str, Any]]:
    """The default provider the engine creates per package for resources with no explicit provider."""
    out: dict[str, dict[str, Any]] = {}
    for r in run.resources:
        pkg = r.type.split(":", 1)[0]
        if not r.custom or r.provider or pkg == "pulumi":
            continue
        name = "default_" + r.version.replace(".", "_") if r.version else "default"
        urn = f"urn:pulumi:{stack}::{PROJECT}::pulumi:providers:{pkg}::{name}"
        if urn in out:
            continue
        inputs: dict[str, Any] = {}
        secret_paths: list[str] = []
        for key, value in sorted(run.config.items()):
            if key.startswith(pkg + ":"):
                short = key.split(":", 1)[1]
                inputs[short] = _config_value(value)
                if key in run.secret_keys:
                    secret_paths.append(short)
        if r.version:
            inputs["version"] = r.version
        out[urn] = {
            "urn": urn,
            "type": f"pulumi:providers:{pkg}",
            "name": name,
            "inputs": inputs,
            "secret_paths": secret_paths,
        }
    return out


def _provider_urn(r: RecordedResource, defaults: Mapping[str, Mapping[str, Any]], stack: str) -> str:
    if r.provider:
        return r.provider.rsplit("::", 1)[0]
    pkg = r.type.split(":", 1)[0]
    if not r.custom or pkg == "pulumi":
        return ""
    name = "default_" + r.version.replace(".", "_") if r.version else "default"
    urn = f"urn:pulumi:{stack}::{PROJECT}::pulumi:providers:{pkg}::{name}"
    return urn if urn in defaults else ""


def analyzer_resources(
    run: ProgramRun, stack: str
) -> tuple[list[ah.AnalyzerResource], list[ah.AnalyzerResource], dict[str, dict[str, Any]]]:
    """(per-resource requests with inputs, stack-analysis resources with outputs, default providers)."""
    defaults = default_providers(run, stack)
    providers: dict[str, ah.ProviderRef] = {}
    for urn, d in defaults.items():
        providers[urn] = ah.ProviderRef(urn, d["type"], d["name"], wire.encode(d["inputs"], d["secret_paths"]))
    for r in run.resources:
        if r.type.startswith("pulumi:providers:"):
            providers[r.urn] = ah.ProviderRef(r.urn, r.type, r.name, wire.encode(r.inputs, r.secret_paths))

    root = root_urn(stack)
    stack_outputs = wire.encode(run.outputs, secret_keys=run.secret_outputs)
    stack_resource = ah.AnalyzerResource(urn=root, type="pulumi:pulumi:Stack", name=f"{PROJECT}-{stack}", properties={})
    # Like every resource: no inputs for the per-resource checks, its outputs for stack analysis.
    analyze, whole = [stack_resource], [replace(stack_resource, properties=stack_outputs)]
    for d in defaults.values():
        props = wire.encode(d["inputs"], d["secret_paths"])
        for into in (analyze, whole):
            into.append(ah.AnalyzerResource(urn=d["urn"], type=d["type"], name=d["name"], properties=props))
    for r in run.resources:
        request = ah.AnalyzerResource(
            urn=r.urn,
            type=r.type,
            name=r.name,
            parent=r.parent,
            protect=r.protect,
            ignore_changes=r.ignore_changes,
            delete_before_replace=r.delete_before_replace if r.delete_before_replace else None,
            additional_secret_outputs=r.additional_secret_outputs,
            provider=providers.get(_provider_urn(r, defaults, stack)),
            dependencies=r.dependencies,
            property_dependencies=r.property_dependencies,
            properties=wire.encode(r.inputs, r.secret_paths),
        )
        analyze.append(request)
        # Stack analysis sees what the resource became: its outputs, secret where the engine keeps them secret.
        outputs = r.outputs or r.inputs
        secret_keys = _secret_top_keys(r) & set(outputs)
        whole.append(replace(request, properties=wire.encode(outputs, r.secret_paths, secret_keys=secret_keys)))
    return analyze, whole, defaults


# --------------------------------------------------------------------------- the plan


def _secret_strings(run: ProgramRun) -> set[str]:
    """Every secret string value, to scrub from anything a policy pack says back."""
    found: set[str] = set()

    def collect(value: Any) -> None:
        if isinstance(value, str) and len(value) >= 6:
            found.add(value)
        elif isinstance(value, Mapping):
            for v in value.values():
                collect(v)
        elif isinstance(value, list):
            for v in value:
                collect(v)

    for r in run.resources:
        for p in r.secret_paths:
            collect(dig(r.inputs, p))
        for k in _secret_top_keys(r):
            collect(r.outputs.get(k))
    for k in run.secret_outputs:
        collect(run.outputs.get(k))
    return found


def _scrub(text: str, secrets: set[str]) -> str:
    for s in sorted(secrets, key=len, reverse=True):
        if s in text:
            text = text.replace(s, plan_render.MASK)
    return text


def _plan_resource(urn: str, type_: str, name: str, **details: Any) -> dict[str, Any]:
    """A resource as the plan shows it; ``details`` replace the defaults (a custom resource with no options)."""
    return {
        "urn": urn,
        "type": type_,
        "name": name,
        "parent": "",
        "custom": True,
        "provider": "",
        "protect": False,
        "ignoreChanges": [],
        "dependencies": [],
        "propertyDependencies": {},
        "additionalSecretOutputs": [],
        "deleteBeforeReplace": False,
        "retainOnDelete": False,
        "replaceOnChanges": [],
        "secretPaths": [],
        "inputs": {},
        **details,
    }


def build_plan(
    run: ProgramRun,
    *,
    stack: str,
    stack_path: Path,
    env_class: str,
    defaults: Mapping[str, Mapping[str, Any]],
    diagnostics: Sequence[ah.Diagnostic],
    pack: Mapping[str, Any] | None,
    warnings: Sequence[str],
    remediations: Sequence[Mapping[str, Any]] = (),
    findings: Sequence[Finding] = (),
) -> dict[str, Any]:
    root = root_urn(stack)
    secrets = _secret_strings(run)
    resources = _plan_resources(run, stack, defaults)
    violations = _violations(diagnostics, findings, resources, root, secrets)
    ordered = _with_violation_counts(resources, violations, root)
    return {
        "project": PROJECT,
        "organization": ORGANIZATION,
        "stack": stack,
        "environmentClass": env_class,
        "stackFile": _rel(stack_path),
        "rootUrn": root,
        "config": {k: _config_value(v) for k, v in sorted(run.config.items())},  # secure: values are placeholders
        "secretConfigKeys": sorted(run.secret_keys),
        "policyPack": dict(pack) if pack else None,
        "resources": ordered,
        "violations": violations,
        "remediations": list(remediations),
        "outputs": plan_render.mask(run.outputs, secret_keys=run.secret_outputs),
        "warnings": [_scrub(w, secrets) for w in warnings],
        "summary": _summary(ordered, violations),
    }


def _plan_resources(run: ProgramRun, stack: str, defaults: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The stack, the default providers and every registered resource, inputs masked, in tree order."""
    root = root_urn(stack)
    resources = [_plan_resource(root, "pulumi:pulumi:Stack", f"{PROJECT}-{stack}", custom=False)]
    for d in defaults.values():
        resources.append(
            _plan_resource(
                d["urn"],
                d["type"],
                d["name"],
                secretPaths=d["secret_paths"],
                inputs=plan_render.mask(d["inputs"], d["secret_paths"]),
                synthesized="default provider",
            )
        )
    for r in run.resources:
        resources.append(
            _plan_resource(
                r.urn,
                r.type,
                r.name,
                parent=r.parent,
                custom=r.custom,
                provider=_provider_urn(r, defaults, stack),
                protect=r.protect,
                ignoreChanges=list(r.ignore_changes),
                dependencies=sorted(r.dependencies),
                propertyDependencies={k: sorted(v) for k, v in sorted(r.property_dependencies.items()) if v},
                additionalSecretOutputs=list(r.additional_secret_outputs),
                deleteBeforeReplace=r.delete_before_replace,
                retainOnDelete=r.retain_on_delete,
                replaceOnChanges=list(r.replace_on_changes),
                secretPaths=sorted(r.secret_paths),
                inputs=plan_render.mask(r.inputs, r.secret_paths),
            )
        )
    return [r for _, r in plan_render.tree_order(resources, root)]


def _violations(
    diagnostics: Sequence[ah.Diagnostic],
    findings: Sequence[Finding],
    resources: Sequence[Mapping[str, Any]],
    root: str,
    secrets: set[str],
) -> list[dict[str, Any]]:
    """The pack's diagnostics and the schema findings as plan violations, secrets scrubbed, sorted.

    A pack diagnostic names the resource it lands on (the stack when its URN is unknown).
    """
    by_urn = {r["urn"]: r for r in resources}
    violations = []
    for diag in diagnostics:
        target = by_urn.get(diag.urn) or by_urn[root]
        violations.append(
            {
                "policy": diag.policy_name,
                "policyPack": diag.policy_pack_name,
                "policyPackVersion": diag.policy_pack_version,
                "enforcementLevel": diag.enforcement_level,
                "severity": diag.severity,
                "description": _scrub(diag.description, secrets),
                "message": _scrub(diag.message, secrets),
                "urn": target["urn"],
                "resourceType": target["type"],
                "resourceName": target["name"],
                "source": "policy-pack",
            }
        )
    for f in findings:
        violation = dict(as_violation(f))
        violation["message"] = _scrub(violation["message"], secrets)
        violations.append(violation)
    violations.sort(key=lambda v: (v["policy"], v["urn"], v["message"]))
    return violations


def _with_violation_counts(
    resources: Sequence[dict[str, Any]], violations: Sequence[Mapping[str, Any]], root: str
) -> list[dict[str, Any]]:
    """Each resource with how many violations land on it (the stack takes those whose URN it does not know)."""
    known = {r["urn"] for r in resources}
    counts = Counter(v["urn"] if v["urn"] in known else root for v in violations)
    return [{**r, "violations": counts[r["urn"]]} if counts[r["urn"]] else r for r in resources]


def _summary(resources: Sequence[Mapping[str, Any]], violations: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The plan's counts; ``manifests`` is filled in once they are rendered."""
    return {
        "resources": len(resources),
        "byType": plan_render.by_type(resources),
        "mandatory": sum(1 for v in violations if v["enforcementLevel"] == "mandatory"),
        "advisory": sum(1 for v in violations if v["enforcementLevel"] == "advisory"),
        "manifests": 0,
    }


def _rel(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


# --------------------------------------------------------------------------- command line


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m tools.preview",
        description="Offline preview: run the program under mocks, check it with the policy pack, print the plan.",
        epilog="Exit codes: 0 ok, 1 mandatory policy violations or schema findings, 2 invalid stack or policy config, "
        "3 program or policy pack failure. With --all: the worst of the stacks' codes.",
    )
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--stack", help="stack name (reads Pulumi.<stack>.yaml) or a stack config file path")
    which.add_argument(
        "--all",
        nargs="?",
        const=str(ROOT),
        metavar="DIR",
        help="every Pulumi.*.yaml stack (of the project, or of DIR), owners first, in one process; a summary table",
    )
    p.add_argument("--out", help="output folder (default: out/<stack>; with --all, <out>/<stack>, default out/)")
    p.add_argument("--out-within", help="refuse an output folder outside this folder (make passes out/)")
    p.add_argument("--policy-pack", default="policies", help="policy pack folder (default: policies)")
    p.add_argument(
        "--policy-config",
        help="policy pack config JSON (default: <pack>/config/dev.json for nonprod, prod.json for prod)",
    )
    p.add_argument("--skip-policy", action="store_true", help="do not run the policy pack")
    p.add_argument("--program", help="a program file to run instead of __main__.py (tests)")
    p.add_argument("--quiet", action="store_true", help="print only the verdict line")
    args = p.parse_args(argv)
    args.policy_pack = args.policy_pack or "policies"  # `make plan` passes empty values for unset variables
    return args


@dataclass(frozen=True)
class StackInput:
    """A stack file read and checked: its name, path and the config the program and the pack get."""

    name: str
    path: Path
    config: dict[str, str]
    secret_keys: list[str]

    @property
    def env_class(self) -> str:
        return environment_class(self.config)


@dataclass(frozen=True)
class StackResult:
    stack: str
    code: int
    resources: int | None = None
    mandatory: int | None = None
    advisory: int | None = None


def read_stack(arg: str | Path) -> StackInput:
    """The stack's file parsed and its config encoded; ``StackFileError`` (one line) for any bad file."""
    path, name = stack_files.resolve(arg, ROOT)
    document = stack_files.read(path)
    config, secret_keys = config_of(document)
    return StackInput(name, path, config, secret_keys)


def _fail(stack: str, message: str, code: int) -> StackResult:
    print(message, file=sys.stderr)
    return StackResult(stack, code)


def _out_dir(args: argparse.Namespace, stack: str, *, many: bool) -> Path:
    if many:
        return Path(args.out or "out") / stack
    return Path(args.out or f"out/{stack}")


def _check_out(out_dir: Path, within: str | None) -> str | None:
    """Why ``out_dir`` may not be written (None when it may): outside ``within``, or a folder that is not ours."""
    target = out_dir.resolve()
    if within is not None:
        base = Path(within).resolve()
        if target == base or not target.is_relative_to(base):
            return f"error: output folder {out_dir} is not inside {within}/"
    if target.exists() and not plan_render.is_replaceable(target):
        return (
            f"error: output folder {out_dir} holds files the preview did not write; "
            "pass an empty or new folder (the preview replaces its output folder as a whole)"
        )
    return None


def _start_pack(args: argparse.Namespace, first: StackInput) -> ah.PolicyPackHost:
    # Started before the program runs: the pack process boots on the other core meanwhile.
    return ah.PolicyPackHost(
        Path(args.policy_pack),
        project=PROJECT,
        stack=first.name,
        organization=ORGANIZATION,
        config=first.config,
        secret_keys=first.secret_keys,
    ).start()


def _policy_config(args: argparse.Namespace, env_class: str) -> tuple[Path | None, str | None]:
    """(policy config file, error line) for a stack of ``env_class``."""
    if args.skip_policy:
        return None, None
    if args.policy_config:
        path = Path(args.policy_config)
        return (path, None) if path.is_file() else (None, f"error: policy config {path} does not exist")
    return default_policy_config(Path(args.policy_pack), env_class), None


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.all:
        return plan_all(args)
    return preview_one(args)


def preview_one(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    try:
        stack = read_stack(args.stack)
    except stack_files.StackFileError as e:
        return _fail(str(args.stack), f"error: {e}", EXIT_CONFIG).code
    host: ah.PolicyPackHost | None = None
    if not args.skip_policy:
        try:
            host = _start_pack(args, stack)
        except ah.PolicyPackError as e:
            hint = "(pass --policy-pack <dir>, or --skip-policy to preview without policies)"
            return _fail(stack.name, f"error: {e}\n{hint}", EXIT_ERROR).code
    try:
        return preview_stack(args, stack, host, _out_dir(args, stack.name, many=False), started).code
    finally:
        if host is not None:
            host.close()


def preview_stack(
    args: argparse.Namespace,
    stack: StackInput,
    host: ah.PolicyPackHost | None,
    out_dir: Path,
    started: float,
    *,
    last: bool = True,
) -> StackResult:
    """Preview one stack (the pack, when given, already started); prints the plan and writes ``out_dir``.

    ``last``: no other stack follows, so the pack is told to stop as soon as it has answered.
    """
    try:
        policy_config = _stack_policy_config(args, stack, out_dir)
        run = _run_stack_program(args, stack)
        analyze, whole, defaults = analyzer_resources(run, stack.name)
        checked, findings, warnings = _check(args, stack, host, run, analyze, whole, policy_config)
    except _StackFailed as e:
        return _fail(stack.name, str(e), e.code)
    if host is not None and last:
        host.stop()  # the pack shuts down while the plan is written
    plan = build_plan(
        run,
        stack=stack.name,
        stack_path=stack.path,
        env_class=stack.env_class,
        defaults=defaults,
        diagnostics=checked.diagnostics,
        pack=checked.pack,
        warnings=warnings + checked.warnings,
        remediations=checked.remediations,
        findings=findings,
    )
    _write_plan(plan, out_dir)
    _print_plan(plan, out_dir, started, quiet=args.quiet)
    summary = plan["summary"]
    code = EXIT_VIOLATIONS if summary["mandatory"] else EXIT_OK
    return StackResult(stack.name, code, summary["resources"], summary["mandatory"], summary["advisory"])


class _StackFailed(Exception):
    """A stack the preview cannot plan: the message for stderr and the exit code."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def _stack_policy_config(args: argparse.Namespace, stack: StackInput, out_dir: Path) -> Path | None:
    """The stack's policy config file, once ``out_dir`` may be written and the config file exists."""
    refused = _check_out(out_dir, args.out_within)
    if refused:
        raise _StackFailed(refused, EXIT_CONFIG)
    policy_config, error = _policy_config(args, stack.env_class)
    if error:
        raise _StackFailed(error, EXIT_CONFIG)
    return policy_config


def _run_stack_program(args: argparse.Namespace, stack: StackInput) -> ProgramRun:
    """The program (``--program`` or ``__main__.py``) run under mocks with the stack's config."""
    from stack_config import ConfigError

    program = None
    if args.program:
        program_path = str(Path(args.program).resolve())
        program = lambda: runpy.run_path(program_path, run_name="__main__")  # noqa: E731
    try:
        return run_program(stack.name, config=(stack.config, stack.secret_keys), program=program)
    except ConfigError as e:
        problems = "".join(f"\n  - {problem}" for problem in e.problems)
        raise _StackFailed(f"Stack {stack.name}: invalid configuration ({stack.path}):{problems}", EXIT_CONFIG) from e
    except Exception as e:  # noqa: BLE001 - any program failure is reported, as `pulumi preview` would
        raise _StackFailed(f"Stack {stack.name}: the program failed:\n{traceback.format_exc()}", EXIT_ERROR) from e


def _check(
    args: argparse.Namespace,
    stack: StackInput,
    host: ah.PolicyPackHost | None,
    run: ProgramRun,
    analyze: list[ah.AnalyzerResource],
    whole: list[ah.AnalyzerResource],
    policy_config: Path | None,
) -> tuple[PolicyCheck, list[Finding], list[str]]:
    """(the pack's verdict, the schema findings, their warnings) for one stack's run."""
    # The pack evaluates in its own process while this one runs the schema checks: the two costs overlap.
    with futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="policy-check") as pool:
        policy = pool.submit(_policy_check, host, stack, analyze, whole, policy_config, Path(args.policy_pack))
        findings, warnings = schema_checks.check_run(run)
    try:
        return policy.result(), findings, warnings
    except PolicyConfigError as e:
        raise _StackFailed(f"Stack {stack.name}: {e}", EXIT_CONFIG) from e
    except ah.PolicyPackError as e:
        raise _StackFailed(f"Stack {stack.name}: {e}", EXIT_ERROR) from e


def _write_plan(plan: dict[str, Any], out_dir: Path) -> None:
    """plan.json and the Kubernetes manifests into ``out_dir``; the plan records which manifests it wrote."""
    manifests = plan_render.kubernetes_manifests(plan["resources"])
    plan["summary"]["manifests"] = len(manifests)
    plan["manifests"] = [f"manifests/{rel}" for rel, _ in manifests]
    plan_render.write_outputs(plan, manifests, out_dir)


def _print_plan(plan: Mapping[str, Any], out_dir: Path, started: float, *, quiet: bool) -> None:
    text = plan_render.render_text(plan, out_dir)
    if quiet:
        text = text.rstrip("\n").rsplit("\n", 1)[-1] + "\n"
    sys.stdout.write(text)
    sys.stdout.write(f"({time.perf_counter() - started:.2f}s)\n")


@dataclass
class PolicyCheck:
    diagnostics: list[ah.Diagnostic] = field(default_factory=list)
    remediations: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    pack: dict[str, Any] | None = None


def _policy_check(
    host: ah.PolicyPackHost | None,
    stack: StackInput,
    analyze: list[ah.AnalyzerResource],
    whole: list[ah.AnalyzerResource],
    policy_config: Path | None,
    pack_dir: Path,
) -> PolicyCheck:
    """The pack's verdict on one stack's resources, as the engine asks for it."""
    if host is None:
        return PolicyCheck(warnings=["policy pack skipped (--skip-policy)"])
    warnings = []
    if not host.uses_pack_virtualenv:
        warnings.append(
            f"policy pack ran with {host.python} because its virtualenv ({_rel(pack_dir)}/venv) does not exist; "
            "`make policy-venv` creates the interpreter `pulumi preview --policy-pack` uses"
        )
    if host.stack != stack.name:
        host.retarget(stack.name, stack.config, stack.secret_keys)
    if not host.ready():
        import jsonschema  # noqa: F401 - imported while the pack is still booting, not after
    info = host.info()
    file_config = load_policy_config(policy_config) if policy_config else {}
    known = {p.name for p in info.policies} | {"all"}
    warnings += [f"policy config names an unknown policy: {n}" for n in sorted(set(file_config) - known)]
    reconciled = reconcile(info.policies, file_config, initial=info.initial_config)
    host.configure(reconciled)
    remediations = []
    if any(c.enforcement_level == "remediate" for c in reconciled.values()):
        remediations = _remediate(host, analyze)
    logged = len(host.engine_logs)
    diagnostics = [d for diags in host.analyze_many(analyze) for d in diags]
    diagnostics.extend(host.analyze_stack(whole, root_urn=root_urn(stack.name)))
    warnings += [f"policy pack log ({sev}): {msg}" for sev, _urn, msg in host.engine_logs[logged:]]
    levels = {n: c.enforcement_level for n, c in reconciled.items()}
    pack = _pack_description(info, host, levels, pack_dir, policy_config)
    return PolicyCheck(diagnostics=diagnostics, remediations=remediations, warnings=warnings, pack=pack)


def _remediate(host: ah.PolicyPackHost, analyze: list[ah.AnalyzerResource]) -> list[dict[str, Any]]:
    """Ask the pack's remediations of each resource; a changed resource is analyzed as remediated (in place)."""
    remediations = []
    for r in analyze:
        for rem in host.remediate(r):
            changed = rem.properties is not None
            remediations.append(
                {"policy": rem.policy_name, "urn": r.urn, "diagnostic": rem.diagnostic, "changed": changed}
            )
            if rem.properties is not None:
                r.properties = rem.properties
    return remediations


def _pack_description(
    info: ah.AnalyzerInfo,
    host: ah.PolicyPackHost,
    levels: Mapping[str, str],
    pack_dir: Path,
    policy_config: Path | None,
) -> dict[str, Any]:
    """The pack as the plan records it: where it and its config came from, each policy at its configured level."""
    return {
        "name": info.name,
        "version": info.version,
        "pluginVersion": host.plugin_version,
        "path": _rel(pack_dir),
        "config": _rel(policy_config) if policy_config else None,
        "policies": [
            {
                "name": p.name,
                "enforcementLevel": levels.get(p.name, p.enforcement_level),
                "severity": p.severity,
                "type": p.policy_type,
                "description": p.description,
            }
            for p in info.policies
        ],
    }


# A stop signal gets this long to unwind (the pack stopped, no output swapped in) before the preview stops hard.
# Under the GitHub Actions runner's cancel sequence (actions/runner src/Runner.Sdk/ProcessInvoker.cs: SIGINT, 7.5 s,
# SIGTERM, 2.5 s, SIGKILL) the preview is gone before the SIGKILL, which would leave a pack to PR_SET_PDEATHSIG and
# a staging directory behind.
STOP_DEADLINE_SECONDS = 5.0
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def _stop_on_signal() -> Iterator[None]:
    """Ctrl-C or SIGTERM (a cancelled CI job): exit 128+signal, the pack stopped, no half-written output.

    The first signal unwinds (``SystemExit``: ``finally`` blocks close the pack and drop the staging directory)
    within ``STOP_DEADLINE_SECONDS``; past that, or at a second signal, the preview stops hard. Unwinding runs
    through gRPC, asyncio and Pulumi's runtime, any of which may be mid-call when the signal lands: a stop that
    could wait forever is the one thing a cancel must never do.
    """
    first: list[int] = []  # the first stop signal, once one came
    stop_requested = threading.Event()

    def hold_the_deadline() -> None:
        stop_requested.wait()
        time.sleep(STOP_DEADLINE_SECONDS)
        signum = first[0]
        _stop_hard(signum, f"still stopping {STOP_DEADLINE_SECONDS:.0f}s after {signal.Signals(signum).name}")

    # Started now, not from the handler: starting a thread takes threading's own locks, which the signal may have
    # interrupted the main thread holding. The handler only sets an Event nobody else touches.
    threading.Thread(target=hold_the_deadline, name="preview-stop-deadline", daemon=True).start()

    def stop(signum: int, _frame: Any) -> None:
        if first:
            _stop_hard(signum, f"{signal.Signals(signum).name} while stopping")
        first.append(signum)
        stop_requested.set()
        raise SystemExit(128 + signum)

    previous = {s: signal.signal(s, stop) for s in STOP_SIGNALS}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _stop_hard(signum: int, why: str) -> NoReturn:
    """Exit now, as 128+signal: kill the pack, say where the preview was stuck (for whoever reads the CI log)."""
    ah.kill_live_packs()
    # Straight to file descriptor 2: the stuck main thread may hold sys.stderr's lock.
    with contextlib.suppress(OSError):
        os.write(2, f"preview: {why}; stopping hard. Where each thread was:\n".encode())
        faulthandler.dump_traceback(file=2, all_threads=True)
    os._exit(128 + signum)


# --------------------------------------------------------------------------- every stack at once


def stack_order(configs: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Stack names, each after the stacks it references (``org/project/<stack>`` in its config), else by name."""
    names = set(configs)
    reference = re.compile(r"^(?:[\w.-]+/)?(?:[\w.-]+/)(?P<stack>[\w.-]+)$")

    def strings(value: Any) -> Iterator[str]:
        if isinstance(value, str):
            yield value
        elif isinstance(value, Mapping):
            for v in value.values():
                yield from strings(v)
        elif isinstance(value, list):
            for v in value:
                yield from strings(v)

    needs: dict[str, set[str]] = {}
    for name, config in configs.items():
        found = set()
        for text in strings({k: _config_value(v) for k, v in config.items()}):
            m = reference.match(text)
            if m and m["stack"] in names and m["stack"] != name:
                found.add(m["stack"])
        needs[name] = found
    order: list[str] = []
    while len(order) < len(names):
        ready = sorted(n for n in names - set(order) if needs[n] <= set(order))
        order.append(ready[0] if ready else sorted(names - set(order))[0])  # a cycle: by name
    return order


def plan_all(args: argparse.Namespace) -> int:
    """Preview every ``Pulumi.*.yaml`` stack in this process (SDK imported once, one pack process reused)."""
    started = time.perf_counter()
    results: dict[str, StackResult] = {}
    inputs: dict[str, StackInput] = {}
    for path in sorted(Path(args.all).glob("Pulumi.*.yaml")):
        try:
            stack = read_stack(path)
        except stack_files.StackFileError as e:
            name = path.name.removeprefix("Pulumi.").removesuffix(".yaml")
            results[name] = _fail(name, f"error: {e}", EXIT_CONFIG)
            continue
        inputs[stack.name] = stack
    order = stack_order({name: s.config for name, s in inputs.items()})
    host: ah.PolicyPackHost | None = None
    try:
        if order and not args.skip_policy:
            try:
                host = _start_pack(args, inputs[order[0]])
            except ah.PolicyPackError as e:
                print(f"error: {e}", file=sys.stderr)
                return EXIT_ERROR
        for i, name in enumerate(order):
            print(f"== stack {name}", flush=True)
            out_dir = _out_dir(args, name, many=True)
            one = preview_stack(args, inputs[name], host, out_dir, time.perf_counter(), last=i == len(order) - 1)
            results[name] = one
            if one.code == EXIT_ERROR and host is not None and host.proc is not None and host.proc.poll() is not None:
                host.close()  # the pack died: the next stack gets a fresh one
                host = None
                if i + 1 < len(order):
                    try:
                        host = _start_pack(args, inputs[order[i + 1]])
                    except ah.PolicyPackError as e:
                        print(f"error: {e}", file=sys.stderr)
                        return EXIT_ERROR
    finally:
        if host is not None:
            host.close()
    rows = [results[n] for n in order] + [r for n, r in sorted(results.items()) if n not in order]
    sys.stdout.write(summary_table(rows))
    worst = max((r.code for r in rows), default=EXIT_OK)
    print(f"plan-all: {len(rows)} stacks, worst exit {worst} ({time.perf_counter() - started:.2f}s)")
    return worst


def summary_table(rows: Sequence[StackResult]) -> str:
    header = ("stack", "resources", "mandatory", "advisory", "exit")
    cells = [header] + [
        (r.stack, *("-" if v is None else str(v) for v in (r.resources, r.mandatory, r.advisory)), str(r.code))
        for r in rows
    ]
    width = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(width[i]) if i == 0 else c.rjust(width[i]) for i, c in enumerate(row)) for row in cells]
    return "\n".join(["", *lines]) + "\n"


if __name__ == "__main__":
    # The process's own signals, so here and not in main(): a caller running main() in-process keeps its own.
    with _stop_on_signal():
        exit_code = main()
    sys.exit(exit_code)
