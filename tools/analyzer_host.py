"""Host a CrossGuard policy pack the way the Pulumi engine does, with no Pulumi CLI installed.

What the engine does for ``pulumi preview --policy-pack <dir> --policy-pack-config <file>`` and a
Python pack (``runtime: python`` in ``PulumiPolicy.yaml``), reproduced here:

1. It serves the Engine gRPC service (the pack may log back to it) and starts the legacy shim
   ``pulumi-analyzer-policy-python <engine-address> . [-virtualenv=<dir>]`` with the pack folder as
   working directory. The shim runs ``<virtualenv>/bin/python -u -m pulumi.policy <engine-address> .``,
   which runs the pack's ``__main__.py``; the ``PolicyPack(...)`` constructor starts a gRPC
   Analyzer server on ``127.0.0.1:0``, prints the port on the first stdout line and sleeps
   until it gets SIGINT. The stack's config reaches the pack as ``PULUMI_CONFIG`` (JSON) with
   ``PULUMI_PROJECT``, ``PULUMI_STACK``, ``PULUMI_ORGANIZATION`` and ``PULUMI_DRY_RUN``.
   Here the config travels in a file (``PACK_BOOT`` puts it into the pack's own environment): one
   environment string is limited to 128 KiB by ``execve`` ("Argument list too long").
2. ``Handshake`` (Python packs answer Unimplemented: fine), ``ConfigureStack`` (stack, project,
   organization, config, tags), ``GetAnalyzerInfo``, ``GetPluginInfo``, then ``Configure`` with
   the pack's defaults reconciled with the config file (``tools/policy_config.py``: ``all`` first,
   then per policy; every policy's config validated against its JSON schema).
3. ``Remediate`` (only useful when a policy is at ``remediate``) then ``Analyze`` for every
   resource registration, with its inputs marshalled keeping secrets (the secret signature
   wrapper, ``tools/wire.py``) and unknowns, internal ``__`` keys dropped, its options and its provider (the
   explicit one, or the default provider the engine would create for the package).
4. ``AnalyzeStack`` once at the end with every resource's *outputs*, parent and dependencies.
5. Close: SIGINT, which the pack turns into ``server.stop(0)``; SIGKILL if it lingers.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections import deque
from collections.abc import Mapping, Sequence
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools import wire
from tools.policy_config import PolicyConfig

_MAX_MESSAGE = 400 * 1024 * 1024  # the same ceiling the engine and the policy SDK use
_CHANNEL_OPTIONS = [("grpc.max_receive_message_length", _MAX_MESSAGE), ("grpc.max_send_message_length", _MAX_MESSAGE)]


class PolicyPackError(RuntimeError):
    """The policy pack could not be started or failed while answering."""


# Pack processes this process started and has not reaped yet (each leads its own process group), for a caller
# that must stop at once, with no time to unwind through ``close()``: see ``kill_live_packs``.
_LIVE_PACKS: set[int] = set()


def kill_live_packs() -> None:
    """SIGKILL every pack process group still running; for a hard stop (``os._exit``), where ``close()`` won't run."""
    for pid in list(_LIVE_PACKS):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)


# Runs in the pack's interpreter before ``python -m pulumi.policy <engine> .`` (what the shim runs), so the pack
# cannot outlive the preview: a cancelled CI job SIGKILLs the preview, which cannot clean up, and an orphaned pack
# would hold its port and memory until the runner dies. Linux: the kernel SIGKILLs the pack when its parent dies
# (PR_SET_PDEATHSIG); everywhere: the pack exits when its stdin, a pipe only the preview holds, reaches EOF.
PACK_BOOT = """\
import ctypes, os, runpy, signal, sys, threading
parent = int(os.environ.pop("PLATFORM_PACK_PARENT", "0"))
try:
    ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))  # 1 = PR_SET_PDEATHSIG
except (OSError, AttributeError):
    pass
if parent and os.getppid() != parent:
    os._exit(70)  # the preview died before prctl took effect
threading.Thread(target=lambda: (sys.stdin.buffer.read(), os._exit(71)), daemon=True).start()
config_file = os.environ.pop("PLATFORM_PACK_CONFIG_FILE", "")
if config_file:
    with open(config_file, encoding="utf-8") as f:
        os.environ["PULUMI_CONFIG"] = f.read()  # putenv in this process: no execve, no size limit
runpy.run_module("pulumi.policy", run_name="__main__", alter_sys=True)
"""


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class PolicyInfo:
    name: str
    description: str
    enforcement_level: str
    severity: str = ""
    policy_type: str = ""
    display_name: str = ""
    remediation_steps: str = ""
    config_schema: dict[str, Any] | None = None


@dataclass(frozen=True)
class AnalyzerInfo:
    name: str
    version: str
    display_name: str
    supports_config: bool
    policies: tuple[PolicyInfo, ...]
    initial_config: dict[str, PolicyConfig]


@dataclass(frozen=True)
class Diagnostic:
    policy_name: str
    policy_pack_name: str
    policy_pack_version: str
    description: str
    message: str
    enforcement_level: str
    severity: str
    urn: str


@dataclass(frozen=True)
class Remediation:
    policy_name: str
    description: str
    properties: dict[str, Any] | None
    diagnostic: str


@dataclass
class ProviderRef:
    urn: str
    type: str
    name: str
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass
class AnalyzerResource:
    """One resource as the engine describes it to an analyzer (properties already in wire form)."""

    urn: str
    type: str
    name: str
    properties: dict[str, Any]
    parent: str = ""
    protect: bool = False
    ignore_changes: Sequence[str] = ()
    delete_before_replace: bool | None = None
    additional_secret_outputs: Sequence[str] = ()
    aliases: Sequence[str] = ()
    provider: ProviderRef | None = None
    dependencies: Sequence[str] = ()
    property_dependencies: Mapping[str, Sequence[str]] = field(default_factory=dict)


def _level_name(value: int) -> str:
    from pulumi.runtime.proto import analyzer_pb2

    return analyzer_pb2.EnforcementLevel.Name(value).lower()


def _severity_name(value: int) -> str:
    from pulumi.runtime.proto import analyzer_pb2

    name = analyzer_pb2.PolicySeverity.Name(value)
    return "" if name.endswith("UNSPECIFIED") else name.removeprefix("POLICY_SEVERITY_").lower()


def analyzer_info(resp: Any, version: str) -> AnalyzerInfo:
    """A ``GetAnalyzerInfo`` answer (``analyzer_pb2.AnalyzerInfo``) as plain records, policies sorted by name."""
    from google.protobuf import json_format

    policies = []
    for p in resp.policies:
        schema = None
        if p.HasField("configSchema"):
            schema = {
                "properties": wire.whole_numbers(json_format.MessageToDict(p.configSchema.properties)),
                "required": list(p.configSchema.required),
            }
        policies.append(
            PolicyInfo(
                name=p.name,
                description=p.description,
                enforcement_level=_level_name(p.enforcementLevel),
                severity=_severity_name(p.severity),
                display_name=p.displayName,
                policy_type={1: "resource", 2: "stack"}.get(int(p.policy_type), ""),
                remediation_steps=p.remediation_steps,
                config_schema=schema,
            )
        )
    initial = {
        k: PolicyConfig(
            _level_name(v.enforcementLevel), wire.whole_numbers(json_format.MessageToDict(v.properties)) or None
        )
        for k, v in resp.initialConfig.items()
    }
    return AnalyzerInfo(
        name=resp.name,
        version=version,
        display_name=resp.displayName,
        supports_config=resp.supportsConfig,
        policies=tuple(sorted(policies, key=lambda x: x.name)),
        initial_config=initial,
    )


def configure_request(config: Mapping[str, PolicyConfig]) -> Any:
    """The ``ConfigureAnalyzerRequest`` for reconciled policy config (an unset level is advisory)."""
    from pulumi.runtime.proto import analyzer_pb2

    req = analyzer_pb2.ConfigureAnalyzerRequest()
    for name, cfg in config.items():
        entry = req.policyConfig[name]
        entry.enforcementLevel = analyzer_pb2.EnforcementLevel.Value((cfg.enforcement_level or "advisory").upper())
        if cfg.properties:
            entry.properties.update(cfg.properties)
    return req


# --------------------------------------------------------------------------- the engine side


def _engine_servicer():
    """The minimal Engine service a pack may call back into (logging, root resource)."""
    from google.protobuf import empty_pb2
    from pulumi.runtime.proto import engine_pb2, engine_pb2_grpc

    class EngineServicer(engine_pb2_grpc.EngineServicer):
        def __init__(self) -> None:
            self.logs: list[tuple[str, str, str]] = []
            self.root = ""

        def Log(self, request, context):  # noqa: N802 - gRPC method name
            self.logs.append((engine_pb2.LogSeverity.Name(request.severity).lower(), request.urn, request.message))
            return empty_pb2.Empty()

        def GetRootResource(self, request, context):  # noqa: N802
            return engine_pb2.GetRootResourceResponse(urn=self.root)

        def SetRootResource(self, request, context):  # noqa: N802
            self.root = request.urn
            return engine_pb2.SetRootResourceResponse()

    return EngineServicer()


def pack_metadata(pack_dir: Path) -> dict[str, Any]:
    import yaml

    meta = pack_dir / "PulumiPolicy.yaml"
    return (yaml.safe_load(meta.read_text()) or {}) if meta.exists() else {}


def pack_python(pack_dir: Path) -> tuple[str, list[str]]:
    """The interpreter the shim would use (the pack's ``virtualenv`` option if it exists) and the shim's extra args.

    The engine runs a Python pack with ``<pack>/<virtualenv>/bin/python`` (``make policy-venv`` builds
    ``policies/venv``), so the preview does too whenever it exists: the rules run on the same packages as in
    ``pulumi preview --policy-pack``. Where it does not exist (a fresh clone, CI), the project's interpreter runs
    the pack (requirements.txt includes the pack's requirements) and the plan says so in its warnings.
    """
    meta = pack_dir / "PulumiPolicy.yaml"
    runtime: Any = pack_metadata(pack_dir).get("runtime", "python")
    options = runtime.get("options") or {} if isinstance(runtime, Mapping) else {}
    name = runtime.get("name") if isinstance(runtime, Mapping) else runtime
    if name != "python":
        raise PolicyPackError(f"{meta}: runtime {name!r} is not supported here (only python policy packs)")
    extra = [f"-{k}={v}" for k, v in options.items() if f"{v}" != ""]
    venv = options.get("virtualenv")
    if venv:
        candidate = (pack_dir / str(venv)).resolve() / "bin" / "python"
        if candidate.exists():
            return str(candidate), extra
    # The pack's virtualenv is not built: the project's environment has pulumi-policy (requirements.txt).
    return sys.executable, extra


class PolicyPackHost:
    """Start a policy pack process and speak the Analyzer protocol to it, as the engine does.

    ``start()`` returns at once (the pack boots while the caller does other work, e.g. runs the
    program); the first RPC waits for the port.
    """

    def __init__(
        self,
        pack_dir: str | Path,
        *,
        project: str,
        stack: str,
        organization: str = "organization",
        config: Mapping[str, str] | None = None,
        secret_keys: Sequence[str] = (),
        tags: Mapping[str, str] | None = None,
        dry_run: bool = True,
        startup_timeout: float = 60.0,
        window: int = 16,
    ) -> None:
        self.pack_dir = Path(pack_dir).resolve()
        self.project, self.stack, self.organization = project, stack, organization
        self.config = dict(config or {})
        self.secret_keys = list(secret_keys)
        self.tags = dict(tags or {"pulumi:project": project, "pulumi:runtime": "python"})
        self.dry_run = dry_run
        self.startup_timeout = startup_timeout
        self.window = max(1, window)
        self.proc: subprocess.Popen | None = None
        self.stdout_lines: list[str] = []
        self.stderr_lines: list[str] = []
        self._port_q: queue.Queue[str | None] = queue.Queue()
        # gRPC objects, created on first use (grpc is imported late so the pack can start sooner).
        self._engine: Any = None
        self._engine_server: Any = None
        self._channel: Any = None
        self._stub: Any = None
        self._info: AnalyzerInfo | None = None
        self._config_dir: tempfile.TemporaryDirectory[str] | None = None
        self.python = ""  # the pack's interpreter, once started
        self.plugin_version = ""
        self.version = ""

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> PolicyPackHost:
        if not (self.pack_dir / "__main__.py").exists():
            raise PolicyPackError(f"no policy pack at {self.pack_dir} (missing __main__.py)")
        python, _shim_args = pack_python(self.pack_dir)
        self.python = python
        # The engine address is reserved now and served right after the pack is launched, so the
        # pack's interpreter start-up is not delayed by this process importing gRPC and the protos.
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            engine_port = sock.getsockname()[1]
        engine_address = f"127.0.0.1:{engine_port}"
        self._config_dir = tempfile.TemporaryDirectory(prefix="policy-pack-config-")
        config_file = Path(self._config_dir.name) / "config.json"
        config_file.write_text(json.dumps(self.config, sort_keys=True), encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if k != "PULUMI_CONFIG"}
        env.update(
            {
                "PLATFORM_PACK_CONFIG_FILE": str(config_file),
                "PLATFORM_PACK_PARENT": str(os.getpid()),
                "PULUMI_PROJECT": self.project,
                "PULUMI_STACK": self.stack,
                "PULUMI_ORGANIZATION": self.organization,
                "PULUMI_DRY_RUN": "true" if self.dry_run else "false",
            }
        )
        # What the shim runs (``python -u -m pulumi.policy <engine> .``, it forwards only those two arguments),
        # behind PACK_BOOT. Its own session: a terminal's Ctrl-C reaches the preview, which stops the pack itself.
        self.proc = subprocess.Popen(
            [python, "-u", "-c", PACK_BOOT, engine_address, "."],
            cwd=self.pack_dir,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        _LIVE_PACKS.add(self.proc.pid)
        threading.Thread(target=self._read_stdout, daemon=True).start()
        threading.Thread(target=self._drain, args=(self.proc.stderr, self.stderr_lines), daemon=True).start()
        self._start_engine(engine_port)
        return self

    def _start_engine(self, port: int) -> None:
        import grpc
        from pulumi.runtime.proto import engine_pb2_grpc

        self._engine = _engine_servicer()
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=2), options=_CHANNEL_OPTIONS)
        engine_pb2_grpc.add_EngineServicer_to_server(self._engine, server)
        server.add_insecure_port(f"127.0.0.1:{port}")
        server.start()
        self._engine_server = server

    def _read_stdout(self) -> None:
        assert self.proc and self.proc.stdout
        first = True
        for raw in self.proc.stdout:
            line = raw.decode(errors="replace").rstrip("\n")
            if first:
                first = False
                self._port_q.put(line)
            else:
                self.stdout_lines.append(line)
        if first:
            self._port_q.put(None)

    @staticmethod
    def _drain(stream, into: list[str]) -> None:
        for raw in stream:
            into.append(raw.decode(errors="replace").rstrip("\n"))

    def _failure(self, what: str) -> PolicyPackError:
        tail = "\n".join(self.stderr_lines[-30:] + self.stdout_lines[-10:])
        return PolicyPackError(f"policy pack {self.pack_dir} {what}" + (f":\n{tail}" if tail else ""))

    def _connect(self):
        if self._stub is not None:
            return self._stub
        if self.proc is None:
            self.start()
        import grpc
        from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

        try:
            line = self._port_q.get(timeout=self.startup_timeout)
        except queue.Empty:
            raise self._failure(f"did not print its port within {self.startup_timeout:.0f}s") from None
        if line is None or not line.strip().isdigit():
            if self.proc is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.proc.wait(timeout=5)
            raise self._failure(f"failed to start (first output line: {line!r})")
        self._channel = grpc.insecure_channel(f"127.0.0.1:{int(line)}", options=_CHANNEL_OPTIONS)
        grpc.channel_ready_future(self._channel).result(timeout=self.startup_timeout)
        self._stub = analyzer_pb2_grpc.AnalyzerStub(self._channel)
        dir_ = str(self.pack_dir)
        try:
            self._stub.Handshake(
                analyzer_pb2.AnalyzerHandshakeRequest(engine_address="", root_directory=dir_, program_directory=dir_)
            )
        except grpc.RpcError as e:
            if e.code() != grpc.StatusCode.UNIMPLEMENTED:
                raise self._failure(f"failed the handshake: {e.details()}") from None
        self._configure_stack()
        return self._stub

    def _configure_stack(self) -> None:
        import grpc
        from pulumi.runtime.proto import analyzer_pb2

        try:
            self._stub.ConfigureStack(
                analyzer_pb2.AnalyzerStackConfigureRequest(
                    stack=self.stack,
                    project=self.project,
                    organization=self.organization,
                    dry_run=self.dry_run,
                    config=self.config,
                    config_secret_keys=self.secret_keys,
                    tags=self.tags,
                )
            )
        except grpc.RpcError as e:
            if e.code() != grpc.StatusCode.UNIMPLEMENTED:
                raise self._failure(f"failed ConfigureStack: {e.details()}") from None

    def retarget(self, stack: str, config: Mapping[str, str], secret_keys: Sequence[str]) -> None:
        """Serve another stack of the same project with this pack process (``ConfigureStack`` again).

        For previews of several stacks in one run. The Python policy SDK keeps per-stack state only in what
        ``ConfigureStack`` (tags) and ``Configure`` (policy config, sent per stack by the caller) replace;
        ``PULUMI_CONFIG``/``PULUMI_STACK`` stay the first stack's, which matters only to a pack that reads
        ``pulumi.Config()`` or ``pulumi.get_stack()`` (this project's pack reads neither).
        """
        self.stack, self.config, self.secret_keys = stack, dict(config), list(secret_keys)
        if self._stub is not None:
            self._configure_stack()

    def stop(self) -> None:
        """Ask the pack to stop (SIGINT, as the engine does) without waiting; ``close()`` reaps it."""
        self._stub = None
        if self._channel is not None:
            # Closed first: a channel still open when the server goes away makes gRPC log a GOAWAY notice.
            self._channel.close()
            self._channel = None
        if self.proc is not None and self.proc.poll() is None:
            # The pack's serve loop stops its server on KeyboardInterrupt; it may have exited already.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGINT)

    def close(self) -> None:
        self.stop()
        proc, self.proc = self.proc, None
        if proc is not None:
            try:
                proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
            _LIVE_PACKS.discard(proc.pid)
            for stream in (proc.stdin, proc.stdout, proc.stderr):
                if stream:
                    stream.close()
        if self._engine_server is not None:
            self._engine_server.stop(0)
            self._engine_server = None
        if self._config_dir is not None:
            self._config_dir.cleanup()
            self._config_dir = None

    def __enter__(self) -> PolicyPackHost:
        return self.start() if self.proc is None else self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @property
    def uses_pack_virtualenv(self) -> bool:
        """True when the pack runs in its own virtualenv, as the engine runs it (not the fallback interpreter)."""
        return bool(self.python) and self.python != sys.executable

    def ready(self) -> bool:
        """True once the pack has printed its port (the first RPC will not wait)."""
        return self._stub is not None or not self._port_q.empty()

    @property
    def engine_logs(self) -> list[tuple[str, str, str]]:
        return list(self._engine.logs) if self._engine is not None else []

    # ---------------------------------------------------------------- RPCs
    def _call(self, method: str, request):
        import grpc

        stub = self._connect()
        try:
            return getattr(stub, method)(request)
        except grpc.RpcError as e:
            raise self._failure(f"failed {method}: {e.code().name}: {e.details()}") from None

    def info(self) -> AnalyzerInfo:
        if self._info is None:
            from google.protobuf import empty_pb2

            resp = self._call("GetAnalyzerInfo", empty_pb2.Empty())
            # As the engine: the version in PulumiPolicy.yaml, when set, wins over the SDK's placeholder.
            self.version = str(pack_metadata(self.pack_dir).get("version") or resp.version)
            self._info = analyzer_info(resp, self.version)
            plugin = self._call("GetPluginInfo", empty_pb2.Empty())
            self.plugin_version = plugin.version
        return self._info

    def configure(self, config: Mapping[str, PolicyConfig]) -> None:
        if config:
            self._call("Configure", configure_request(config))

    def _options(self, r: AnalyzerResource):
        from pulumi.runtime.proto import analyzer_pb2

        return analyzer_pb2.AnalyzerResourceOptions(
            protect=r.protect,
            ignoreChanges=list(r.ignore_changes),
            deleteBeforeReplace=bool(r.delete_before_replace),
            deleteBeforeReplaceDefined=r.delete_before_replace is not None,
            additionalSecretOutputs=list(r.additional_secret_outputs),
            aliases=list(r.aliases),
            customTimeouts=analyzer_pb2.AnalyzerResourceOptions.CustomTimeouts(),
            parent=r.parent,
        )

    @staticmethod
    def _provider(r: AnalyzerResource):
        from pulumi.runtime.proto import analyzer_pb2

        if r.provider is None:
            return None
        p = r.provider
        return analyzer_pb2.AnalyzerProviderResource(
            urn=p.urn, type=p.type, name=p.name, properties=wire.to_struct(p.properties)
        )

    def analyze_request(self, r: AnalyzerResource):
        from pulumi.runtime.proto import analyzer_pb2

        return analyzer_pb2.AnalyzeRequest(
            type=r.type,
            urn=r.urn,
            name=r.name,
            properties=wire.to_struct(r.properties),
            options=self._options(r),
            provider=self._provider(r),
        )

    def _diagnostics(self, resp, default_urn: str = "") -> list[Diagnostic]:
        out = []
        for d in resp.diagnostics:
            level = _level_name(d.enforcementLevel)
            out.append(
                Diagnostic(
                    policy_name=d.policyName,
                    policy_pack_name=d.policyPackName,
                    policy_pack_version=self.version or d.policyPackVersion,
                    description=d.description,
                    message=d.message,
                    enforcement_level="mandatory" if level == "remediate" else level,
                    severity=_severity_name(d.severity),
                    urn=d.urn or default_urn,
                )
            )
        return out

    def remediate(self, r: AnalyzerResource) -> list[Remediation]:
        resp = self._call("Remediate", self.analyze_request(r))
        return [
            Remediation(
                x.policyName,
                x.description,
                wire.from_struct(x.properties) if x.HasField("properties") else None,
                x.diagnostic,
            )
            for x in resp.remediations
        ]

    def analyze(self, r: AnalyzerResource) -> list[Diagnostic]:
        # The engine reports every per-resource diagnostic against the resource it analyzed.
        return [
            Diagnostic(**{**d.__dict__, "urn": r.urn})
            for d in self._diagnostics(self._call("Analyze", self.analyze_request(r)))
        ]

    def analyze_many(self, resources: Sequence[AnalyzerResource]) -> list[list[Diagnostic]]:
        """``Analyze`` for each resource, a few requests in flight at once; results in input order."""
        import grpc

        stub = self._connect()
        results: list[list[Diagnostic]] = []
        pending: deque = deque()

        def collect() -> None:
            r, fut = pending.popleft()
            try:
                resp = fut.result()
            except grpc.RpcError as e:
                raise self._failure(f"failed Analyze({r.type} {r.name}): {e.code().name}: {e.details()}") from None
            results.append([Diagnostic(**{**d.__dict__, "urn": r.urn}) for d in self._diagnostics(resp)])

        for r in resources:
            pending.append((r, stub.Analyze.future(self.analyze_request(r))))
            if len(pending) >= self.window:
                collect()
        while pending:
            collect()
        return results

    def analyze_stack(self, resources: Sequence[AnalyzerResource], root_urn: str = "") -> list[Diagnostic]:
        from pulumi.runtime.proto import analyzer_pb2

        req = analyzer_pb2.AnalyzeStackRequest()
        for r in resources:
            item = req.resources.add(
                type=r.type, urn=r.urn, name=r.name, parent=r.parent, dependencies=list(r.dependencies)
            )
            item.properties.CopyFrom(wire.to_struct(r.properties))
            item.options.CopyFrom(self._options(r))
            provider = self._provider(r)
            if provider is not None:
                item.provider.CopyFrom(provider)
            for key, urns in r.property_dependencies.items():
                if urns:
                    item.propertyDependencies[key].urns.extend(urns)
        known = {r.urn for r in resources}
        diags = self._diagnostics(self._call("AnalyzeStack", req))
        # As the engine: a diagnostic naming no resource of the stack is reported on the stack itself.
        return [d if d.urn in known else Diagnostic(**{**d.__dict__, "urn": root_urn}) for d in diags]
