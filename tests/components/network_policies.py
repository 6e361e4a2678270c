"""Kubernetes NetworkPolicy semantics for tests: may this pod reach that one, under the policies a run registers.

Tests check what the policies MEAN (the source's egress AND the destination's ingress must admit a connection), not
only their shape; nothing here reuses the components' builders (components/k8s_netpol.py), so a builder bug shows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tests.conftest import k8s_manifest
from tests.resource_types import K8s
from tools.program_runner import ProgramRun


def _selects(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    if selector is None:
        return True
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        assert expr["operator"] in ("In", "NotIn", "Exists")
        present = expr["key"] in labels
        if expr["operator"] == "In" and not (present and labels[expr["key"]] in expr["values"]):
            return False
        if expr["operator"] == "NotIn" and present and labels[expr["key"]] in expr["values"]:
            return False
        if expr["operator"] == "Exists" and not present:
            return False
    return True


@dataclass(frozen=True)
class Pod:
    namespace: str
    labels: tuple[tuple[str, str], ...] = ()

    @property
    def label_map(self) -> dict[str, str]:
        return dict(self.labels)

    @property
    def namespace_labels(self) -> dict[str, str]:
        return {"kubernetes.io/metadata.name": self.namespace}


def _peer_matches(peer: Mapping[str, Any], policy_ns: str, other: Pod) -> bool:
    assert "ipBlock" not in peer
    if "namespaceSelector" in peer:
        if not _selects(peer["namespaceSelector"], other.namespace_labels):
            return False
    elif other.namespace != policy_ns:
        return False
    return _selects(peer.get("podSelector"), other.label_map)


def _port_matches(ports: list | None, port: int, protocol: str) -> bool:
    return not ports or any(p.get("port") == port and p.get("protocol", "TCP") == protocol for p in ports)


def _direction_allows(policies: Sequence[Mapping], pod: Pod, other: Pod, port: int, protocol: str, kind: str) -> bool:
    key, peers_key = ("ingress", "from") if kind == "Ingress" else ("egress", "to")
    selecting = [
        p
        for p in policies
        if p["metadata"]["namespace"] == pod.namespace
        and kind in p["spec"].get("policyTypes", [])
        and _selects(p["spec"].get("podSelector") or {}, pod.label_map)
    ]
    if not selecting:
        return True  # not isolated in this direction
    for p in selecting:
        for rule in p["spec"].get(key) or []:
            peers = rule.get(peers_key)
            if (not peers or any(_peer_matches(peer, pod.namespace, other) for peer in peers)) and _port_matches(
                rule.get("ports"), port, protocol
            ):
                return True
    return False


def np_allows(policies: Sequence[Mapping], src: Pod, dst: Pod, port: int, protocol: str = "TCP") -> bool:
    """Kubernetes NetworkPolicy: the source's egress AND the destination's ingress must allow it."""
    return _direction_allows(policies, src, dst, port, protocol, "Egress") and _direction_allows(
        policies, dst, src, port, protocol, "Ingress"
    )


def netpols(run: ProgramRun) -> list[dict[str, Any]]:
    return [k8s_manifest(r) for r in run.of_type(K8s.NETWORK_POLICY)]


def specs_in(run: ProgramRun, namespace: str) -> dict[str, Any]:
    """The NetworkPolicies ``run`` puts in ``namespace``: name -> spec, for tests that compare exact manifests."""
    return {
        r.get("metadata.name"): r.get("spec")
        for r in run.k8s_objects("NetworkPolicy")
        if r.get("metadata.namespace") == namespace
    }


def namespace_selector(*names: str) -> dict[str, Any]:
    """The selector of namespaces by name, as the components write it."""
    return {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "In", "values": list(names)}]}


def peer(namespace: str, pod_selector: Mapping[str, Any]) -> dict[str, Any]:
    """A rule's peer: the pods ``pod_selector`` selects in the namespace named ``namespace``."""
    return {"namespaceSelector": namespace_selector(namespace), "podSelector": dict(pod_selector)}


def one_rule_spec(
    direction: str,
    peers: Sequence[Mapping[str, Any]] = (),
    ports: Sequence[tuple[str, int]] = (),
    pod_selector: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The spec of a policy with one rule in ``direction`` ("Ingress" or "Egress"), as its manifest reads: the parts
    a rule leaves open (any peer, any port) are absent; ``ports`` as (protocol, port); all pods unless ``pod_selector``.
    """
    rule: dict[str, Any] = {}
    if peers:
        rule["from" if direction == "Ingress" else "to"] = [dict(p) for p in peers]
    if ports:
        rule["ports"] = [{"protocol": protocol, "port": port} for protocol, port in ports]
    return {"podSelector": dict(pod_selector or {}), "policyTypes": [direction], direction.lower(): [rule]}


# Pods the mesh's own policies name: tests of several components start from or reach them.
ISTIOD = Pod("istio-system", (("app", "istiod"), ("istio.io/rev", "1-30-3")))
INGRESS_POD = Pod("istio-ingress", (("istio", "ingressgateway"),))
EGRESS_POD = Pod("istio-egress", (("istio", "egressgateway"),))
SCRAPER = Pod("kube-system", (("rsName", "ama-metrics"),))  # the managed Prometheus replica
PROMETHEUS = Pod("monitoring", (("app", "prometheus"),))  # a self-run Prometheus is not the scraper
