"""Exporting the outputs contract: every output of the stack's role, exactly, each checked against its type.

The producer side of :mod:`components.platform_outputs`: ``__main__.py`` calls :func:`export_outputs` once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi

from components.platform_outputs import CONTRACT_VERSION, OutputContractError, OutputSpec, outputs_for, type_problem


def _contains_output(value: Any) -> bool:
    if isinstance(value, pulumi.Output) or hasattr(value, "__await__"):
        return True
    if isinstance(value, Mapping):
        return any(_contains_output(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_contains_output(v) for v in value)
    return False


def _checked(spec: OutputSpec, value: Any) -> Any:
    def check(resolved: Any) -> Any:
        problem = type_problem(spec.type, resolved)
        if problem:
            raise OutputContractError(f"stack output '{spec.name}' breaks contract {CONTRACT_VERSION}: {problem}")
        return resolved

    if not _contains_output(value):
        return check(value)  # plain values fail at once, before any export
    return pulumi.Output.from_input(value).apply(check)


def export_outputs(role: str, values: Mapping[str, Any]) -> None:
    """Export every output of ``role``'s contract, exactly: nothing missing, nothing extra.

    ``contractVersion`` is added here. Secret outputs are wrapped with ``Output.secret`` whatever
    the input's secrecy; every value is checked against its declared type (at once for plain
    values, when resolved for Outputs).
    """
    contract = [spec for spec in outputs_for(role) if spec.name != "contractVersion"]
    expected = {spec.name for spec in contract}
    missing = [spec.name for spec in contract if spec.name not in values]
    unexpected = sorted(set(values) - expected)
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing: {', '.join(missing)}")
        if unexpected:
            hint = " (contractVersion is added by export_outputs)" if "contractVersion" in unexpected else ""
            parts.append(f"not in the contract for this role: {', '.join(unexpected)}{hint}")
        raise OutputContractError(
            f"stack outputs for role {role!r} do not match contract {CONTRACT_VERSION} "
            f"(components/platform_outputs.py): {'; '.join(parts)}"
        )
    checked = {spec.name: _checked(spec, values[spec.name]) for spec in contract}
    pulumi.export("contractVersion", CONTRACT_VERSION)
    for spec in contract:
        value = checked[spec.name]
        pulumi.export(spec.name, pulumi.Output.secret(value) if spec.secret else value)
