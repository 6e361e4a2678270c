"""Kubernetes objects checked strictly against the OpenAPI schema of the cluster's Kubernetes minor.

The API server prunes a field it does not know without a word (``securityContext.runAsNonroot``
is simply gone), so every core object the program emits is validated with unknown fields as
errors. The schemas are the ``-strict`` JSON schemas the ``kubernetes-validate`` package ships for
each minor (offline; read from the package's data, the package itself is not imported).

Istio objects are left to ``tools/istio_schema.py`` (the Istio CRDs); other custom resources, which
have no schema here, are reported as not checked. A minor the package has no schema for is a
finding, never a crash.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tools.findings import ADVISORY, Finding, render_path, shown, under_secret

SOURCE = "k8s-schema"
NOT_OBJECTS = ("kubernetes:helm.sh/",)  # Helm releases are checked by tools/helm_values.py
_DIR = re.compile(r"^v(\d+)\.(\d+)\.(\d+)-local-strict$")


def _schema_root() -> Path | None:
    spec = importlib.util.find_spec("kubernetes_validate")
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(next(iter(spec.submodule_search_locations))) / "kubernetes-json-schema"
    return root if root.is_dir() else None


@functools.lru_cache(maxsize=1)
def schema_versions() -> dict[str, str]:
    """Minor (``1.33``) -> the newest strict schema folder shipped for it (``v1.33.0-local-strict``)."""
    root = _schema_root()
    newest: dict[str, tuple[int, str]] = {}
    for d in root.iterdir() if root else ():
        m = _DIR.match(d.name)
        if m:
            minor, patch = f"{m[1]}.{m[2]}", int(m[3])
            if minor not in newest or patch > newest[minor][0]:
                newest[minor] = (patch, d.name)
    return {minor: name for minor, (_, name) in newest.items()}


def minor_of(version: str) -> str:
    """``1.33`` / ``1.33.2`` / ``v1.33`` -> ``1.33``."""
    return ".".join(version.lstrip("v").split(".")[:2])


@functools.lru_cache(maxsize=4)
def _registry(folder: str) -> Any:
    from referencing import Registry, Resource

    root = _schema_root()
    assert root is not None
    definitions = json.loads((root / folder / "_definitions.json").read_text())
    return Resource.from_contents(definitions) @ Registry()


@functools.cache
def _validator(folder: str, api_version: str, kind: str) -> Any:
    """A validator for one kind, or None where the package has no schema (a custom resource)."""
    import jsonschema
    from referencing import Resource

    root = _schema_root()
    assert root is not None
    # rbac.authorization.k8s.io/v1 -> rbac-v1, v1 -> v1 (the package's file naming)
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    path = root / folder / f"{kind.lower()}-{group_version}.json"
    if not path.exists():
        return None
    schema = json.loads(path.read_text())
    if (schema.get("properties", {}).get("apiVersion", {}).get("enum") or [api_version]) != [api_version]:
        return None  # same kind and version in another group (e.g. a CRD named like a core kind)
    registry = Resource.from_contents(schema) @ _registry(folder)
    return jsonschema.Draft202012Validator(schema, registry=registry)


@functools.cache
def _definition_validator(folder: str, definition: str) -> Any:
    import jsonschema

    schema = {"$ref": f"https://kubernetes.io/api/_definitions.json#/$defs/{definition}"}
    return jsonschema.Draft202012Validator(schema, registry=_registry(folder))


def _folder(kubernetes_version: str | None) -> str:
    """The schema folder of a version's minor; the newest shipped when the version is unknown or unpinned."""
    shipped = schema_versions()
    minor = minor_of(kubernetes_version) if kubernetes_version else ""
    if minor in shipped:
        return shipped[minor]
    return shipped[max(shipped, key=lambda v: tuple(map(int, v.split("."))))]


def validate_definition(definition: str, value: Any, kubernetes_version: str | None) -> list[tuple[list[Any], str]]:
    """``(path parts, problem)`` for a value of one Kubernetes type (``io.k8s.api.core.v1.SecurityContext``).

    For values a Helm chart passes through as that type. An unknown or unpinned version uses the newest
    schema shipped (the object checks report the version itself).
    """
    validator = _definition_validator(_folder(kubernetes_version), definition)
    return sorted(
        ((list(err.absolute_path), err.message[:200]) for err in validator.iter_errors(value)),
        key=lambda p: (list(map(str, p[0])), p[1]),
    )


def validate(obj: dict[str, Any], kubernetes_version: str, secret_paths: Iterable[str] = ()) -> list[tuple[str, str]]:
    """``(path, problem)`` for one object; raises ``LookupError`` when there is no schema to check against."""
    folder = schema_versions().get(minor_of(kubernetes_version))
    if folder is None:
        raise LookupError(f"no Kubernetes {minor_of(kubernetes_version)} schema")
    validator = _validator(folder, obj.get("apiVersion", ""), obj.get("kind", ""))
    if validator is None:
        raise LookupError(f"no schema for {obj.get('apiVersion')} {obj.get('kind')} (a custom resource?)")
    secrets = list(secret_paths)
    problems = []
    for err in validator.iter_errors(obj):
        parts = list(err.absolute_path)
        secret = under_secret(parts, secrets)
        if err.validator == "additionalProperties":
            message = err.message  # names the unexpected keys, never a value
        elif secret:
            message = f"invalid ({err.validator} {shown(err.validator_value, False)})"
        else:
            message = err.message if len(err.message) <= 200 else err.message[:197] + "..."
        problems.append((render_path(parts), message))
    return sorted(problems)


def is_istio(api_version: str) -> bool:
    return api_version.split("/")[0].endswith("istio.io")


def check(resources: Iterable[Any], kubernetes_version: str | None) -> tuple[list[Finding], list[str]]:
    """(findings, notes on what was not checked) for every core Kubernetes object among recorded resources."""
    findings: list[Finding] = []
    unchecked: dict[str, int] = {}
    objects = [
        r
        for r in resources
        if r.type.startswith("kubernetes:")
        and not r.type.startswith(NOT_OBJECTS)
        and r.custom
        and isinstance(r.inputs.get("apiVersion"), str)
        and r.inputs.get("kind")
        and not is_istio(r.inputs["apiVersion"])
    ]
    if not objects:
        return findings, []
    shipped = schema_versions()
    if not kubernetes_version or minor_of(kubernetes_version) not in shipped:
        first = objects[0]
        available = ", ".join(sorted(shipped, key=lambda v: tuple(map(int, v.split("."))))) or "none"
        what = (
            f"Kubernetes {kubernetes_version}"
            if kubernetes_version
            else "an unpinned Kubernetes version (cluster.kubernetesVersion is not set)"
        )
        findings.append(
            Finding(
                SOURCE,
                first.urn,
                first.type,
                first.name,
                "",
                f"{len(objects)} Kubernetes objects not checked: kubernetes-validate has no schema for {what} "
                f"(it ships {available})",
                level=ADVISORY if not kubernetes_version else "mandatory",
            )
        )
        return findings, []
    for r in objects:
        try:
            problems = validate(r.inputs, kubernetes_version, r.secret_paths)
        except LookupError:
            key = f"{r.inputs['apiVersion']} {r.inputs['kind']}"
            unchecked[key] = unchecked.get(key, 0) + 1
            continue
        findings += [Finding(SOURCE, r.urn, r.type, r.name, path, message) for path, message in problems]
    notes = [
        f"k8s-schema: {n} {key} not checked: no schema for this custom resource in kubernetes-validate"
        for key, n in sorted(unchecked.items())
    ]
    return findings, notes
