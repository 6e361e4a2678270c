"""Run the real ``__main__.py`` in-process under Pulumi mocks and record everything it registers.

Shared by the unit tests (``tests/conftest.py``) and the offline preview (``tools/preview.py``):
both need the same thing, a stack's config file in, every resource with its inputs and
options out, plus the stack outputs with their secrecy.

Nothing here talks to a cloud: the mocks (``tools/mocks.py``) answer with realistic values for
what the program reads back (cluster credentials and OIDC issuer, vault URI, client config, TLS
keys, StackReference outputs); properties are read in the wire format of ``tools/wire.py``.
"""

from __future__ import annotations

import json
import logging
import runpy
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools import stack_file as stack_files
from tools import wire

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "platform"
ORGANIZATION = "contoso"

SECRET_PLACEHOLDER = "[placeholder for secure value of {key}]"

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


# --------------------------------------------------------------------------- records


@dataclass
class RecordedResource:
    """One ``RegisterResource`` call as the engine would see it."""

    urn: str
    type: str
    name: str
    custom: bool
    parent: str
    provider: str
    providers: dict[str, str]
    inputs: dict[str, Any]
    secret_paths: list[str]
    protect: bool
    ignore_changes: list[str]
    dependencies: list[str]
    property_dependencies: dict[str, list[str]]
    additional_secret_outputs: list[str]
    replace_on_changes: list[str]
    delete_before_replace: bool
    retain_on_delete: bool
    version: str
    id: str | None = None
    outputs: dict[str, Any] = field(default_factory=dict)

    def get(self, dotted: str, default: Any = None) -> Any:
        """Read a nested input by dotted path, e.g. ``autoUpgradeProfile.nodeOSUpgradeChannel``."""
        return dig(self.inputs, dotted, default)

    def is_secret(self, dotted: str) -> bool:
        return wire.in_secret(dotted, self.secret_paths)


@dataclass
class ProgramRun:
    stack: str
    config: dict[str, str]
    secret_keys: list[str]
    resources: list[RecordedResource]
    outputs: dict[str, Any]
    secret_outputs: set[str]

    def of_type(self, type_token: str) -> list[RecordedResource]:
        return [r for r in self.resources if r.type == type_token]

    def one(self, type_token: str, name: str | None = None) -> RecordedResource:
        found = [r for r in self.of_type(type_token) if name is None or r.name == name]
        if len(found) != 1:
            names = [r.name for r in self.of_type(type_token)]
            raise AssertionError(f"expected one {type_token} named {name!r}, found {len(found)} among {names}")
        return found[0]

    def by_urn(self, urn: str) -> RecordedResource:
        for r in self.resources:
            if r.urn == urn:
                return r
        raise KeyError(urn)

    def children_of(self, parent: RecordedResource) -> list[RecordedResource]:
        return [r for r in self.resources if r.parent == parent.urn]

    def k8s_objects(self, kind: str) -> list[RecordedResource]:
        """Kubernetes resources of a kind (``PeerAuthentication``), any apiVersion."""
        return [r for r in self.resources if r.type.startswith("kubernetes:") and r.type.rsplit(":", 1)[-1] == kind]


def dig(obj: Any, dotted: str, default: Any = None) -> Any:
    cur = obj
    for part in dotted.split("."):
        if isinstance(cur, Mapping) and part in cur:
            cur = cur[part]
        elif isinstance(cur, list) and part.isdigit() and int(part) < len(cur):
            cur = cur[int(part)]
        else:
            return default
    return cur


# --------------------------------------------------------------------------- stack config


def stack_file(stack: str | Path) -> Path:
    """``dev`` -> ``<repo>/Pulumi.dev.yaml``; a path stays a path (``StackFileError`` for a bad name)."""
    return stack_files.resolve(stack, ROOT)[0]


def stack_name_of(stack: str | Path) -> str:
    """The stack name: ``dev``, or taken from a stack file path (``Pulumi.bad.yaml`` -> ``bad``)."""
    return stack_files.resolve(stack, ROOT)[1]


def encode_config_value(value: Any) -> str:
    """The engine hands every config value to the program as a string; objects as JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def load_stack_config(
    stack: str | Path, overrides: Mapping[str, Any] | None = None
) -> tuple[dict[str, str], list[str]]:
    """Read ``Pulumi.<stack>.yaml`` as the engine would pass it to the program.

    ``secure:`` values become clearly marked placeholders (this machine cannot decrypt them).
    ``overrides`` maps keys (``platform:`` prefix optional) to new values; ``None`` deletes a key.
    """
    return config_of(stack_files.read(stack_file(stack)), overrides)


def config_of(
    document: Mapping[str, Any], overrides: Mapping[str, Any] | None = None
) -> tuple[dict[str, str], list[str]]:
    """A parsed stack file's config as the engine passes it to the program (see ``load_stack_config``)."""
    raw: dict[str, Any] = dict(document.get("config") or {})
    for key, value in (overrides or {}).items():
        full = key if ":" in key else f"{PROJECT}:{key}"
        if value is None:
            raw.pop(full, None)
        else:
            raw[full] = value
    config: dict[str, str] = {}
    secret_keys: list[str] = []
    for key, value in raw.items():
        if isinstance(value, Mapping) and set(value) == {"secure"}:
            config[key] = SECRET_PLACEHOLDER.format(key=key)
            secret_keys.append(key)
        else:
            config[key] = encode_config_value(value)
    return config, secret_keys


# --------------------------------------------------------------------------- the run


class _LogCollector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def run_program(
    stack: str | Path = "dev",
    *,
    overrides: Mapping[str, Any] | None = None,
    config: tuple[dict[str, str], list[str]] | None = None,
    stack_references: Mapping[str, Mapping[str, Any]] | None = None,
    program: Callable[[], Any] | None = None,
    preview: bool = False,
    recorded: list[RecordedResource] | None = None,
    project: str = PROJECT,
) -> ProgramRun:
    """Run ``__main__.py`` (or ``program``) for a stack under mocks; return what it registered.

    Raises whatever the program raises (a ``ConfigError`` for bad config), after the
    runtime has settled, exactly as ``pulumi up`` would report it. Pass ``recorded`` (a list)
    to see what was registered even when the program fails. ``project`` is the Pulumi project
    name the program sees (``pulumi.get_project()``, the namespace of ``pulumi.Config()``): pass
    another project's name to run a different program, e.g. the app-team example.
    """
    stack_name = stack_name_of(stack)
    cfg, secret_keys = config if config is not None else load_stack_config(stack, overrides)
    registered: list[RecordedResource] = [] if recorded is None else recorded
    collector = _install_mocks(
        stack_name, cfg, secret_keys, stack_references, registered, project=project, preview=preview
    )
    outputs, secret_outputs = _run_to_outputs(program)
    if collector.messages:
        raise RuntimeError("the program logged errors:\n" + "\n".join(collector.messages))
    return ProgramRun(
        stack=stack_name,
        config=cfg,
        secret_keys=secret_keys,
        resources=registered,
        outputs=outputs,
        secret_outputs=secret_outputs,
    )


def _install_mocks(
    stack_name: str,
    cfg: dict[str, str],
    secret_keys: list[str],
    stack_references: Mapping[str, Mapping[str, Any]] | None,
    registered: list[RecordedResource],
    *,
    project: str,
    preview: bool,
) -> _LogCollector:
    """Point Pulumi's process-wide runtime at the mocks, recording into ``registered``.

    Returns the handler that collects what the program logs as an error.
    """
    import pulumi
    from pulumi.runtime import config as runtime_config
    from pulumi.runtime import settings

    from tools.mocks import PlatformMocks

    mocks = PlatformMocks(stack_name, stack_references)
    collector = _LogCollector()
    logger = logging.getLogger(f"platform.mockrun.{stack_name}")
    logger.handlers = [collector]
    logger.propagate = False

    settings.ROOT.set(None)
    runtime_config.set_all_config(cfg, secret_keys)
    pulumi.runtime.set_mocks(
        mocks,
        project=project,
        stack=stack_name,
        preview=preview,
        logger=logger,
        monitor=_recording_monitor(mocks, registered),
        organization=ORGANIZATION,
    )
    # Start clean, as the SDK's own @pulumi.runtime.test decorator does.
    settings.SETTINGS.rpc_manager.clear()
    settings.SETTINGS.outputs.clear()
    return collector


def _recording_monitor(mocks: Any, registered: list[RecordedResource]) -> Any:
    """A mock monitor that answers as ``mocks`` do and appends every resource it registers to ``registered``."""
    from pulumi.runtime import mocks as runtime_mocks

    class RecordingMonitor(runtime_mocks.MockMonitor):
        def RegisterResource(self, request):  # noqa: N802 - gRPC method name
            response = super().RegisterResource(request)
            if request.type != "pulumi:pulumi:Stack":
                registered.append(_record(request, response))
            return response

    return RecordingMonitor(mocks)


def _record(request: Any, response: Any) -> RecordedResource:
    """One registration as recorded; marks the response's secret outputs secret, as the engine would."""
    secrets: list[str] = []
    inputs = wire.decode(wire.from_struct(request.object), secrets)
    outputs = wire.decode(wire.from_struct(response.object))
    # As the engine does: outputs listed in additionalSecretOutputs, and outputs whose
    # input was secret, come back secret.
    secret_outputs = set(request.additionalSecretOutputs) | {p.split(".")[0] for p in secrets}
    if secret_outputs:
        state = wire.from_struct(response.object)
        for key in secret_outputs & set(state):
            if not wire.is_secret(state[key]):
                state[key] = wire.secret(state[key])
        response.object.Clear()
        response.object.update(state)
    return RecordedResource(
        urn=response.urn,
        type=request.type,
        name=request.name,
        custom=bool(request.custom),
        parent=request.parent,
        provider=request.provider,
        providers=dict(request.providers),
        inputs=inputs,
        secret_paths=secrets,
        protect=bool(request.protect),
        ignore_changes=list(request.ignoreChanges),
        dependencies=list(request.dependencies),
        property_dependencies={k: list(v.urns) for k, v in request.propertyDependencies.items()},
        additional_secret_outputs=list(request.additionalSecretOutputs),
        replace_on_changes=list(request.replaceOnChanges),
        delete_before_replace=bool(request.deleteBeforeReplace),
        retain_on_delete=bool(request.retainOnDelete),
        version=request.version,
        id=response.id or None,
        outputs=outputs,
    )


def _run_to_outputs(program: Callable[[], Any] | None) -> tuple[dict[str, Any], set[str]]:
    """Run ``program`` (default ``__main__.py``) in the mocked runtime; its stack outputs and the secret ones.

    The runtime is drained afterwards, whether the program succeeded or raised.
    """
    import pulumi
    from pulumi.runtime import settings
    from pulumi.runtime.stack import run_pulumi_func
    from pulumi.runtime.sync_await import _sync_await

    def main() -> None:
        if program is not None:
            program()
        else:
            runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")

    outputs: dict[str, Any] = {}
    secret_outputs: set[str] = set()
    failed = True
    try:
        _sync_await(run_pulumi_func(main))
        root = settings.get_root_resource()
        for name, value in sorted(getattr(root, "outputs", {}).items()):
            out = pulumi.Output.from_input(value)
            outputs[name] = _sync_await(out.future())
            if _sync_await(out.is_secret()):
                secret_outputs.add(name)
        failed = False
    finally:
        _drain_runtime(settings, _sync_await, failed)
    return outputs, secret_outputs


def _drain_runtime(settings, sync_await, failed: bool) -> None:
    """Settle what a run left in Pulumi's process-wide state, so the next run in this process starts clean.

    A run that failed inside an apply leaves failed Outputs and RPCs behind: the next run would await
    (and re-raise) them, and their never-retrieved exceptions would be reported later at random points.
    Gathering them marks every exception retrieved; the error itself was already raised to the caller.
    """
    import asyncio
    import gc

    pending = [*settings.SETTINGS.outputs, *settings.SETTINGS.rpc_manager.rpcs]
    settings.SETTINGS.outputs.clear()
    settings.SETTINGS.rpc_manager.clear()
    if pending:
        sync_await(asyncio.gather(*pending, return_exceptions=True))
    if failed:
        # The error travelled through a chain of apply futures; each would report itself when collected.
        for obj in gc.get_objects():
            if isinstance(obj, asyncio.Future) and obj.done() and not obj.cancelled():
                obj.exception()
