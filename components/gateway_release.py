"""The Istio ``gateway`` chart as both edges install it: what they take from the mesh, namespace, chart values
and the Helm release.

``IngressGateway`` and ``EgressGateway`` differ in their Service (public LoadBalancer vs ClusterIP),
their selector and what they route; what they take from the mesh (:class:`GatewayMesh`), the namespace,
the scaling and disruption rules and the pinned chart are the same, and live here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components import k8s_netpol as netpol
from components.mesh_names import (
    ENVOY_METRICS_PORT,
    ISTIO_CHART_REPO,
    MERGED_METRICS_PORT,
    REVISION_LABEL,
    ROOT_NAMESPACE,
)

GATEWAY_CHART = "gateway"


@dataclass(frozen=True)
class GatewayMesh:
    """What an edge gateway takes from the mesh, the same for both edges (program/mesh.py builds it once)."""

    istio_version: str  # the gateway chart version: the Istio release of its revision tag's revision
    revision_tag: str  # IstioMesh.default_tag: the gateway pods are injected through it
    istiod_revisions: tuple[str, ...]  # IstioMesh.revisions: the istiods its proxies may talk to
    depends_on: Sequence[pulumi.Resource] = ()  # IstioMesh.ready: CRDs and istiod before any Istio object
    istiod_namespace: str = ROOT_NAMESPACE


def gateway_namespace(
    resource_name: str, namespace: str, mesh: GatewayMesh, parent: pulumi.Resource
) -> k8s.core.v1.Namespace:
    """A gateway namespace: injected through a revision tag, Pod Security baseline enforced."""
    return k8s.core.v1.Namespace(
        resource_name,
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name=namespace,
            labels={
                # A tag, never a versioned revision: an upgrade moves the tag and restarts the gateway.
                REVISION_LABEL: mesh.revision_tag,
                # Gateway pods need only the safe unprivileged-port sysctl: anything more privileged is refused.
                "pod-security.kubernetes.io/enforce": "baseline",
                "pod-security.kubernetes.io/warn": "restricted",
                "pod-security.kubernetes.io/audit": "restricted",
            },
        ),
        opts=pulumi.ResourceOptions(parent=parent),
    )


def zone_spread(selector: Mapping[str, str]) -> dict[str, Any]:
    """Spread the selected pods over the availability zones (best effort: a zone outage keeps some)."""
    return {
        "maxSkew": 1,
        "topologyKey": "topology.kubernetes.io/zone",
        "whenUnsatisfiable": "ScheduleAnyway",
        "labelSelector": {"matchLabels": dict(selector)},
    }


def gateway_values(
    *, mesh: GatewayMesh, replicas: int, service: dict[str, Any], selector: Mapping[str, str], is_prod: bool
) -> dict[str, Any]:
    """Chart values shared by both gateways; ``service`` is the edge's own Service block."""
    values: dict[str, Any] = {
        # Injected through the revision tag (pod label istio.io/rev: <tag>), like the workloads it serves.
        "revision": mesh.revision_tag,
        "autoscaling": {"enabled": True, "minReplicas": replicas, "maxReplicas": max(replicas * 3, 5)},
        "service": service,
        # The chart's pod securityContext value replaces its default (only the sysctl below), so both are set:
        # a syscall filter on the gateway's Envoy, and binding 80/443 without root or NET_BIND_SERVICE.
        "securityContext": {
            "seccompProfile": {"type": "RuntimeDefault"},
            "sysctls": [{"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"}],
        },
    }
    if replicas > 1:
        # Node drains during upgrades must never take every gateway pod at once.
        values["podDisruptionBudget"] = {"minAvailable": 1}
    if is_prod:
        values["topologySpreadConstraints"] = [zone_spread(selector)]
    return values


def gateway_release(
    resource_name: str,
    *,
    release_name: str,
    mesh: GatewayMesh,
    namespace: str,
    values: dict[str, Any],
    opts: pulumi.ResourceOptions,
    skip_await: bool = False,
) -> k8s.helm.v3.Release:
    """The pinned ``gateway`` chart (the mesh's Istio release) from the Istio repository, into a namespace created
    beforehand."""
    return k8s.helm.v3.Release(
        resource_name,
        name=release_name,
        chart=GATEWAY_CHART,
        version=mesh.istio_version,
        namespace=namespace,
        repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=ISTIO_CHART_REPO),
        create_namespace=False,
        values=values,
        skip_await=skip_await,
        opts=opts,
    )


def gateway_network_policies(
    name: str,
    namespace: str,
    mesh: GatewayMesh,
    opened: Mapping[str, netpol.Allow],
    opts: pulumi.ResourceOptions,
) -> None:
    """The gateway namespace's baseline (``<name>-np-*``), Prometheus on the Envoy and agent metrics ports, then
    what this edge opens (``<name>-<key>``): the public ports (ingress) or the allowed apps and the internet
    on 443 (egress), nothing else.
    """
    netpol.baseline_network_policies(
        f"{name}-np",
        namespace,
        istiod_namespace=mesh.istiod_namespace,
        istiod_revisions=mesh.istiod_revisions,
        opts=opts,
    )
    netpol.allow(
        f"{name}-np-allow-prometheus",
        namespace,
        netpol.prometheus_scrape((MERGED_METRICS_PORT, ENVOY_METRICS_PORT)),
        opts,
    )
    for resource_suffix, rule in opened.items():
        netpol.allow(f"{name}-{resource_suffix}", namespace, rule, opts)
