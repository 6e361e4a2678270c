"""Helm values checked against the pinned charts' own ``values.yaml`` (and ``values.schema.json``).

Helm merges whatever values it is given and a template reads only the paths it knows, so a
misspelled value (``global.proxy.privilegd: false``) is silently ignored; istiod likewise drops an
unknown ``meshConfig`` key. For every ``kubernetes:helm.sh/v3:Release`` the preview checks:

- every value path the program sets is a path of the chart's ``values.yaml`` at that exact chart
  version; a default of ``{}`` or ``null`` is an open map (``env``, ``podAnnotations``) whose keys are free;
- Istio charts keep their defaults under ``_internal_defaults_do_not_set`` and merge the user's
  values over them, so the user's paths are checked against that wrapper's content; the istiod chart
  also copies everything under ``pilot`` to the top (``templates/zzy_descope_legacy.yaml``), so
  ``pilot.env`` is checked as ``env``;
- a section a template passes through as a Kubernetes type (``toYaml .Values.volumes``) is checked
  against that type's strict schema (``SECTIONS``), since values.yaml shows only part of such a type;
- istiod's ``meshConfig`` against the MeshConfig / ProxyConfig (``defaultConfig``) fields and enums
  of that Istio release (derived from istio/api's ``mesh/v1alpha1/*.proto``);
- the merged values against the chart's ``values.schema.json`` where it has one, as Helm does.

The reference data is third-party material kept outside this repository, beside Istio's CRDs:
``shared/reference/charts/<chart>/<version>/`` (``values.yaml``, ``values.schema.json``, ``SOURCE``)
and ``shared/reference/istio-mesh/<version>/fields.json``; ``PLATFORM_REFERENCE`` overrides the
``shared/reference`` folder. Without it the preview says the values were not checked. A release
whose chart version has no reference folder is a finding: a version bump must bring its reference.
"""

from __future__ import annotations

import difflib
import functools
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tools.findings import Finding, render_path, shown

SOURCE = "helm-values"
RELEASE_TYPES = ("kubernetes:helm.sh/v3:Release",)
ISTIO_WRAPPER = "_internal_defaults_do_not_set"
PROMOTED_SECTIONS = {"istiod": "pilot"}  # chart -> section its templates copy to the top level
MESH_CONFIG_CHARTS = ("istiod",)  # charts whose meshConfig istiod reads (Istio release = chart version)

ROOT = Path(__file__).resolve().parent.parent
_CANDIDATES = (ROOT.parent / "shared" / "reference", ROOT / "shared" / "reference")
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def reference_root() -> Path | None:
    override = os.environ.get("PLATFORM_REFERENCE")
    if override:
        return Path(override) if (Path(override) / "charts").is_dir() else None
    return next((p for p in _CANDIDATES if (p / "charts").is_dir()), None)


@functools.cache
def _chart(root: Path, chart: str, version: str) -> tuple[Any, dict | None] | None:
    folder = root / "charts" / chart / version
    if not (folder / "values.yaml").is_file():
        return None
    defaults = yaml.load((folder / "values.yaml").read_text(), Loader=_Loader) or {}
    schema_file = folder / "values.schema.json"
    return defaults, (json.loads(schema_file.read_text()) if schema_file.is_file() else None)


@functools.cache
def _mesh_fields(root: Path, version: str) -> dict | None:
    path = root / "istio-mesh" / version / "fields.json"
    return json.loads(path.read_text()) if path.is_file() else None


def _versions(root: Path, chart: str) -> list[str]:
    folder = root / "charts" / chart
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


# --------------------------------------------------------------------------- value paths


def _suggest(key: str, known: Iterable[str]) -> str:
    known = list(known)
    same = [k for k in known if k.lower() == key.lower()]
    if same:
        return f" (wrong case: {same[0]!r})"
    near = difflib.get_close_matches(key, known, n=1, cutoff=0.75)
    return f" (did you mean {near[0]!r}?)" if near else ""


def _open(default: Any) -> bool:
    """A default of ``{}`` or ``null`` is a free-form map: the chart passes it through as it is."""
    return default is None or default == {}


@dataclass(frozen=True)
class Section:
    """A values section a template renders as a Kubernetes type rather than key by key."""

    k8s_type: str | None = None  # checked against that type's strict schema
    many: bool = False  # a list of that type
    keys: frozenset[str] | None = None  # or: only these keys are rendered (each an open map)
    chart_keys: frozenset[str] = frozenset()  # the chart's own switches beside the type's fields


# Read in each chart's templates at the pinned version: where a section is passed through with toYaml,
# its keys are the Kubernetes type's fields, not the (partial) defaults in values.yaml.
SECTIONS: dict[str, dict[tuple[str, ...], Section]] = {
    # templates/_helpers.tpl "istiod.resources" renders only limits and requests.
    "istiod": {("resources",): Section(keys=frozenset({"limits", "requests"}))},
    # templates/deployment.yaml: each with .Values.<section> | toYaml into the pod spec.
    "gateway": {
        ("volumes",): Section(k8s_type="io.k8s.api.core.v1.Volume", many=True),
        ("volumeMounts",): Section(k8s_type="io.k8s.api.core.v1.VolumeMount", many=True),
        ("topologySpreadConstraints",): Section(k8s_type="io.k8s.api.core.v1.TopologySpreadConstraint", many=True),
    },
    # templates/deployment.yaml: toYaml .Values.resources; omit <section> "enabled" | toYaml.
    "sealed-secrets": {
        ("resources",): Section(k8s_type="io.k8s.api.core.v1.ResourceRequirements"),
        ("containerSecurityContext",): Section(
            k8s_type="io.k8s.api.core.v1.SecurityContext", chart_keys=frozenset({"enabled"})
        ),
        ("podSecurityContext",): Section(
            k8s_type="io.k8s.api.core.v1.PodSecurityContext", chart_keys=frozenset({"enabled"})
        ),
    },
}


@dataclass
class _Walk:
    sections: Mapping[tuple[str, ...], Section]
    kubernetes_version: str | None
    out: list[tuple[list[Any], str]] = field(default_factory=list)

    def values(
        self, values: Mapping[str, Any], known: Mapping[str, Any], rel: tuple[str, ...], shown_at: list[Any]
    ) -> None:
        """``rel``: the path inside the chart's values; ``shown_at``: the same path as the program wrote it."""
        for key, value in values.items():
            path, here = [*shown_at, key], (*rel, key)
            if key not in known:
                self.out.append((path, f"not a value of the chart{_suggest(key, known)}"))
                continue
            default = known[key]
            if here in self.sections:
                self.section(value, self.sections[here], path)
            elif isinstance(value, Mapping):
                if isinstance(default, Mapping):
                    if not _open(default):
                        self.values(value, default, here, path)
                elif not _open(default):
                    self.out.append(
                        (
                            path,
                            (
                                f"the chart expects {type(default).__name__} here "
                                f"(default {shown(default, False)}), got a mapping"
                            ),
                        )
                    )

    def section(self, value: Any, section: Section, path: list[Any]) -> None:
        if section.many:
            if isinstance(value, list):
                for i, item in enumerate(value):
                    self.section(item, Section(section.k8s_type), [*path, i])
            return  # not a list: values.schema.json or the chart's own rendering reports it
        if not isinstance(value, Mapping):
            return
        rest = {k: v for k, v in value.items() if k not in section.chart_keys}
        if section.keys is not None:
            self.out += [
                (
                    [*path, k],
                    (
                        f"not rendered by the chart (it renders {', '.join(sorted(section.keys))})"
                        f"{_suggest(k, section.keys)}"
                    ),
                )
                for k in rest
                if k not in section.keys
            ]
        if section.k8s_type is not None:
            from tools import k8s_schema

            problems = k8s_schema.validate_definition(section.k8s_type, rest, self.kubernetes_version)
            self.out += [([*path, *p], m) for p, m in problems]


# --------------------------------------------------------------------------- meshConfig


def _short(name: str) -> str:
    return name.removeprefix("istio.mesh.v1alpha1.").removeprefix("istio.networking.")


def mesh_config_problems(
    value: Any, fields: Mapping[str, Any], parts: list[Any], message: str | None = None
) -> list[tuple[list[Any], str]]:
    """Problems with a MeshConfig (or nested message) value: unknown fields, wrong shapes, bad enum values."""
    message = message or fields["root"]
    out: list[tuple[list[Any], str]] = []
    if not isinstance(value, Mapping):
        return [(parts, f"expected a {_short(message)} object, got {shown(value, False)}")]
    known = fields["messages"][message]
    for key, item in value.items():
        spec = known.get(key)
        if spec is None:
            out.append(
                ([*parts, key], f"unknown {_short(message)} field, istiod would ignore it{_suggest(key, known)}")
            )
        elif item is not None:
            out += _mesh_field(item, spec, fields, [*parts, key])
    return out


def _mesh_field(
    value: Any, spec: Mapping[str, Any], fields: Mapping[str, Any], parts: list[Any]
) -> list[tuple[list[Any], str]]:
    if spec.get("mapKey"):
        if not isinstance(value, Mapping):
            return [(parts, f"expected a map, got {shown(value, False)}")]
        return [p for k, v in value.items() for p in _mesh_one(v, spec, fields, [*parts, k])]
    if spec.get("repeated"):
        if not isinstance(value, list):
            return [(parts, f"expected a list, got {shown(value, False)}")]
        return [p for i, v in enumerate(value) for p in _mesh_one(v, spec, fields, [*parts, i])]
    return _mesh_one(value, spec, fields, parts)


_SCALAR_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "bytes": (str,),
    "duration": (str,),
    "bool": (bool,),
    "struct": (dict,),
    "double": (int, float, str),
    "float": (int, float, str),
}


def _mesh_one(
    value: Any, spec: Mapping[str, Any], fields: Mapping[str, Any], parts: list[Any]
) -> list[tuple[list[Any], str]]:
    if "message" in spec:
        return mesh_config_problems(value, fields, parts, spec["message"])
    if "enum" in spec:
        allowed = fields["enums"][spec["enum"]]
        if value in allowed or (isinstance(value, int) and not isinstance(value, bool)):
            return []
        return [
            (parts, (f"{shown(value, False)} is not a value of {_short(spec['enum'])}: allowed {', '.join(allowed)}"))
        ]
    scalar = spec.get("scalar", "any")
    if scalar == "any":
        return []
    allowed_types = _SCALAR_TYPES.get(scalar, (int, str))  # the integer kinds: JSON allows a number or a string
    ok = isinstance(value, allowed_types) and not (isinstance(value, bool) and scalar != "bool")
    return [] if ok else [(parts, f"expected {scalar}, got {shown(value, False)}")]


# --------------------------------------------------------------------------- one release


def _merged(defaults: Any, values: Any) -> Any:
    if isinstance(defaults, Mapping) and isinstance(values, Mapping):
        out = dict(defaults)
        for k, v in values.items():
            out[k] = _merged(defaults.get(k), v)
        return out
    return values


def release_problems(
    root: Path, chart: str, version: str, values: Mapping[str, Any], kubernetes_version: str | None = None
) -> list[tuple[str, str]]:
    """``(path, problem)`` for one release's values; raises ``LookupError`` without a reference for the chart."""
    reference = _chart(root, chart, version)
    if reference is None:
        have = ", ".join(_versions(root, chart)) or "none"
        raise LookupError(
            f"chart {chart} {version} has no reference values in {root / 'charts' / chart} "
            f"(have: {have}); add values.yaml with its SOURCE, or pin a version that has one"
        )
    defaults, schema = reference
    known = defaults.get(ISTIO_WRAPPER, defaults) if isinstance(defaults, Mapping) else {}
    walk = _Walk(SECTIONS.get(chart, {}), kubernetes_version)
    out = walk.out
    checked = dict(values)
    mesh_sections: list[tuple[list[Any], Any]] = []
    promoted = PROMOTED_SECTIONS.get(chart)
    if promoted and isinstance(checked.get(promoted), Mapping) and promoted not in known:
        section = checked.pop(promoted)
        if chart in MESH_CONFIG_CHARTS and "meshConfig" in section:
            mesh_sections.append(([promoted, "meshConfig"], section["meshConfig"]))
            section = {k: v for k, v in section.items() if k != "meshConfig"}
        walk.values(section, known, (), [promoted])
    if chart in MESH_CONFIG_CHARTS and "meshConfig" in checked:
        mesh_sections.append((["meshConfig"], checked.pop("meshConfig")))
    walk.values(checked, known, (), [])
    if mesh_sections:
        fields = _mesh_fields(root, version)
        if fields is None:
            raise LookupError(f"Istio {version} has no MeshConfig field list in {root / 'istio-mesh' / version}")
        for parts, mesh in mesh_sections:
            out += mesh_config_problems(mesh, fields, parts)
    if schema is not None:
        out += _schema_problems(schema, _merged(defaults, values))
    return sorted((render_path(p), m) for p, m in out)


def _schema_problems(schema: Mapping[str, Any], merged: Any) -> list[tuple[list[Any], str]]:
    import jsonschema

    validator = jsonschema.validators.validator_for(schema)(schema)
    return [
        (list(err.absolute_path), f"values.schema.json: {err.message[:200]}") for err in validator.iter_errors(merged)
    ]


def check(resources: Iterable[Any], kubernetes_version: str | None = None) -> tuple[list[Finding], list[str]]:
    """(findings, notes on what was not checked) for every Helm release among recorded resources."""
    releases = [r for r in resources if r.type in RELEASE_TYPES]
    if not releases:
        return [], []
    root = reference_root()
    if root is None:
        return [], [
            (
                f"helm-values: {len(releases)} Helm releases not checked: no chart reference folder "
                f"(shared/reference/charts beside the repository, or PLATFORM_REFERENCE)"
            )
        ]
    findings: list[Finding] = []
    for r in releases:
        chart, version = r.inputs.get("chart"), r.inputs.get("version")
        if not isinstance(chart, str) or not isinstance(version, str):
            findings.append(
                Finding(
                    SOURCE,
                    r.urn,
                    r.type,
                    r.name,
                    "version",
                    "a release needs a literal chart name and an exact pinned version",
                )
            )
            continue
        try:
            problems = release_problems(root, chart, version, r.inputs.get("values") or {}, kubernetes_version)
        except LookupError as e:
            findings.append(Finding(SOURCE, r.urn, r.type, r.name, "version", str(e)))
            continue
        findings += [Finding(SOURCE, r.urn, r.type, r.name, f"values.{path}", message) for path, message in problems]
    return findings, []
