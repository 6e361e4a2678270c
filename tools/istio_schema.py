"""Strict validation of Istio objects against the official CRD schemas.

The Kubernetes API server prunes unknown fields silently, so a misspelled field in a
security policy is a silent hole (``mtls: {mode: STRICT}`` written ``mTLS`` simply vanishes).
Here every object schema that lists ``properties`` forbids any other key.

The schemas come from ``shared/reference/istio-crds-<version>.yaml`` beside the repository
(``ISTIO_CRDS`` overrides the path). ``available()`` tells whether the file is there, so a
test can skip with a clear reason where it is absent.
"""

from __future__ import annotations

import copy
import functools
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
_CANDIDATES = (
    ROOT.parent / "shared" / "reference" / "istio-crds-1.30.3.yaml",
    ROOT / "shared" / "reference" / "istio-crds-1.30.3.yaml",
)


def crd_path() -> Path | None:
    override = os.environ.get("ISTIO_CRDS")
    if override:
        return Path(override) if Path(override).exists() else None
    return next((p for p in _CANDIDATES if p.exists()), None)


def available() -> bool:
    return crd_path() is not None


def _strict(schema: Any) -> Any:
    """Copy of an OpenAPI v3 schema in which objects with listed properties reject unknown keys."""
    if isinstance(schema, list):
        return [_strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _strict(v) for k, v in schema.items() if not k.startswith("x-kubernetes-validations")}
    if schema.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if (
        "properties" in schema
        and "additionalProperties" not in schema
        and not schema.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    if schema.get("nullable"):
        t = out.get("type")
        if isinstance(t, str):
            out["type"] = [t, "null"]
    return out


@functools.lru_cache(maxsize=1)
def _schemas() -> dict[tuple[str, str], dict]:
    """(apiVersion, kind) -> strict JSON schema of ``spec``."""
    path = crd_path()
    if path is None:
        raise FileNotFoundError("Istio CRD reference file not found (shared/reference/istio-crds-1.30.3.yaml)")
    result: dict[tuple[str, str], dict] = {}
    for doc in yaml.safe_load_all(path.read_text()):
        if not isinstance(doc, dict) or doc.get("kind") != "CustomResourceDefinition":
            continue
        group = doc["spec"]["group"]
        kind = doc["spec"]["names"]["kind"]
        for version in doc["spec"]["versions"]:
            spec_schema = version["schema"]["openAPIV3Schema"]["properties"].get("spec")
            if spec_schema is None:
                continue
            result[(f"{group}/{version['name']}", kind)] = _strict(copy.deepcopy(spec_schema))
    return result


def known_kinds() -> set[tuple[str, str]]:
    return set(_schemas())


def validate(api_version: str, kind: str, spec: Any) -> list[str]:
    """Problems with an Istio object's ``spec`` (empty when valid); unknown kinds are a problem too."""
    import jsonschema

    schema = _schemas().get((api_version, kind))
    if schema is None:
        return [f"{api_version} {kind}: not an Istio kind/version in the reference CRDs"]
    validator = jsonschema.Draft7Validator(schema)
    return [
        f"{kind} spec.{'.'.join(str(p) for p in err.absolute_path) or '<root>'}: {err.message}"
        for err in sorted(validator.iter_errors(spec), key=lambda e: list(map(str, e.absolute_path)))
    ]


def is_istio(api_version: str) -> bool:
    return api_version.split("/")[0].endswith("istio.io")


def validate_all(objects: Iterable[dict]) -> list[str]:
    """Validate every Istio object among Kubernetes-shaped dicts (apiVersion, kind, metadata, spec)."""
    problems: list[str] = []
    for obj in objects:
        api_version = obj.get("apiVersion", "")
        if not is_istio(api_version):
            continue
        name = (obj.get("metadata") or {}).get("name", "?")
        problems += [f"{name}: {p}" for p in validate(api_version, obj.get("kind", ""), obj.get("spec", {}))]
    return problems
