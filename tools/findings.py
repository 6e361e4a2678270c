"""What the offline preview's schema checks report: one finding per problem, shaped like a policy violation.

The three checks (``tools/azure_schema.py``, ``tools/helm_values.py``, ``tools/k8s_schema.py``) answer
what the policy pack cannot: would Azure, Helm and the Kubernetes API server accept what the program
sends? A misspelled property is silently dropped by all three, so a finding is mandatory by default.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tools import wire
from tools.plan_render import MASK

MANDATORY, ADVISORY = "mandatory", "advisory"

# The check's name doubles as the "policy" a violation in plan.json names; the description is the why.
DESCRIPTIONS = {
    "azure-schema": "Azure inputs match the azure-native provider schema of the installed SDK "
    "(a misspelled or misplaced property is dropped or rejected by Azure)",
    "helm-values": "Helm values are known to the pinned chart version "
    "(Helm and istiod ignore a misspelled value silently)",
    "k8s-schema": "Kubernetes objects match the OpenAPI schema of the cluster's Kubernetes minor "
    "(the API server prunes unknown fields silently)",
    "istio-schema": "Istio objects match the Istio CRDs with unknown fields rejected "
    "(the API server prunes a misspelled field of a security policy silently)",
}


@dataclass(frozen=True)
class Finding:
    source: str  # azure-schema | helm-values | k8s-schema | istio-schema
    urn: str
    resource_type: str
    resource_name: str
    path: str  # where in the resource's inputs, e.g. properties.networkAcls.defaultActon
    message: str
    level: str = MANDATORY

    def __str__(self) -> str:
        where = f" {self.path}:" if self.path else ""
        return f"[{self.level}] {self.source} {self.resource_type} {self.resource_name}:{where} {self.message}"


def render_path(parts: Sequence[Any]) -> str:
    """``('properties', 'ipRules', 0, 'value')`` -> ``properties.ipRules[0].value``."""
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def dotted(parts: Sequence[Any]) -> str:
    """The recorder's form of a path (``properties.ipRules.0.value``), to match recorded secret paths."""
    return ".".join(str(p) for p in parts)


def under_secret(parts: Sequence[Any], secret_paths: Iterable[str]) -> bool:
    return wire.in_secret(dotted(parts), secret_paths)


def shown(value: Any, secret: bool) -> str:
    """A value as a message may show it: never a secret, never a page of text."""
    if secret:
        return MASK
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def as_violation(f: Finding) -> Mapping[str, Any]:
    """A finding in plan.json's violation shape (``source`` tells it from a policy-pack violation)."""
    return {
        "policy": f.source,
        "policyPack": "offline-preview",
        "policyPackVersion": "",
        "source": f.source,
        "enforcementLevel": f.level,
        "severity": "high" if f.level == MANDATORY else "low",
        "description": DESCRIPTIONS[f.source],
        "message": f"{f.path}: {f.message}" if f.path else f.message,
        "urn": f.urn,
        "resourceType": f.resource_type,
        "resourceName": f.resource_name,
    }
