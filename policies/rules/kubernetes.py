"""Kubernetes workload rules (the checks Checkov, kube-linter and Polaris agree on) and LoadBalancer Services.

Pod specs are found in Pods, Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs (``spec.template.spec``)
and CronJobs (``spec.jobTemplate.spec.template.spec``); containers include init and ephemeral containers.
Workloads rendered inside a Helm release are opaque to the pack (the charts are pinned and reviewed instead).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any

from .common import UNKNOWN, Ctx, Res, as_list, as_map, dig, given, is_number, known_items, resource_rule, setting
from .frameworks import BOUNDARY, ISOLATION, LEAST_PRIVILEGE

WORKLOADS = (
    "core/Pod",
    "apps/Deployment",
    "apps/StatefulSet",
    "apps/DaemonSet",
    "apps/ReplicaSet",
    "batch/Job",
    "batch/CronJob",
)


def pod_spec(r: Res, ctx: Ctx) -> Any:
    """The pod spec of a workload; None when absent, UNKNOWN (recorded) when not known yet."""
    kind = r.k8s_group_kind[1]
    path = {"Pod": "spec", "CronJob": "spec.jobTemplate.spec.template.spec"}.get(kind, "spec.template.spec")
    spec = r.get(path)
    if not ctx.known(spec, path):
        return None
    return as_map(spec)


def containers(spec: dict, ctx: Ctx) -> Iterator[tuple[str, Any]]:
    """``(label, container)`` for every container; a container may be UNKNOWN (already recorded)."""
    for key in ("containers", "initContainers", "ephemeralContainers"):
        items = spec.get(key)
        if items is UNKNOWN:
            ctx.unknown(f"{key}")
            continue
        for i, c in enumerate(as_list(items)):
            name = as_map(c).get("name")
            label = f"{key}[{i}]" + (f" ({name})" if isinstance(name, str) else "")
            if c is UNKNOWN:
                ctx.unknown(label)
                continue
            yield label, as_map(c)


def security_setting(spec: dict, container: dict, key: str) -> Any:
    """A container's ``securityContext.<key>``, or the pod's when the container leaves it unset (UNKNOWN if unknown)."""
    own = dig(container, f"securityContext.{key}")
    return dig(spec, f"securityContext.{key}") if own is None else own


def _per_container(check: Callable[[dict, dict, str, Ctx], None]) -> Callable[[Res, Ctx], None]:
    """Run ``check(pod_spec, container, label, ctx)`` on every container of the workload."""

    @given(pod_spec)
    @functools.wraps(check)
    def run(r: Res, spec: dict, ctx: Ctx) -> None:
        for label, container in containers(spec, ctx):
            check(spec, container, label, ctx)

    return run


def _bool_setting(container: dict, key: str, label: str, ctx: Ctx) -> Any:
    value = dig(container, f"securityContext.{key}")
    ctx.known(value, f"{label}.securityContext.{key}")
    return value


def _expect_setting(container: dict, key: str, want: bool, label: str, ctx: Ctx) -> None:
    """A boolean securityContext setting that must be ``want`` (unset counts as wrong)."""
    value = _bool_setting(container, key, label, ctx)
    if value is not UNKNOWN and value is not want:
        ctx.fail(f"{label} securityContext.{key} is {value!r}; set {str(want).lower()}")


@resource_rule(
    name="k8s-no-privileged-containers",
    domain="kubernetes",
    targets=WORKLOADS,
    severity="critical",
    what="No container runs privileged (securityContext.privileged).",
    why="A privileged container has every capability and the host's devices: it is root on the node.",
    remediation="Remove securityContext.privileged: true; grant the single capability needed instead.",
    frameworks=LEAST_PRIVILEGE,
)
@_per_container
def privileged(spec: dict, c: dict, label: str, ctx: Ctx) -> None:
    if _bool_setting(c, "privileged", label, ctx) is True:
        ctx.fail(f"{label} sets securityContext.privileged: true")


@resource_rule(
    name="k8s-no-privilege-escalation",
    domain="kubernetes",
    targets=WORKLOADS,
    severity="high",
    what="Every container sets securityContext.allowPrivilegeEscalation: false.",
    why="Unless disabled, setuid binaries and file capabilities let a compromised process gain more privileges than it started with.",
    remediation="Set securityContext.allowPrivilegeEscalation: false on every container.",
    frameworks=LEAST_PRIVILEGE,
)
@_per_container
def privilege_escalation(spec: dict, c: dict, label: str, ctx: Ctx) -> None:
    _expect_setting(c, "allowPrivilegeEscalation", False, label, ctx)


@resource_rule(
    name="k8s-run-as-non-root",
    domain="kubernetes",
    targets=WORKLOADS,
    severity="high",
    what="Every container runs as non-root (runAsNonRoot: true at pod or container level, never runAsUser: 0).",
    why="Root in a container is root on the node after any container escape, and can modify the image's files.",
    remediation="Set securityContext.runAsNonRoot: true (pod or container) and a non-zero runAsUser.",
    frameworks=LEAST_PRIVILEGE,
)
@_per_container
def non_root(spec: dict, c: dict, label: str, ctx: Ctx) -> None:
    for key in ("runAsNonRoot", "runAsUser"):
        value = dig(c, f"securityContext.{key}")
        if value is None:
            value = dig(spec, f"securityContext.{key}")  # the container inherits the pod-level setting
            where = f"securityContext.{key} (pod)"
        else:
            where = f"{label}.securityContext.{key}"
        if not ctx.known(value, where):
            continue
        if key == "runAsNonRoot" and value is not True:
            ctx.fail(f"{label} runAsNonRoot is {value!r} (container and pod); set true")
        if key == "runAsUser" and is_number(value) and value == 0:
            ctx.fail(f"{label} runs as UID 0 ({where})")


@resource_rule(
    name="k8s-read-only-root-filesystem",
    domain="kubernetes",
    targets=WORKLOADS,
    severity="medium",
    what="Every container has a read-only root filesystem (securityContext.readOnlyRootFilesystem: true).",
    why="A writable root filesystem lets an attacker drop tools and persist changes inside the container.",
    remediation="Set securityContext.readOnlyRootFilesystem: true and mount emptyDir volumes where the app must write.",
    frameworks=LEAST_PRIVILEGE + ("NIST 800-53 SI-7",),
)
@_per_container
def read_only_fs(spec: dict, c: dict, label: str, ctx: Ctx) -> None:
    _expect_setting(c, "readOnlyRootFilesystem", True, label, ctx)


@resource_rule(
    name="k8s-resource-limits",
    domain="kubernetes",
    targets=WORKLOADS,
    severity="medium",
    what="Every container sets CPU and memory limits (resources.limits.cpu, resources.limits.memory).",
    why="An unbounded container can starve its neighbours and the node's system daemons (denial of service).",
    remediation="Set resources.limits.cpu and resources.limits.memory (and matching requests) on every container.",
    frameworks=("SOC 2 A1.1", "NIST 800-53 SC-5", "NIST 800-53 SC-6"),
)
@_per_container
def limits(spec: dict, c: dict, label: str, ctx: Ctx) -> None:
    if label.startswith("ephemeralContainers"):
        return  # ephemeral (debug) containers cannot declare resources
    lim = dig(c, "resources.limits")
    if not ctx.known(lim, f"{label}.resources.limits"):
        return
    lim = as_map(lim)
    for key in ("cpu", "memory"):
        value = lim.get(key)
        if not ctx.known(value, f"{label}.resources.limits.{key}"):
            continue
        if value in (None, "", 0, "0") or not isinstance(value, (str, int, float)) or isinstance(value, bool):
            ctx.fail(f"{label} has no resources.limits.{key}")


@resource_rule(
    name="k8s-no-host-namespaces",
    domain="kubernetes",
    targets=WORKLOADS,
    severity="high",
    what="Pods do not share the host's network, PID or IPC namespace (hostNetwork/hostPID/hostIPC).",
    why="Host namespaces let a pod sniff node traffic, bypass NetworkPolicy, and see or signal every process on the node.",
    remediation="Remove hostNetwork, hostPID and hostIPC from the pod spec.",
    frameworks=ISOLATION + ("NIST 800-53 SC-7",),
)
@given(pod_spec)
def host_namespaces(r: Res, spec: dict, ctx: Ctx) -> None:
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        value = spec.get(key)
        if ctx.known(value, f"pod spec.{key}") and value is True:
            ctx.fail(f"pod spec sets {key}: true")


@resource_rule(
    name="k8s-no-host-path-volumes",
    domain="kubernetes",
    targets=WORKLOADS,
    severity="high",
    what="Pods mount no hostPath volumes.",
    why="A hostPath mount exposes the node's filesystem (kubelet credentials, container runtime socket) to the pod.",
    remediation="Use emptyDir, a PersistentVolumeClaim, a ConfigMap or a CSI volume instead of hostPath.",
    frameworks=ISOLATION,
)
@given(pod_spec)
def host_path(r: Res, spec: dict, ctx: Ctx) -> None:
    volumes = spec.get("volumes")
    if not ctx.known(volumes, "pod spec.volumes"):
        return
    for at, vol in known_items(volumes, "volumes", ctx):
        hp = vol.get("hostPath")
        if hp is UNKNOWN:
            ctx.unknown(f"{at}.hostPath")
        elif hp is not None:
            ctx.fail(f"{at} ({vol.get('name', '?')}) is a hostPath volume")


@resource_rule(
    name="k8s-no-loadbalancer-outside-gateways",
    domain="kubernetes",
    targets=("core/Service",),
    severity="high",
    what="Services of type LoadBalancer exist only in the gateway namespaces.",
    why="Every LoadBalancer Service is a new public entry point that bypasses the ingress gateway's TLS, JWT and authorization.",
    remediation="Use ClusterIP and route through the ingress gateway (Gateway + VirtualService).",
    frameworks=BOUNDARY,
    config={
        "gatewayNamespaces": setting(
            "array", ["istio-ingress"], "Namespaces allowed to own LoadBalancer Services.", items={"type": "string"}
        )
    },
)
def load_balancer(r: Res, ctx: Ctx) -> None:
    kind = r.get("spec.type")
    if not ctx.known(kind, "spec.type") or kind != "LoadBalancer":
        return
    ns = r.k8s_namespace
    if ctx.known(ns, "metadata.namespace") and ns not in ctx.cfg_list("gatewayNamespaces"):
        ctx.fail(
            f"Service of type LoadBalancer in namespace {ns!r}; only {ctx.cfg_list('gatewayNamespaces')} may have one"
        )
