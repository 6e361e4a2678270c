"""Azure inputs checked against the installed ``pulumi_azure_native`` SDK's input types.

Azure Resource Manager ignores a property it does not know (``networkAcls.defaultActon: Deny`` leaves
the vault open) and the mocks accept anything, so the preview checks every recorded
``azure-native:*`` resource against the SDK the program runs with:

- the resource's ``<Name>Args`` class and each nested ``@pulumi.input_type`` class give the property
  names (the wire names come from ``@pulumi.getter(name=...)``, the same table the SDK translates
  with), their types (the ``__init__`` annotations) and which are required (no default);
- unknown or wrong-case names at any depth, wrong types, missing required properties and empty
  required strings are findings;
- enums: the SDK types an *open* enum (Azure's ``modelAsString: true``, new values may appear
  server-side) as ``Union[str, Enum]`` and a *closed* one as the bare ``Enum``. Only a closed enum
  rejects a value outside its members; an open one accepts any string, as the provider does.

Unknown values (an ``Output`` not resolved at preview) are skipped: they cannot be checked yet.
Each class is analysed once per process (cached), only when a recorded input reaches it.
"""

from __future__ import annotations

import collections.abc
import difflib
import functools
import importlib
import inspect
import sys
import typing
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, Union

from tools.findings import Finding, render_path, shown, under_secret

SOURCE = "azure-schema"
PACKAGE = "azure-native"

# Spec: ("any",) | ("scalar", type) | ("enum", EnumClass, strict) | ("list", Spec) | ("map", Spec)
#       | ("object", ArgsClass) | ("union", (Spec, ...))
Spec = tuple


@dataclass(frozen=True)
class Prop:
    wire: str
    spec: Spec
    required: bool


class UnknownType(LookupError):
    """The type token names no resource of the installed SDK."""


# --------------------------------------------------------------------------- SDK introspection


def args_class(type_token: str) -> type:
    """``azure-native:keyvault:Vault`` -> ``pulumi_azure_native.keyvault.VaultArgs``.

    Where a nested input type has the resource's name (``network.VirtualNetworkArgs`` is the type of
    a peering's remote network), the SDK names the resource's own arguments ``<Name>InitArgs``.
    """
    parts = type_token.split(":")
    if len(parts) != 3 or parts[0] != PACKAGE:
        raise UnknownType(f"{type_token} is not an azure-native type token")
    module_name = "pulumi_azure_native." + parts[1].replace("/", ".")
    try:
        resource = getattr(importlib.import_module(module_name), parts[2])
        defined_in = sys.modules[resource.__module__]
        cls = getattr(defined_in, parts[2] + "InitArgs", None) or getattr(defined_in, parts[2] + "Args")
    except (ImportError, AttributeError, KeyError):
        raise UnknownType(
            f"{type_token} is not a resource of the installed pulumi_azure_native "
            f"{_sdk_version()} (no {module_name}.{parts[2]}Args)"
        ) from None
    return cls


def _sdk_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pulumi_azure_native")
    except PackageNotFoundError:
        return "(not installed)"


@functools.cache
def model(cls: type) -> dict[str, Prop]:
    """Wire name -> property of an ``*Args`` input class (cached: each class is read once)."""
    wire_names = {}
    for klass in reversed(cls.__mro__):
        for py_name, attr in vars(klass).items():
            if isinstance(attr, property) and hasattr(attr.fget, "_pulumi_name"):
                wire_names[py_name] = attr.fget._pulumi_name  # type: ignore[union-attr]
    namespace = vars(sys.modules[cls.__module__])
    props: dict[str, Prop] = {}
    for py_name, param in inspect.signature(cls).parameters.items():
        if param.kind is not inspect.Parameter.KEYWORD_ONLY:
            continue  # __self__
        wire = wire_names.get(py_name, py_name)
        props[wire] = Prop(wire, _spec(param.annotation, namespace), param.default is inspect.Parameter.empty)
    return props


def _plumbing(member: Any) -> bool:
    """The parts of ``pulumi.Input[T]`` that are not T: ``None``, ``Awaitable[T]``, ``Output[T]``."""
    if member is type(None):
        return True
    if isinstance(member, typing.ForwardRef):
        return member.__forward_arg__.startswith("Output[")
    return typing.get_origin(member) is collections.abc.Awaitable


def _spec(tp: Any, namespace: dict[str, Any]) -> Spec:
    if isinstance(tp, (typing.ForwardRef, str)):
        name = tp.__forward_arg__ if isinstance(tp, typing.ForwardRef) else tp
        tp = eval(name, namespace)
    origin = typing.get_origin(tp)
    if origin is Union:
        members = [m for m in typing.get_args(tp) if not _plumbing(m)]
        specs = [_spec(m, namespace) for m in members]
        enums = [s for s in specs if s[0] == "enum"]
        if enums and len(specs) == 2 and ("scalar", str) in specs:
            return ("enum", enums[0][1], False)  # Union[str, Enum]: an open enum
        return specs[0] if len(specs) == 1 else ("union", tuple(specs))
    if origin in (collections.abc.Sequence, list):
        (item,) = typing.get_args(tp) or (Any,)
        return ("list", _spec(item, namespace))
    if origin in (collections.abc.Mapping, dict):
        args = typing.get_args(tp)
        return ("map", _spec(args[1], namespace) if args else ("any",))
    if tp in (str, int, float, bool):
        return ("scalar", tp)
    if inspect.isclass(tp) and issubclass(tp, Enum):
        return ("enum", tp, True)
    if inspect.isclass(tp) and getattr(tp, "_pulumi_input_type", False):
        return ("object", tp)
    return ("any",)  # Any, and the rare free-form JSON inputs


# --------------------------------------------------------------------------- checking values


class _Checker:
    def __init__(self, secret_paths: Iterable[str]):
        self.secret_paths = list(secret_paths)
        self.problems: list[tuple[str, str]] = []

    def problem(self, parts: Sequence[Any], message: str) -> None:
        self.problems.append((render_path(parts), message))

    def show(self, parts: Sequence[Any], value: Any) -> str:
        return shown(value, under_secret(parts, self.secret_paths))

    def value(self, value: Any, spec: Spec, parts: list[Any]) -> None:
        if value is None:
            return  # unknown at preview time
        kind = spec[0]
        if kind == "scalar":
            self.scalar(value, spec[1], parts)
        elif kind == "enum":
            self.enum(value, spec[1], spec[2], parts)
        elif kind == "list":
            if not isinstance(value, list):
                self.problem(parts, f"expected a list, got {self.show(parts, value)}")
                return
            for i, item in enumerate(value):
                self.value(item, spec[1], [*parts, i])
        elif kind == "map":
            if not isinstance(value, dict):
                self.problem(parts, f"expected a mapping, got {self.show(parts, value)}")
                return
            for k, v in value.items():
                self.value(v, spec[1], [*parts, k])
        elif kind == "object":
            self.obj(value, spec[1], parts)
        elif kind == "union":
            self.union(value, spec[1], parts)

    def scalar(self, value: Any, typ: type, parts: list[Any]) -> None:
        if typ is bool:
            ok = isinstance(value, bool)
        elif typ is int:
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif typ is float:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        else:
            ok = isinstance(value, str)
        if not ok:
            self.problem(parts, f"expected {typ.__name__}, got {self.show(parts, value)}")

    def enum(self, value: Any, enum: type[Enum], strict: bool, parts: list[Any]) -> None:
        allowed = [m.value for m in enum]
        if value in allowed:
            return
        if not strict:
            if not isinstance(value, str):
                self.problem(parts, f"expected a string ({enum.__name__}), got {self.show(parts, value)}")
            return
        near = [a for a in allowed if isinstance(a, str) and isinstance(value, str) and a.lower() == value.lower()]
        hint = f" (did you mean {near[0]!r}?)" if near else ""
        self.problem(
            parts,
            f"{self.show(parts, value)} is not a value of {enum.__name__}: "
            f"allowed {', '.join(map(repr, allowed))}{hint}",
        )

    def obj(self, value: Any, cls: type, parts: list[Any]) -> None:
        if not isinstance(value, dict):
            self.problem(parts, f"expected an object ({cls.__name__}), got {self.show(parts, value)}")
            return
        props = model(cls)
        for key, item in value.items():
            prop = props.get(key)
            if prop is None:
                self.problem([*parts, key], f"unknown property of {cls.__name__}{_suggest(key, props)}")
                continue
            self.value(item, prop.spec, [*parts, key])
        for prop in props.values():
            if not prop.required:
                continue
            if prop.wire not in value:
                self.problem([*parts, prop.wire], f"required by {cls.__name__}, missing")
            elif value[prop.wire] == "" and prop.spec[0] in ("scalar", "enum"):
                self.problem([*parts, prop.wire], f"required by {cls.__name__}, empty")

    def union(self, value: Any, options: Sequence[Spec], parts: list[Any]) -> None:
        best: list[tuple[str, str]] | None = None
        for option in options:
            trial = _Checker(self.secret_paths)
            trial.value(value, option, parts)
            if not trial.problems:
                return
            if best is None or len(trial.problems) < len(best):
                best = trial.problems
        self.problems.extend(best or [])


def _suggest(key: str, props: dict[str, Prop]) -> str:
    same = [w for w in props if w.lower() == key.lower()]
    if same:
        return f" (wrong case: the property is {same[0]!r})"
    near = difflib.get_close_matches(key, list(props), n=1, cutoff=0.75)
    return f" (did you mean {near[0]!r}?)" if near else ""


def check_inputs(type_token: str, inputs: dict[str, Any], secret_paths: Iterable[str] = ()) -> list[tuple[str, str]]:
    """``(path, problem)`` for one resource's recorded inputs (wire names); empty when valid."""
    checker = _Checker(secret_paths)
    checker.obj(inputs, args_class(type_token), [])
    return checker.problems


def check(resources: Iterable[Any]) -> list[Finding]:
    """Findings for every recorded ``azure-native:*`` resource (``RecordedResource``-shaped objects)."""
    findings: list[Finding] = []
    for r in resources:
        if not r.type.startswith(PACKAGE + ":"):
            continue
        try:
            problems = check_inputs(r.type, r.inputs, r.secret_paths)
        except UnknownType as e:
            findings.append(Finding(SOURCE, r.urn, r.type, r.name, "", str(e)))
            continue
        findings += [Finding(SOURCE, r.urn, r.type, r.name, path, message) for path, message in problems]
    return findings
