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
import hashlib
import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from tools.findings import Finding, render_path, under_secret

SOURCE = "istio-schema"
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


def cache_dir() -> Path:
    """Where parsed CRD schemas are kept between runs (``$XDG_CACHE_HOME/platform-preview``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "platform-preview"


@functools.lru_cache(maxsize=1)
def _schemas() -> dict[tuple[str, str], dict]:
    """(apiVersion, kind) -> strict JSON schema of ``spec``.

    Parsing the CRD file costs seconds; the strict schemas are cached as JSON keyed by the file's SHA-256,
    so a changed file is parsed again and a stale cache is never read.
    """
    path = crd_path()
    if path is None:
        raise FileNotFoundError("Istio CRD reference file not found (shared/reference/istio-crds-1.30.3.yaml)")
    data = path.read_bytes()
    cached = cache_dir() / f"istio-crds-{hashlib.sha256(data).hexdigest()[:32]}.json"
    try:
        return {tuple(k.split("|", 1)): v for k, v in json.loads(cached.read_text()).items()}
    except (OSError, ValueError):
        pass
    result = _parse(data)
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=cached.parent, suffix=".tmp", delete=False) as f:
            json.dump({f"{a}|{k}": v for (a, k), v in result.items()}, f)
        os.replace(f.name, cached)  # whole or absent: a concurrent reader never sees half a file
    except OSError:
        pass  # no writable cache: parse again next time
    return result


def _parse(data: bytes) -> dict[tuple[str, str], dict]:
    loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    result: dict[tuple[str, str], dict] = {}
    for doc in yaml.load_all(data, Loader=loader):  # noqa: S506 - a safe loader
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


@functools.cache
def _validator(api_version: str, kind: str) -> Any:
    import jsonschema

    schema = _schemas().get((api_version, kind))
    return None if schema is None else jsonschema.Draft7Validator(schema)


def check(resources: Iterable[Any]) -> tuple[list[Finding], list[str]]:
    """(findings, notes) for every Istio object among recorded resources, against the strict CRD schemas."""
    objects = [
        r
        for r in resources
        if r.type.startswith("kubernetes:")
        and r.custom
        and isinstance(r.inputs.get("apiVersion"), str)
        and is_istio(r.inputs["apiVersion"])
        and r.inputs.get("kind")
    ]
    if not objects:
        return [], []
    if not available():
        return [], [
            f"{SOURCE}: {len(objects)} Istio objects not checked: the Istio CRD reference file is absent "
            "(shared/reference/istio-crds-<version>.yaml beside the repository, or ISTIO_CRDS)"
        ]
    findings: list[Finding] = []
    for r in objects:
        api_version, kind = r.inputs["apiVersion"], r.inputs["kind"]
        validator = _validator(api_version, kind)
        if validator is None:
            message = f"{api_version} {kind} is not a kind of the Istio CRDs (a typo in apiVersion or kind?)"
            findings.append(Finding(SOURCE, r.urn, r.type, r.name, "", message))
            continue
        spec = r.inputs.get("spec", {})
        for err in sorted(validator.iter_errors(spec), key=lambda e: list(map(str, e.absolute_path))):
            parts = ["spec", *err.absolute_path]
            secret = under_secret(parts, r.secret_paths)
            message = err.message if err.validator == "additionalProperties" or not secret else "invalid value"
            findings.append(Finding(SOURCE, r.urn, r.type, r.name, render_path(parts), message[:200]))
    return findings, []
