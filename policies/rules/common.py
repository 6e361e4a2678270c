"""Shared machinery for every rule: the metadata registry, a plain view of resources, unknown handling.

Rules never touch ``pulumi_policy`` objects directly. ``resource_rule`` / ``stack_rule`` wrap a small
check function into a ``ResourceValidationPolicy`` / ``StackValidationPolicy`` and record the rule's
metadata (severity, why, remediation, frameworks) in ``RULES``, which the docs generator and the tests read.

Unknown values (preview): the SDK wraps ``props`` in a proxy that raises ``UnknownValueError`` on the
first unknown read, which would abort the whole rule for the resource. Instead, ``plain()`` turns the
proxy into ordinary dicts/lists with an ``UNKNOWN`` marker, the checks decide field by field, definite
violations are still reported, and only if a value that matters is unknown does the rule end with a
``CannotCheckYet`` (an ``UnknownValueError``): the analyzer then reports an ADVISORY "can't run policy ...
during preview" diagnostic. So an unknown value is never a silent pass and never a crash.

Odd shapes (a string where a map is expected, None, lists of non-maps) read as "missing", which every
rule treats as the insecure default. Any unexpected exception inside a check becomes a violation that
names the rule (fail closed) rather than an analyzer crash.
"""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn, NotRequired, TypedDict, TypeGuard, Unpack

from pulumi_policy import (
    PolicyComplianceFramework,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import (
    UNKNOWN_ARCHIVE_VALUE,
    UNKNOWN_ARRAY_VALUE,
    UNKNOWN_ASSET_VALUE,
    UNKNOWN_BOOLEAN_VALUE,
    UNKNOWN_NUMBER_VALUE,
    UNKNOWN_OBJECT_VALUE,
    UNKNOWN_STRING_VALUE,
    UnknownValueError,
)

# The pack is deployed as the `policies` folder alone: the namespace list is pack-local, the program imports it too.
from system_namespaces import SYSTEM_NAMESPACES

# --------------------------------------------------------------------------- unknowns

UNKNOWN_SENTINELS = frozenset(
    {
        UNKNOWN_BOOLEAN_VALUE,
        UNKNOWN_NUMBER_VALUE,
        UNKNOWN_STRING_VALUE,
        UNKNOWN_ARRAY_VALUE,
        UNKNOWN_ASSET_VALUE,
        UNKNOWN_ARCHIVE_VALUE,
        UNKNOWN_OBJECT_VALUE,
    }
)


class _Unknown:
    """A value the engine cannot know yet (preview); compares unequal to everything but itself."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<unknown>"

    def __bool__(self) -> bool:  # never truthy: an unknown must not pass an `if value:` check
        return False


UNKNOWN: Any = _Unknown()


def is_unknown(value: Any) -> bool:
    return value is UNKNOWN or (isinstance(value, str) and value in UNKNOWN_SENTINELS)


class CannotCheckYet(UnknownValueError):
    """Raised at the end of a check when a value that matters is unknown; reported as advisory."""

    def __init__(self, paths: Sequence[str]):
        super().__init__(UNKNOWN_STRING_VALUE, list(paths)[:1])
        shown = ", ".join(sorted(set(paths))[:5])
        self.message = f"cannot check yet, unknown until apply: {shown}"


def plain(value: Any, _depth: int = 0) -> Any:
    """The SDK's unknown-checking proxy (or raw wire data) as plain dicts/lists with ``UNKNOWN`` markers."""
    if _depth > 64:  # deeper than any real resource: treat as opaque rather than recurse forever
        return None
    if isinstance(value, Mapping):
        out: dict[Any, Any] = {}
        for key in list(iter(value)):
            try:
                item = value[key]
            except UnknownValueError:
                out[key] = UNKNOWN
                continue
            out[key] = plain(item, _depth + 1)
        return out
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes, bytearray)):
        items: list[Any] = []
        for i in range(len(value)):
            try:
                item = value[i]
            except UnknownValueError:
                items.append(UNKNOWN)
                continue
            items.append(plain(item, _depth + 1))
        return items
    if is_unknown(value):
        return UNKNOWN
    return value


# --------------------------------------------------------------------------- reading odd shapes


def dig(obj: Any, path: str, default: Any = None) -> Any:
    """Read ``a.b.c``; ``UNKNOWN`` if any hop is unknown; ``default`` if a hop is missing or not a map."""
    cur = obj
    for part in path.split("."):
        if cur is UNKNOWN:
            return UNKNOWN
        if isinstance(cur, Mapping):
            if part not in cur:
                return default
            cur = cur[part]
        else:
            return default
    return cur


def as_map(value: Any) -> dict:
    return dict(value) if isinstance(value, Mapping) else {}


def as_list(value: Any) -> list:
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes, bytearray)):
        return list(value)
    return []


def maps(value: Any) -> list[dict]:
    """The map items of a list (non-map items of a list are ignored: they cannot carry settings)."""
    return [dict(v) for v in as_list(value) if isinstance(v, Mapping)]


def is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def text(value: Any) -> str | None:
    return value if isinstance(value, str) and not is_unknown(value) else None


_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def go_duration_seconds(value: Any) -> float | None:
    """Parse a Go ``time.Duration`` string (``24h0m0s``, ``12h``, ``90m``, ``1.5h``); None if invalid."""
    if is_number(value):
        return float(value) if value == 0 else None  # a bare number is only valid Go syntax for 0
    if not isinstance(value, str):
        return None
    s = value.strip()
    if s in ("0", "+0", "-0"):
        return 0.0
    sign = -1.0 if s.startswith("-") else 1.0
    s = s.lstrip("+-")
    if not s:
        return None
    pos, total = 0, 0.0
    while pos < len(s):
        m = _DURATION_PART.match(s, pos)
        if m is None:
            return None
        total += float(m.group(1)) * _UNIT_SECONDS[m.group(2)]
        pos = m.end()
    return sign * total


# --------------------------------------------------------------------------- resource views

K8S_BUNDLE_TYPES = ("kubernetes:yaml/v2:ConfigGroup",)
HELM_TYPES = ("kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart", "kubernetes:helm.sh/v3:Chart")


@dataclass
class Res:
    """A resource as the rules see it: type, names, plain props, options and dependency URNs."""

    type: str
    name: str
    urn: str
    props: dict
    protect: bool = False
    parent: str | None = None
    dependencies: list[str] = field(default_factory=list)
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)
    label: str = ""  # how a message names it (a bundle member says which object)

    def get(self, path: str, default: Any = None) -> Any:
        return dig(self.props, path, default)

    # Kubernetes helpers -----------------------------------------------------------------
    @property
    def k8s_group_kind(self) -> tuple[str, str]:
        return k8s_group_kind(self.type, self.props)

    @property
    def k8s_name(self) -> Any:
        return self.get("metadata.name")

    @property
    def k8s_namespace(self) -> Any:
        """The object's namespace; a namespaced object without one lands in ``default``."""
        ns = self.get("metadata.namespace")
        if ns is UNKNOWN:
            return UNKNOWN
        return ns if isinstance(ns, str) and ns else "default"

    def labels(self) -> Any:
        labels = self.get("metadata.labels")
        return UNKNOWN if labels is UNKNOWN else as_map(labels)


_AZURE_API_VERSION = re.compile(r"^azure-native:([^:/]+)/v\d[0-9a-z]*:([^:]+)$")


def canonical_type(type_token: str) -> str:
    """One spelling per resource: ``azure-native:keyvault/v20240401:Vault`` (any API version) -> ``...:keyvault:Vault``.

    A program may pin an API version module; the resource is the same and must meet the same rules.
    """
    return _AZURE_API_VERSION.sub(r"azure-native:\1:\2", type_token)


def k8s_group_kind(type_token: str, props: Any = None) -> tuple[str, str]:
    """``kubernetes:apps/v1:Deployment`` -> (``apps``, ``Deployment``); bundle members use apiVersion/kind.

    A server-side-apply ``*Patch`` resource (``apps/v1:DeploymentPatch``) changes the same object: it is the kind
    it patches, so a patch that makes a container privileged is caught like a Deployment that does.
    """
    if type_token.startswith("kubernetes:"):
        parts = type_token.split(":")
        if len(parts) == 3:
            group = parts[1].rsplit("/", 1)[0] if "/" in parts[1] else "core"
            kind = parts[2]
            if group != "helm.sh" and kind.endswith("Patch") and len(kind) > len("Patch"):
                kind = kind.removesuffix("Patch")
            return group, kind
    api_version = dig(props, "apiVersion")
    kind = dig(props, "kind")
    if isinstance(api_version, str) and isinstance(kind, str):
        group = api_version.rsplit("/", 1)[0] if "/" in api_version else "core"
        return group, kind
    return "", ""


def helm_chart_name(res: Res) -> str | None:
    """The chart a Helm resource installs: ``sealed-secrets`` from ``repo/sealed-secrets``, an OCI ref or a .tgz URL."""
    chart = text(res.get("chart"))
    if not chart:
        return None
    last = chart.rstrip("/").rsplit("/", 1)[-1]
    last = re.sub(r"\.tgz$", "", last)
    last = re.sub(r"-v?\d+\.\d+\.\d+.*$", "", last)  # a packaged chart file carries its version
    last = last.split(":", 1)[0].split("@", 1)[0]  # oci tags and digests
    return last


def bundle_members(res: Res, ctx: Ctx) -> list[Res]:
    """The Kubernetes objects inside a ``yaml/v2:ConfigGroup`` (``objs`` and inline ``yaml``)."""
    members: list[Any] = []
    objs = res.get("objs")
    if objs is UNKNOWN:
        ctx.unknown("objs")
    for obj in as_list(objs):
        if obj is UNKNOWN:
            ctx.unknown("objs")
        elif isinstance(obj, Mapping):
            members.append(obj)
    docs = res.get("yaml")
    for i, doc in enumerate([docs] if not isinstance(docs, list) else docs):
        if doc is None:
            continue
        if doc is UNKNOWN:
            ctx.unknown("yaml")
            continue
        if isinstance(doc, str):
            try:
                import yaml  # pyyaml is in policies/requirements.txt

                members.extend(d for d in yaml.safe_load_all(doc) if isinstance(d, Mapping))
            except Exception as exc:  # noqa: BLE001 - an unparsable manifest cannot be proven safe
                ctx.fail(f"inline yaml[{i}] cannot be parsed ({type(exc).__name__}); it cannot be checked")
    out = []
    for idx, obj in enumerate(members):
        o = plain(obj)
        meta = as_map(o.get("metadata"))
        label = f"{o.get('kind', '?')} {meta.get('namespace', 'default')}/{meta.get('name', f'#{idx}')}"
        member_type = f"kubernetes:{o.get('apiVersion')}:{o.get('kind')}"
        out.append(Res(type=member_type, name=res.name, urn=res.urn, props=o, label=f"[{label}] "))
    return out


# --------------------------------------------------------------------------- check context


class Ctx:
    """Collects a check's violations and the unknown paths that prevented a decision."""

    def __init__(self, config: Mapping[str, Any], defaults: Mapping[str, Any], stack: bool = False):
        self.defaults = defaults  # the rule's declared config defaults (``RuleMeta.defaults``)
        self.config = {**defaults, **config}  # every declared key present: the configured value or its default
        self.stack = stack
        self.violations: list[tuple[str, str | None]] = []
        self.unknown_paths: list[str] = []
        self.prefix = ""

    def fail(self, message: str, urn: str | None = None) -> None:
        message = re.sub(r"\bis None\b", "is unset", message)
        self.violations.append((self.prefix + message, urn))

    def unknown(self, path: str) -> None:
        self.unknown_paths.append(path)

    def known(self, value: Any, path: str) -> bool:
        """False (and record the path) if the value is unknown; a rule returns early on False."""
        if value is UNKNOWN or is_unknown(value):
            self.unknown(path)
            return False
        return True

    def cfg_list(self, key: str) -> list[str]:
        return [v for v in as_list(self.config.get(key)) if isinstance(v, str)]

    def cfg_number(self, key: str) -> float:
        """A numeric setting as configured; the rule's declared default when the configured value is no number."""
        value = self.config[key]
        return value if is_number(value) else self.defaults[key]


# --------------------------------------------------------------------------- metadata registry

SEVERITIES = ("low", "medium", "high", "critical")
_SEVERITY = {s.value: s for s in Severity}


@dataclass(frozen=True)
class RuleMeta:
    name: str
    domain: str
    kind: str  # "resource" | "stack"
    targets: tuple[str, ...]  # type tokens, or "group/Kind" for Kubernetes objects
    severity: str
    what: str
    why: str
    remediation: str
    frameworks: tuple[str, ...]
    config_schema: dict = field(default_factory=dict)  # JSON schema properties, with defaults

    @property
    def description(self) -> str:
        """The policy description: the engine shows it as the first line of every violation."""
        frameworks = "; ".join(self.frameworks) if self.frameworks else "n/a"
        return (
            f"{self.what} [severity: {self.severity}] Why: {self.why} "
            f"Remediation: {self.remediation} Frameworks: {frameworks}."
        )

    def defaults(self) -> dict[str, Any]:
        return {k: v["default"] for k, v in self.config_schema.items() if "default" in v}


RULES: dict[str, RuleMeta] = {}
POLICIES: list[Any] = []

_NAME = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)+$")


def _register(meta: RuleMeta) -> None:
    if not _NAME.match(meta.name):
        raise ValueError(f"rule name {meta.name!r} must be kebab-case")
    if meta.name in RULES:
        raise ValueError(f"duplicate rule {meta.name!r}")
    if meta.severity not in SEVERITIES:
        raise ValueError(f"{meta.name}: severity must be one of {SEVERITIES}")
    RULES[meta.name] = meta


def _framework(meta: RuleMeta) -> PolicyComplianceFramework | None:
    nist = [f for f in meta.frameworks if f.startswith("NIST 800-53")]
    if not nist:
        return None
    return PolicyComplianceFramework(
        name="NIST SP 800-53", version="Rev. 5", reference=nist[0].removeprefix("NIST 800-53").strip()
    )


def _schema(meta: RuleMeta) -> PolicyConfigSchema | None:
    return PolicyConfigSchema(properties=dict(meta.config_schema)) if meta.config_schema else None


def _finish(ctx: Ctx, report: ReportViolation) -> None:
    for message, urn in ctx.violations:
        report(message, urn)
    if ctx.unknown_paths:
        raise CannotCheckYet(ctx.unknown_paths)


def _matches(meta: RuleMeta, res: Res) -> bool:
    if res.type in meta.targets:
        return True
    if res.type.startswith("kubernetes:"):
        group, kind = k8s_group_kind(res.type, res.props)
        return f"{group}/{kind}" in meta.targets
    return False


class RuleFields(TypedDict):
    """A rule's metadata as the ``resource_rule`` and ``stack_rule`` decorators take it."""

    name: str
    domain: str
    targets: Iterable[str]  # type tokens, or "group/Kind" for Kubernetes objects
    severity: str
    what: str
    why: str
    remediation: str
    frameworks: NotRequired[Iterable[str]]
    config: NotRequired[dict]  # JSON schema properties, with defaults


def _declare(kind: str, fields: RuleFields) -> RuleMeta:
    meta = RuleMeta(
        name=fields["name"],
        domain=fields["domain"],
        kind=kind,
        targets=tuple(fields["targets"]),
        severity=fields["severity"],
        what=fields["what"],
        why=fields["why"],
        remediation=fields["remediation"],
        frameworks=tuple(fields.get("frameworks", ())),
        config_schema=dict(fields.get("config") or {}),
    )
    _register(meta)
    return meta


def _policy(cls: Any, meta: RuleMeta, validate: Callable[..., None]) -> Any:
    """The SDK policy object (``ResourceValidationPolicy`` / ``StackValidationPolicy``) carrying a rule's metadata."""
    policy = cls(
        name=meta.name,
        description=meta.description,
        validate=validate,
        config_schema=_schema(meta),
        severity=_SEVERITY[meta.severity],
        framework=_framework(meta),
        tags=[meta.domain, *meta.frameworks],
        remediation_steps=meta.remediation,
        display_name=meta.what,
    )
    POLICIES.append(policy)
    return policy


def resource_rule(**fields: Unpack[RuleFields]) -> Callable[[Callable[[Res, Ctx], None]], Callable[[Res, Ctx], None]]:
    """Register ``check(res, ctx)`` as a resource policy for the given type tokens / ``group/Kind`` targets."""
    meta = _declare("resource", fields)
    k8s_targets = any("/" in t and not t.startswith(("azure-native:", "kubernetes:")) for t in meta.targets)

    def decorate(check: Callable[[Res, Ctx], None]) -> Callable[[Res, Ctx], None]:
        def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
            rtype = canonical_type(args.resource_type)
            direct = rtype in meta.targets or (
                k8s_targets and rtype.startswith("kubernetes:") and "/".join(k8s_group_kind(rtype)) in meta.targets
            )
            is_bundle = k8s_targets and rtype in K8S_BUNDLE_TYPES
            if not direct and not is_bundle:
                return
            ctx = Ctx(dict(args.get_config() or {}), meta.defaults())
            res = Res(
                type=rtype,
                name=args.name,
                urn=args.urn,
                props=as_map(plain(args.props)),
                protect=bool(getattr(args.opts, "protect", False)),
            )
            members = bundle_members(res, ctx) if is_bundle else [res]
            for member in members:
                if is_bundle and not _matches(meta, member):
                    continue
                ctx.prefix = member.label
                try:
                    check(member, ctx)
                except Exception as exc:  # noqa: BLE001 - fail closed: a check that cannot decide blocks
                    ctx.fail(
                        f"policy could not evaluate this resource ({type(exc).__name__}: {exc}); "
                        "treating it as a violation"
                    )
            ctx.prefix = ""
            _finish(ctx, report)

        _policy(ResourceValidationPolicy, meta, validate)
        return check

    return decorate


def stack_rule(**fields: Unpack[RuleFields]) -> Callable[[Callable[[Stack, Ctx], None]], Callable[[Stack, Ctx], None]]:
    """Register ``check(stack, ctx)`` as a stack policy; ``ctx.fail(msg, urn)`` names the offender.

    ``stack`` is a ``Stack``: the resources indexed by type and Kubernetes kind. A check must stay O(n):
    look related resources up in an index built once, never scan a list inside a loop over another.
    """
    meta = _declare("stack", fields)

    def decorate(check: Callable[[Stack, Ctx], None]) -> Callable[[Stack, Ctx], None]:
        def validate(args: StackValidationArgs, report: ReportViolation) -> None:
            ctx = Ctx(dict(args.get_config() or {}), meta.defaults(), stack=True)
            stack = Stack(args.resources)
            try:
                check(stack, ctx)
            except NotApplicable as na:
                if ctx.violations or ctx.unknown_paths:
                    _finish(ctx, report)
                args.not_applicable(na.reason)
            except Exception as exc:  # noqa: BLE001 - fail closed
                ctx.fail(
                    f"policy could not evaluate the stack ({type(exc).__name__}: {exc}); treating it as a violation"
                )
            _finish(ctx, report)

        _policy(StackValidationPolicy, meta, validate)
        return check

    return decorate


# --------------------------------------------------------------------------- shared check shapes


def expect(r: Res, ctx: Ctx, path: str, ok: Callable[[Any], bool], advice: str) -> None:
    """The common check: the value at ``path``, once known, must be ``ok``; else ``"<path> is <value>; <advice>"``."""
    value = r.get(path)
    if ctx.known(value, path) and not ok(value):
        ctx.fail(f"{path} is {value!r}; {advice}")


def is_true(value: Any) -> bool:
    return value is True


def one_of(*allowed: Any) -> Callable[[Any], bool]:
    """A predicate: the value is one of ``allowed``."""
    return lambda value: value in allowed


def one_of_any_case(*allowed: str) -> Callable[[Any], bool]:
    """A predicate: the value is a string equal to one of ``allowed`` when case is ignored (Azure enums)."""
    folded = {a.lower() for a in allowed}
    return lambda value: isinstance(value, str) and value.lower() in folded


def known_items(value: Any, path: str, ctx: Ctx) -> list[tuple[str, dict]]:
    """The items of the list ``value`` found at ``path``, each as ``(f"{path}[i]", item as a map)``.

    An unknown list or item is recorded and left out; a non-map item reads as an empty map (its settings missing).
    """
    if not ctx.known(value, path):
        return []
    items = []
    for i, item in enumerate(as_list(value)):
        at = f"{path}[{i}]"
        if item is UNKNOWN:
            ctx.unknown(at)
        else:
            items.append((at, as_map(item)))
    return items


def known_values(value: Any, path: str, ctx: Ctx) -> list[Any]:
    """The known items of the list ``value`` found at ``path`` (host names, principals); unknown ones are recorded."""
    if not ctx.known(value, path):
        return []
    values = []
    for item in as_list(value):
        if item is UNKNOWN:
            ctx.unknown(path)
        else:
            values.append(item)
    return values


def given(read: Callable[[Res, Ctx], Any]) -> Callable[[Callable[[Res, Any, Ctx], None]], Callable[[Res, Ctx], None]]:
    """Adapt ``check(r, part, ctx)`` into a rule body that runs on the part ``read(r, ctx)`` returns (a spec, a
    pod spec, chart values). ``read`` returns None when there is nothing to check: the part is absent, the
    resource is not the one the rule is about, or the part is unknown (``read`` has recorded that)."""

    def adapt(check: Callable[[Res, Any, Ctx], None]) -> Callable[[Res, Ctx], None]:
        @functools.wraps(check)
        def run(r: Res, ctx: Ctx) -> None:
            part = read(r, ctx)
            if part is not None:
                check(r, part, ctx)

        return run

    return adapt


def for_each(
    items: Callable[[Res, Ctx], Iterable[tuple[str, dict]]],
) -> Callable[[Callable[[str, dict, Ctx], None]], Callable[[Res, Ctx], None]]:
    """Adapt ``check(at, item, ctx)`` into a rule body that runs on each ``(path, item)`` of ``items(r, ctx)`` (the
    servers of a Gateway); ``items`` records the ones it cannot read yet."""

    def adapt(check: Callable[[str, dict, Ctx], None]) -> Callable[[Res, Ctx], None]:
        @functools.wraps(check)
        def run(r: Res, ctx: Ctx) -> None:
            for at, item in items(r, ctx):
                check(at, item, ctx)

        return run

    return adapt


def chart_values(chart: str, settings: str) -> Callable[[Res, Ctx], dict | None]:
    """A reader (for ``given``) of the ``values`` of a Helm release of ``chart``; None for any other release.

    Values in ``valueYamlFiles`` cannot be read, so a release that has them fails: they may override ``settings``.
    """

    def read(r: Res, ctx: Ctx) -> dict | None:
        if not ctx.known(r.get("chart"), "chart") or helm_chart_name(r) != chart:
            return None
        values = r.get("values")
        if not ctx.known(values, "values"):
            return None
        if r.get("valueYamlFiles"):
            ctx.fail(f"valueYamlFiles cannot be inspected and may override {settings}; put the values in `values`")
        return as_map(values)

    return read


def spec_of(r: Res, ctx: Ctx) -> dict | None:
    """A Kubernetes object's ``spec`` as a map; None (recorded) when unknown."""
    spec = r.get("spec")
    if not ctx.known(spec, "spec"):
        return None
    return as_map(spec)


class NotApplicable(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def not_applicable(reason: str) -> NoReturn:
    """End a stack rule that has nothing to check: ``vaults = stack.of_types(VAULT) or not_applicable("no vault")``."""
    raise NotApplicable(reason)


def stack_view(r: Any) -> Res:
    """A ``PolicyResource`` as a ``Res`` (parent and dependencies as URNs)."""
    parent = getattr(r, "parent", None)
    opts = getattr(r, "opts", None)
    return Res(
        type=canonical_type(r.resource_type),
        name=r.name,
        urn=r.urn,
        props=as_map(plain(r.props)),
        protect=bool(getattr(opts, "protect", False)),
        parent=getattr(parent, "urn", None) or getattr(opts, "parent", None),
        dependencies=[d.urn for d in (getattr(r, "dependencies", None) or [])],
        property_dependencies={
            k: [d.urn for d in v] for k, v in (getattr(r, "property_dependencies", None) or {}).items()
        },
    )


class Stack:
    """The resources of one stack policy evaluation, indexed by type token and Kubernetes (group, kind).

    The index is built in one pass, so a stack rule finds e.g. every Secret without scanning the whole
    stack. Each resource's ``Res`` view (its props converted from the SDK proxy to plain data) is built the
    first time a rule asks for that resource, then reused: a rule reads a few types, and converting the
    whole stack for each of them cost more than the rules themselves. (The SDK hands every stack policy
    freshly deserialized resources, so there is nothing to share between policies of one AnalyzeStack.)
    Results keep the stack's resource order, so violations come out in the same order as a full scan.
    """

    def __init__(self, sources: Sequence[Any]):
        self._sources = list(sources)  # the SDK's PolicyResources
        self._views: dict[int, Res] = {}  # position -> Res, built on first use
        self._by_type: dict[str, list[int]] = defaultdict(list)
        self._by_kind: dict[tuple[str, str], list[int]] = defaultdict(list)
        for position, source in enumerate(self._sources):
            rtype = canonical_type(source.resource_type)
            self._by_type[rtype].append(position)
            if rtype.startswith("kubernetes:"):
                group_kind = k8s_group_kind(rtype)  # from the type token alone, no props needed
                if group_kind == ("", ""):  # not a group/version:Kind token: the object's apiVersion/kind say
                    group_kind = self._view(position).k8s_group_kind
                self._by_kind[group_kind].append(position)

    def _view(self, position: int) -> Res:
        view = self._views.get(position)
        if view is None:
            view = self._views[position] = stack_view(self._sources[position])
        return view

    def of_types(self, *types: str) -> list[Res]:
        """The resources of the given type tokens, in stack order."""
        positions = sorted(p for t in dict.fromkeys(types) for p in self._by_type.get(t, ()))
        return [self._view(p) for p in positions]

    def helm_releases(self, *charts: str) -> list[Res]:
        """The Helm releases (and v4 charts) that install one of ``charts``, in stack order."""
        return [r for r in self.of_types(*HELM_TYPES) if helm_chart_name(r) in charts]

    def k8s_of(self, group: str, kind: str) -> list[Res]:
        """The Kubernetes resources of one (group, kind), whatever the API version, in stack order."""
        return [self._view(p) for p in self._by_kind.get((group, kind), ())]

    def k8s_kinds(self) -> set[tuple[str, str]]:
        """The (group, kind) of every Kubernetes resource in the stack."""
        return set(self._by_kind)


# --------------------------------------------------------------------------- shared config schema


def setting(kind: str, default: Any, description: str, **constraints: Any) -> dict[str, Any]:
    """One key of a rule's config: the JSON schema the engine validates the config file against (with its default)."""
    return {"type": kind, **constraints, "default": default, "description": description}


SYSTEM_NAMESPACES_SCHEMA = setting(
    "array",
    list(SYSTEM_NAMESPACES),
    "Platform namespaces; every other namespace is an application namespace.",
    items={"type": "string"},
)
CONTROLLER_NAMESPACE_SCHEMA = setting(
    "string", "sealed-secrets", "Namespace of the sealed-secrets controller (where its key Secrets live)."
)
