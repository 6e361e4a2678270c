"""The Pulumi property wire format, in one place: how resource properties travel between SDK, engine and pack.

Properties cross gRPC as a protobuf ``Struct`` in which some objects are special, marked by a signature key:

- a secret is ``{SIG_KEY: SECRET_SIG, "value": <the value>}``; the engine hands analyzers their inputs with
  secrets still wrapped (``KeepSecrets``) and internal ``__`` keys dropped (``SkipInternalKeys``);
- a resource reference is ``{SIG_KEY: RESOURCE_SIG, "urn": ..., ...}``;
- a value the engine cannot know during preview is the string ``UNKNOWN``.

Struct numbers are doubles, so integral ones are given back as ints (JSON has one number type).
The signatures are the SDK's own (``pulumi.runtime.rpc``: ``_special_sig_key``, ``_special_secret_sig``,
``_special_resource_sig``, ``UNKNOWN``); a test keeps them equal. They are spelled out here, not imported,
so that the offline preview can start the policy pack before it pays for importing the SDK.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from google.protobuf import struct_pb2

SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
RESOURCE_SIG = "5cf8f73096256a8f31e491e813e4eb8e"
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


def secret(value: Any) -> dict[str, Any]:
    """``value`` wrapped as a secret."""
    return {SIG_KEY: SECRET_SIG, "value": value}


def is_secret(value: Any) -> bool:
    return isinstance(value, Mapping) and value.get(SIG_KEY) == SECRET_SIG


def in_secret(path: str, secret_paths: Iterable[str]) -> bool:
    """Whether the dotted ``path`` (as ``decode`` records them) is a secret path or lies inside one."""
    return any(path == s or path.startswith(s + ".") for s in secret_paths)


def whole_numbers(value: Any) -> Any:
    """``value`` with every integral float (a Struct number) given back as an int."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {k: whole_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [whole_numbers(v) for v in value]
    return value


def encode(
    values: Mapping[str, Any], secret_paths: Iterable[str] = (), secret_keys: Iterable[str] = ()
) -> dict[str, Any]:
    """Plain values -> the wire form the engine gives an analyzer.

    ``secret_paths`` are dotted paths (``a.b.0``, as ``decode`` records them) whose value is secret;
    ``secret_keys`` are top-level keys whose whole value is secret (additional secret outputs).
    Internal ``__`` keys are dropped.
    """
    paths = set(secret_paths)
    keys = set(secret_keys)

    def walk(value: Any, path: str) -> Any:
        if path in paths:
            return secret(value)
        if not paths:
            return value
        if isinstance(value, Mapping):
            return {k: walk(v, f"{path}.{k}") for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, f"{path}.{i}") for i, v in enumerate(value)]
        return value

    return {
        key: secret(value) if key in keys else walk(value, key)
        for key, value in values.items()
        if not key.startswith("__")
    }


def decode(value: Any, secret_paths: list[str] | None = None, path: str = "") -> Any:
    """Wire form -> plain values: secrets unwrapped (their dotted paths appended to ``secret_paths``),
    resource references shown by URN, unknowns as None, integral numbers as ints."""
    if isinstance(value, dict):
        sig = value.get(SIG_KEY)
        if sig == SECRET_SIG:
            if secret_paths is not None:
                secret_paths.append(path)
            return decode(value.get("value"), secret_paths, path)
        if sig == RESOURCE_SIG:
            return value.get("urn")
        return {k: decode(v, secret_paths, f"{path}.{k}" if path else k) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v, secret_paths, f"{path}.{i}" if path else str(i)) for i, v in enumerate(value)]
    if value == UNKNOWN:
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def to_struct(values: Mapping[str, Any]) -> struct_pb2.Struct:
    """Wire-form values as the protobuf ``Struct`` a gRPC request carries."""
    from google.protobuf import struct_pb2

    struct = struct_pb2.Struct()
    struct.update(values)
    return struct


def from_struct(struct: struct_pb2.Struct) -> dict[str, Any]:
    """A protobuf ``Struct`` as wire-form values (secrets still wrapped)."""
    from google.protobuf import json_format

    return json_format.MessageToDict(struct)
