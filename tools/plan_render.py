"""The offline preview's outputs: the plan as data, as text, and as Kubernetes manifests.

Nothing here prints or writes a secret value: every recorded secret path, every secret stack
output and every Kubernetes Secret's ``data``/``stringData`` value becomes ``[secret]``.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import tempfile
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml

MASK = "[secret]"
HELM_RELEASE_TYPES = ("kubernetes:helm.sh/v3:Release",)
# Kubernetes kinds with no namespace (the rest default to "default" when none is given).
CLUSTER_SCOPED_KINDS = frozenset(
    {
        "Namespace",
        "Node",
        "PersistentVolume",
        "StorageClass",
        "CustomResourceDefinition",
        "ClusterRole",
        "ClusterRoleBinding",
        "PriorityClass",
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "APIService",
        "IngressClass",
        "RuntimeClass",
        "CSIDriver",
        "CSINode",
        "VolumeAttachment",
        "CertificateSigningRequest",
        "FlowSchema",
        "PriorityLevelConfiguration",
    }
)
_K8S_FIELDS = (
    "apiVersion",
    "kind",
    "metadata",
    "spec",
    "data",
    "stringData",
    "binaryData",
    "type",
    "immutable",
    "rules",
    "roleRef",
    "subjects",
    "webhooks",
    "aggregationRule",
)
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
_R = TypeVar("_R", bound=Mapping[str, Any])


# --------------------------------------------------------------------------- masking


def mask(values: Any, secret_paths: Iterable[str] = (), secret_keys: Iterable[str] = ()) -> Any:
    """A copy of recorded values with each secret path (recorder's dotted form) replaced by ``[secret]``."""
    paths, keys = set(secret_paths), set(secret_keys)

    def walk(value: Any, path: str) -> Any:
        if path in paths:
            return _mask_leaves(value)
        if isinstance(value, Mapping):
            return {k: walk(v, f"{path}.{k}" if path else k) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, f"{path}.{i}" if path else str(i)) for i, v in enumerate(value)]
        return value

    if isinstance(values, Mapping):
        return {k: (_mask_leaves(v) if k in keys else walk(v, k)) for k, v in values.items()}
    return walk(values, "")


def _mask_leaves(value: Any) -> Any:
    """Keep the shape a reviewer (and a schema validator) needs, never a value: keys stay, leaves go."""
    if isinstance(value, Mapping):
        return {k: _mask_leaves(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_leaves(v) for v in value]
    return None if value is None else MASK


def _mask_secret_object(doc: dict[str, Any]) -> dict[str, Any]:
    """Kubernetes Secrets: every value of data/stringData masked, whatever its secrecy flag."""
    if doc.get("kind") == "Secret":
        for key in ("data", "stringData"):
            if isinstance(doc.get(key), Mapping):
                doc[key] = {k: MASK for k in doc[key]}
    return doc


# --------------------------------------------------------------------------- ordering


def tree_order(resources: Sequence[_R], root_urn: str) -> list[tuple[int, _R]]:
    """Depth-first by parent, siblings by (type, name): the same order on every run."""
    known = {r["urn"] for r in resources}
    children: dict[str, list[_R]] = defaultdict(list)
    root: _R | None = None
    for r in resources:
        if r["urn"] == root_urn:
            root = r
            continue
        parent = r.get("parent") or ""
        children[parent if parent in known else root_urn].append(r)
    out: list[tuple[int, _R]] = []

    def visit(urn: str, depth: int) -> None:
        for child in sorted(children.get(urn, ()), key=lambda x: (x["type"], x["name"], x["urn"])):
            out.append((depth, child))
            visit(child["urn"], depth + 1)

    if root is not None:
        out.append((0, root))
    visit(root_urn, 1 if root is not None else 0)
    return out


# --------------------------------------------------------------------------- manifests


def _safe(text: str) -> str:
    safe = _SAFE.sub("_", text).lstrip(".")  # never "..": a name must not climb out of the folder
    return safe or "_"


def kubernetes_manifests(resources: Sequence[Mapping[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """``(relative path, document)`` for each Kubernetes object and Helm release, masked, in plan order."""
    out: list[tuple[str, dict[str, Any]]] = []
    used: set[str] = set()

    def place(namespace: str, kind: str, name: str, doc: dict[str, Any]) -> None:
        base = f"{_safe(namespace)}/{_safe(kind).lower()}-{_safe(name)}"
        path, n = f"{base}.yaml", 2
        while path in used:
            path, n = f"{base}-{n}.yaml", n + 1
        used.add(path)
        out.append((path, doc))

    for r in resources:
        t, inputs = r["type"], r.get("inputs") or {}
        if t in HELM_RELEASE_TYPES:
            name = inputs.get("name") or r["name"]
            namespace = inputs.get("namespace") or "default"
            spec = {k: v for k, v in inputs.items() if k not in ("name", "namespace", "values")}
            spec["namespace"] = namespace
            spec["values"] = inputs.get("values") or {}
            release = {
                # Not applied as-is: the Helm release the preview would install, for review.
                "apiVersion": "preview.platform/v1",
                "kind": "HelmRelease",
                "metadata": {"name": name, "namespace": namespace, "annotations": {"pulumi.com/urn": r["urn"]}},
                "spec": spec,
            }
            place(namespace, "HelmRelease", name, release)
            continue
        if not t.startswith("kubernetes:") or not r.get("custom", True):
            continue
        if not inputs.get("apiVersion") or not inputs.get("kind"):
            continue  # components and non-object resources (charts, yaml groups)
        doc: dict[str, Any] = {k: json.loads(json.dumps(inputs[k])) for k in _K8S_FIELDS if k in inputs}
        meta: dict[str, Any] = doc.setdefault("metadata", {})
        if not meta.get("name"):
            # Pulumi autonames such objects (<name>-<random suffix>) and says so in an annotation.
            meta["name"] = r["name"]
            meta.setdefault("annotations", {})["pulumi.com/autonamed"] = "true"
        kind = doc["kind"]
        namespace = "_cluster" if kind in CLUSTER_SCOPED_KINDS else (meta.get("namespace") or "default")
        if kind not in CLUSTER_SCOPED_KINDS and not meta.get("namespace"):
            meta["namespace"] = "default"
        place(namespace, kind, meta["name"], _mask_secret_object(doc))
    return out


# --------------------------------------------------------------------------- writing


def _umask() -> int:
    mask = os.umask(0o022)  # read once, at import: os.umask can only be read by setting it
    os.umask(mask)
    return mask


_UMASK = _umask()
OUTPUT_NAMES = frozenset({"plan.json", "manifests"})  # all a preview writes into its output folder
_STAGING = re.compile(r"^\.(?P<name>.+)\.(?:new|old)-(?P<pid>\d+)-[A-Za-z0-9_]+$")


def is_replaceable(out_dir: Path) -> bool:
    """True when ``out_dir`` is an output folder of an earlier run (or empty): replacing it loses nothing else."""
    return out_dir.is_dir() and not out_dir.is_symlink() and {p.name for p in out_dir.iterdir()} <= OUTPUT_NAMES


def write_outputs(plan: Mapping[str, Any], manifests: Sequence[tuple[str, dict[str, Any]]], out_dir: Path) -> None:
    """Write plan.json and manifests/ into a staging folder beside ``out_dir``, then swap it into place.

    A reader, a concurrent run of the same stack or an interrupted run therefore sees either the old output or
    the new one, never plan.json from one run beside manifests from another (stale objects of an earlier run
    vanish with it). Runs swap under a lock; staging folders left by a killed run are removed by the next one.
    """
    out_dir = Path(out_dir)
    parent = out_dir.resolve().parent
    parent.mkdir(parents=True, exist_ok=True)
    _remove_abandoned(parent)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.new-{os.getpid()}-", dir=parent))
    try:
        staging.chmod(0o777 & ~_UMASK)  # mkdtemp's 0700 would make the output private, unlike any other folder
        for rel, doc in manifests:
            path = staging / "manifests" / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(yaml.safe_dump(doc, sort_keys=True, default_flow_style=False))
        (staging / "manifests").mkdir(exist_ok=True)
        (staging / "plan.json").write_text(json.dumps(plan, indent=2, sort_keys=True) + "\n")
        _swap_into_place(staging, parent / out_dir.name)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def _swap_into_place(staging: Path, target: Path) -> None:
    with open(target.parent / f".{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not target.exists():
            os.rename(staging, target)
            return
        if not is_replaceable(target):
            raise FileExistsError(f"{target} holds files the preview did not write; not replacing it")
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-{os.getpid()}-", dir=target.parent))
        os.rename(target, old / "previous")  # then the new folder takes its name: a reader never sees a mix
        os.rename(staging, target)
        shutil.rmtree(old, ignore_errors=True)


def _remove_abandoned(parent: Path) -> None:
    """Staging folders of runs that were killed (their process is gone)."""
    for entry in parent.iterdir():
        m = _STAGING.match(entry.name)
        if m and entry.is_dir() and not _alive(int(m["pid"])):
            shutil.rmtree(entry, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# --------------------------------------------------------------------------- text


def _short(value: Any, width: int = 100) -> str:
    if isinstance(value, str):
        if "\n" in value.strip() or len(value) > width:
            first = value.strip().splitlines()[0] if value.strip() else ""
            return f"{first[:60]}… ({len(value)} chars)"
        return value
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= width else text[: width - 1] + "…"


def render_text(plan: Mapping[str, Any], out_dir: Any = "") -> str:
    """The plan as the preview prints it: resource tree, counts by type, violations by policy, outputs, verdict."""
    lines = [
        *_heading(plan),
        "",
        "Resources",
        *(_resource_line(depth, r) for depth, r in tree_order(plan["resources"], plan["rootUrn"])),
        "",
        "Resources by type",
        *(f"  {n:4d}  {t}" for t, n in sorted(plan["summary"]["byType"].items())),
        "",
        *_violation_lines(plan),
        *(["", "Warnings", *(f"  - {w}" for w in plan["warnings"])] if plan.get("warnings") else []),
        "",
        "Outputs",
        *(f"  {k}: {_short(v)}" for k, v in sorted(plan["outputs"].items())),
        "",
        f"Wrote {plan['summary']['manifests']} manifests and plan.json to {out_dir}",
        _verdict(plan["summary"]),
    ]
    return "\n".join(lines) + "\n"


def _heading(plan: Mapping[str, Any]) -> list[str]:
    lines = [
        f"Offline preview of stack {plan['stack']} ({plan['environmentClass']}), "
        f"project {plan['project']}: {plan['summary']['resources']} resources"
    ]
    pack = plan.get("policyPack") or {}
    if pack:
        lines.append(
            f"Policy pack {pack.get('name')} {pack.get('version')} from {pack.get('path')}, "
            f"config {pack.get('config') or '(pack defaults)'}"
        )
    return lines


def _resource_line(depth: int, r: Mapping[str, Any]) -> str:
    """``+ type  name`` indented by depth, with what a reviewer should notice in brackets."""
    flags = []
    if r.get("synthesized"):
        flags.append(r["synthesized"])
    if r.get("protect"):
        flags.append("protect")
    if r.get("ignoreChanges"):
        flags.append("ignoreChanges: " + ", ".join(r["ignoreChanges"]))
    if r.get("provider") and not r["provider"].split("::")[-1].startswith("default"):
        flags.append("provider: " + r["provider"].split("::")[-1])
    if r.get("secretPaths"):
        flags.append("secret: " + ", ".join(r["secretPaths"]))
    if r.get("violations"):
        flags.append(f"{r['violations']} violation{'s' if r['violations'] != 1 else ''}")
    indent = "  " * depth
    return f"  {indent}+ {r['type']}  {r['name']}" + (f"  [{'; '.join(flags)}]" if flags else "")


def _violation_lines(plan: Mapping[str, Any]) -> list[str]:
    """Violations grouped by policy, mandatory policies first, each resource it flags below it."""
    violations, s = plan["violations"], plan["summary"]
    if not violations:
        return ["Policy violations: none"]
    lines = [f"Policy violations ({s['mandatory']} mandatory, {s['advisory']} advisory)"]
    by_policy: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for v in violations:
        by_policy[v["policy"]].append(v)
    for name in sorted(by_policy, key=lambda n: (by_policy[n][0]["enforcementLevel"] != "mandatory", n)):
        first = by_policy[name][0]
        sev = f", {first['severity']}" if first.get("severity") else ""
        lines.append(f"  [{first['enforcementLevel']}{sev}] {name}: {first['description']}")
        for v in by_policy[name]:
            detail = v["message"]
            if detail.startswith(v["description"]):
                detail = detail[len(v["description"]) :].strip()
            where = f"{v['resourceType']}  {v['resourceName']}" if v.get("resourceType") else v["urn"]
            lines.append(f"      {where}" + (f": {detail}" if detail else ""))
    return lines


def _verdict(s: Mapping[str, Any]) -> str:
    verdict = "BLOCKED by mandatory policy violations" if s["mandatory"] else "OK: no mandatory policy violation"
    return f"{verdict} ({s['mandatory']} mandatory, {s['advisory']} advisory)"


def by_type(resources: Sequence[Mapping[str, Any]], skip: str | None = None) -> dict[str, int]:
    return dict(Counter(r["type"] for r in resources if r["urn"] != skip))
