"""Declaring a config key once: its name, kind, default, allowed values and description side by side.

A config section is a frozen dataclass; each field declares its key with ``key(...)``::

    sku_tier: str = key("skuTier", Text(choices=SKU_TIERS), "AKS pricing tier; prod: Standard or Premium",
                        default=ByClass(prod="Standard", nonprod="Free"))

That one declaration drives reading, validation (type, allowed values, the unknown-key check with its
"did you mean") and the generated config reference (``python -m stack_config.gen_docs``). Rules that
relate several keys are functions registered with ``@rules(SectionClass)``; they run right after the
section is read, so every problem is reported together, before any resource exists.
"""

from __future__ import annotations

import dataclasses
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from stack_config.reader import Reader, join

T = TypeVar("T")
_KEY = "stack_config.key"


# --------------------------------------------------------------------------- context and defaults


@dataclass(frozen=True)
class Context:
    """What defaults and rules depend on: the environment class and the stack's role."""

    environment_class: str | None  # None while environmentClass itself is invalid
    stack_role: str
    present_secrets: frozenset[str] = frozenset()

    @property
    def prod(self) -> bool:
        return self.environment_class == "prod"

    @property
    def nonprod(self) -> bool:
        return self.environment_class == "nonprod"

    @property
    def full_environment(self) -> bool:
        """A whole environment (cluster, mesh, edges), not the stack that only owns the shared sealing key."""
        return self.stack_role == "environment"

    @property
    def prod_environment(self) -> bool:
        """A production environment stack: where production's stricter rules apply."""
        return self.prod and self.full_environment


@dataclass(frozen=True)
class ByClass:
    """A default that differs by environment class; an unknown class gets the nonprod value."""

    prod: Any
    nonprod: Any


@dataclass(frozen=True)
class Derived:
    """A default computed from the context and the section's other values (read first)."""

    compute: Callable[[Context, Mapping[str, Any]], Any]
    doc: str


def always(ctx: Context) -> bool:
    return True


@dataclass(frozen=True)
class Required:
    """The key must be set (a list: non-empty) when ``when`` holds; ``hint`` says what to set."""

    hint: str = ""
    when: Callable[[Context], bool] = always
    doc: str = "required"


def on_environment_stacks(hint: str) -> Required:
    """Required on environment stacks: the stack that only owns the shared sealing key has no cluster or edges."""
    return Required(hint, when=lambda ctx: ctx.full_environment, doc="required (environment stacks)")


@dataclass(frozen=True)
class ProdAllows:
    """What production allows of a key (stricter than non-production) and why; checked on prod environment stacks."""

    allowed: str  # as the message and the docs say it: "true", "Standard, Premium", "2 or more"
    check: Callable[[Any], bool]
    why: str = ""

    @property
    def message(self) -> str:
        return f"prod allows: {self.allowed}" + (f" ({self.why})" if self.why else "")


def prod_allows(*values: Any, why: str = "") -> ProdAllows:
    """Production allows only these values."""
    return ProdAllows(", ".join(_plain(v) for v in values), lambda value: value in values, why)


def prod_at_least(minimum: int, why: str = "") -> ProdAllows:
    return ProdAllows(f"{minimum} or more", lambda value: value >= minimum, why)


def _plain(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def resolve(default: Any, ctx: Context, values: Mapping[str, Any]) -> Any:
    if isinstance(default, ByClass):
        return default.prod if ctx.prod else default.nonprod
    if isinstance(default, Derived):
        return default.compute(ctx, values)
    return default


# --------------------------------------------------------------------------- kinds


class Kind(ABC):
    """How a value is converted and checked; ``type_doc`` and ``allowed_doc`` describe it in the docs."""

    type_doc = ""

    @abstractmethod
    def allowed_doc(self) -> str: ...

    @abstractmethod
    def read(self, s: Read, path: str, value: Any, default: Any) -> tuple[Any, bool]:
        """Convert a present (non-null) value; report a problem and return ``(None, False)`` if it is wrong."""


def _describe_doc(describe: str) -> str:
    return describe.removeprefix("allowed: ")


@dataclass(frozen=True)
class Text(Kind):
    choices: Sequence[str] = ()
    why: str = ""  # said after the choices when one is refused
    pattern: re.Pattern | None = None
    check: Callable[[str], bool] | None = None
    describe: str = ""  # what is allowed, for a value that does not match pattern/check

    type_doc = "string"

    @property
    def hint(self) -> str:
        return self.describe or (f"allowed: {', '.join(self.choices)}" if self.choices else "")

    def allowed_doc(self) -> str:
        return ", ".join(f"`{c}`" for c in self.choices) if self.choices else _describe_doc(self.describe)

    def read(self, s: Read, path: str, value: Any, default: Any) -> tuple[Any, bool]:
        return s.r.text(
            path, value, choices=self.choices, why=self.why, pattern=self.pattern, check=self.check, describe=self.hint
        )


@dataclass(frozen=True)
class Integer(Kind):
    lo: int
    hi: int
    check: Callable[[int], bool] | None = None
    describe: str = ""  # what is allowed, for a value in range that fails check

    type_doc = "int"

    def allowed_doc(self) -> str:
        return _describe_doc(self.describe) if self.check else f"{self.lo}-{self.hi}"

    def read(self, s: Read, path: str, value: Any, default: Any) -> tuple[Any, bool]:
        return s.r.integer(path, value, self.lo, self.hi, check=self.check, describe=self.describe)


@dataclass(frozen=True)
class Boolean(Kind):
    type_doc = "bool"

    def allowed_doc(self) -> str:
        return "`true`, `false`"

    def read(self, s: Read, path: str, value: Any, default: Any) -> tuple[Any, bool]:
        return s.r.boolean(path, value)


@dataclass(frozen=True)
class Texts(Kind):
    pattern: re.Pattern | None = None
    check: Callable[[str], bool] | None = None
    describe: str = ""

    type_doc = "list of string"

    def allowed_doc(self) -> str:
        return _describe_doc(self.describe) or "strings"

    def read(self, s: Read, path: str, value: Any, default: Any) -> tuple[Any, bool]:
        return s.r.texts(path, value, pattern=self.pattern, check=self.check, describe=self.describe)


@dataclass(frozen=True)
class MapOf(Kind):
    """A map checked entry by entry: each bad entry is reported at its own path, the good ones are kept."""

    shape: str  # "<name> to <value>": said when the value is no map at all
    allowed: str  # what an entry may be, for the docs
    entry: Callable[[Read, str, Any, Any], tuple[str, Any] | None]  # (s, path, name, value): converted, or None
    collect: Callable[[list[tuple[str, Any]]], Any] = tuple  # the good entries as the section holds them

    type_doc = "map"

    def allowed_doc(self) -> str:
        return self.allowed

    def read(self, s: Read, path: str, value: Any, default: Any) -> tuple[Any, bool]:
        if not isinstance(value, Mapping):
            s.r.problem(path, value, f"expected a map of {self.shape}")
            return None, False
        entries = [entry for name, item in value.items() if (entry := self.entry(s, path, name, item)) is not None]
        return self.collect(entries), True


@dataclass(frozen=True)
class Section(Kind):
    """A nested object read into its own dataclass; a dataclass instance as default supplies its fields' defaults."""

    cls: type

    type_doc = "object"

    def allowed_doc(self) -> str:
        return "the keys below"

    def read(self, s: Read, path: str, value: Any, default: Any) -> tuple[Any, bool]:
        return read_section(s.r, value, path, self.cls, s.ctx, base=default, parent=s), True


@dataclass(frozen=True)
class Objects(Kind):
    """A list of objects; an item that lacks a required key (or that its rules drop) is left out."""

    cls: type
    shorthand: str | None = None  # a bare string item stands for {shorthand: item}

    type_doc = "list of object"

    def allowed_doc(self) -> str:
        return "objects with the keys below" + (f", or a bare string for {self.shorthand}" if self.shorthand else "")

    def read(self, s: Read, path: str, value: Any, default: Any) -> tuple[Any, bool]:
        if not isinstance(value, list):
            s.r.problem(path, value, "expected a list")
            return None, False
        items: list[Any] = []
        paths: list[str] = []
        for i, raw in enumerate(value):
            item_path = f"{path}[{i}]"
            if self.shorthand is not None and isinstance(raw, str):
                item = read_section(
                    s.r, {self.shorthand: raw}, item_path, self.cls, s.ctx, parent=s, shorthand=self.shorthand
                )
            elif raw is not None and not isinstance(raw, Mapping):
                s.r.problem(item_path, raw, "expected an object (a YAML map)")
                continue
            else:
                item = read_section(s.r, raw, item_path, self.cls, s.ctx, parent=s)
            if item is not None:
                items.append(item)
                paths.append(item_path)
        s.item_paths[path] = paths
        return tuple(items), True


# --------------------------------------------------------------------------- declaring keys


@dataclass(frozen=True)
class Key:
    name: str  # camelCase config key; "a.b" is key b of the object a
    kind: Kind
    doc: str  # one line for the config reference
    default: Any = None  # a value, ByClass or Derived
    required: Required | None = None
    prod: ProdAllows | None = None  # what production allows, when it is stricter


def key(
    name: str,
    kind: Kind,
    doc: str,
    *,
    default: Any = None,
    required: Required | None = None,
    prod: ProdAllows | None = None,
) -> Any:
    """A keyword-only dataclass field declaring its config key.

    Code that builds a section itself (tests) may omit a key with a plain default; a key that is always
    required, or whose default depends on the environment (``ByClass``, ``Derived``), it must give.
    """
    spec = Key(name, kind, doc, default, required, prod)
    always_required = required is not None and required.when is always
    if not always_required and not isinstance(default, (ByClass, Derived)):
        return field(default=default, kw_only=True, metadata={_KEY: spec})
    return field(kw_only=True, metadata={_KEY: spec})


def keys_of(cls: type) -> list[tuple[str, Key]]:
    """(attribute, key) for every declared field, in declaration order."""
    return [(f.name, f.metadata[_KEY]) for f in dataclasses.fields(cls) if _KEY in f.metadata]


def key_names(cls: type) -> list[str]:
    """The keys a section accepts (an object key once, for its dotted members)."""
    names: list[str] = []
    for _, spec in keys_of(cls):
        head = spec.name.split(".", 1)[0]
        if head not in names:
            names.append(head)
    return names


_RULES: dict[type, list[Callable[[Read], None]]] = {}


def rules(cls: type) -> Callable[[Callable[[Read], None]], Callable[[Read], None]]:
    """Register a function checking the rules between a section's keys (run after the section is read)."""

    def register(fn: Callable[[Read], None]) -> Callable[[Read], None]:
        _RULES.setdefault(cls, []).append(fn)
        return fn

    return register


# --------------------------------------------------------------------------- reading


class Read:
    """A section being read: its raw keys, the values read so far (by attribute) and where to report."""

    def __init__(
        self, r: Reader, path: str, raw: Mapping, ctx: Context, parent: Read | None = None, shorthand: str | None = None
    ):
        self.r = r
        self.path = path
        self.raw = raw
        self.ctx = ctx
        self.parent = parent
        self.values: dict[str, Any] = {}
        self.item_paths: dict[str, list[str]] = {}  # list path -> path of each item kept
        self.drop = False  # a rule may drop a list item it found unusable
        self.shorthand = shorthand  # Objects(shorthand=...): the key a bare string item stands for

    def at(self, name: str) -> str:
        """The full path of one of this section's keys (a shorthand item reports at the item itself)."""
        return self.path if name == self.shorthand else join(self.path, name)

    def given(self, name: str) -> bool:
        return self.raw.get(name) is not None

    def items(self, name: str, attr: str) -> list[tuple[str, Any]]:
        """(path, item) for each item kept of the list key ``name`` (read into ``attr``): where each was given."""
        return list(zip(self.item_paths.get(self.at(name), []), self.values[attr], strict=True))

    def failed(self, name: str) -> bool:
        return self.r.failed(self.at(name))

    def problem(self, name: str, value: Any, allowed: str) -> None:
        self.r.problem(self.at(name), value, allowed)

    def report(self, name: str, message: str) -> None:
        self.r.report(self.at(name), message)


def read_section(
    r: Reader,
    raw: Any,
    path: str,
    cls: type[T],
    ctx: Context,
    *,
    base: Any = None,
    parent: Read | None = None,
    shorthand: str | None = None,
) -> T | None:
    """Read one section: unknown keys, every declared key, then its rules; ``None`` if it was dropped."""
    s = Read(r, path, r.section(raw, path, key_names(cls)), ctx, parent, shorthand)
    read_fields(s, cls, base=base)
    for rule in _RULES.get(cls, ()):
        rule(s)
    missing_required = any(
        spec.required is not None and spec.required.when(ctx) and s.values.get(attr) is None
        for attr, spec in keys_of(cls)
    )
    if s.drop or missing_required:
        return None
    return cls(**s.values)


def read_fields(s: Read, cls: type, *, base: Any = None, only: Sequence[str] | None = None) -> None:
    """Read the declared keys of ``cls`` (or ``only`` those attributes) into ``s.values``."""
    declared = [(attr, spec) for attr, spec in keys_of(cls) if only is None or attr in only]
    objects: dict[str, Mapping] = {}
    for _, spec in declared:
        head, _, rest = spec.name.partition(".")
        if rest and head not in objects:
            objects[head] = s.r.section(s.raw.get(head), s.at(head), [n.split(".", 1)[1] for n in _members(cls, head)])
    # Derived defaults come last: they read the values of the other keys.
    ordered = [d for d in declared if not isinstance(d[1].default, Derived)]
    ordered += [d for d in declared if isinstance(d[1].default, Derived)]
    for attr, spec in ordered:
        head, _, rest = spec.name.partition(".")
        container = objects[head] if rest else s.raw
        value = container.get(rest or head)
        default = getattr(base, attr) if base is not None else resolve(spec.default, s.ctx, s.values)
        s.values[attr] = _read_value(s, spec, s.at(spec.name), value, default)
        _check_prod(s, spec, s.at(spec.name), s.values[attr])


def _members(cls: type, head: str) -> list[str]:
    return [spec.name for _, spec in keys_of(cls) if spec.name.startswith(f"{head}.")]


def _check_prod(s: Read, spec: Key, path: str, value: Any) -> None:
    """What production allows, on a prod environment stack, for a value that is itself valid."""
    rule = spec.prod
    if rule is None or not s.ctx.prod_environment or value is None or s.r.failed(path):
        return
    if not rule.check(value):
        s.r.problem(path, value, rule.message)


def _read_value(s: Read, spec: Key, path: str, value: Any, default: Any) -> Any:
    """One key's value: converted, or its default (after reporting why) when missing or wrong."""
    required = spec.required if spec.required is not None and spec.required.when(s.ctx) else None
    if value is None:  # missing, or `key:` with nothing after it in YAML
        if isinstance(spec.kind, Section):
            return read_section(s.r, None, path, spec.kind.cls, s.ctx, base=default, parent=s)
        if required is not None:
            hint = required.hint or (spec.kind.hint if isinstance(spec.kind, Text) else "") or "set a value"
            s.r.report(path, f"required; {hint}")
        return default
    if required is not None and value == [] and isinstance(spec.kind, (Texts, Objects)):
        s.r.problem(path, [], required.hint)
        return default
    converted, ok = spec.kind.read(s, path, value, default)
    return converted if ok else default
