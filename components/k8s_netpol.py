"""The one NetworkPolicy helper set: ports, peers, a policy, and the baseline every meshed namespace gets.

Istio authorization runs inside each pod's own sidecar; these L4 policies hold even for a pod
without one (or with a compromised one). Every component that writes a NetworkPolicy builds it
from here, so the gateway namespaces, the app namespaces and ``istio-system`` agree on how a peer
is selected and on what "default deny" means.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.mesh_names import (
    DNS_POD_LABELS,
    DNS_PORT,
    ISTIOD_POD_LABELS,
    KUBE_SYSTEM_NAMESPACE,
    METRICS_SCRAPER_NAMESPACE,
    METRICS_SCRAPER_POD_LABELS,
    NAMESPACE_NAME_LABEL,
    REVISION_LABEL,
    XDS_PORT,
)

Peer = k8s.networking.v1.NetworkPolicyPeerArgs
IngressRule = k8s.networking.v1.NetworkPolicyIngressRuleArgs
EgressRule = k8s.networking.v1.NetworkPolicyEgressRuleArgs
IngressRules = Sequence[IngressRule]
EgressRules = Sequence[EgressRule]


def tcp(port: int) -> k8s.networking.v1.NetworkPolicyPortArgs:
    return k8s.networking.v1.NetworkPolicyPortArgs(protocol="TCP", port=port)


def udp(port: int) -> k8s.networking.v1.NetworkPolicyPortArgs:
    return k8s.networking.v1.NetworkPolicyPortArgs(protocol="UDP", port=port)


Pods = Mapping[str, str] | k8s.meta.v1.LabelSelectorArgs | None


def pod_selector(pods: Pods = None) -> k8s.meta.v1.LabelSelectorArgs:
    """Pods with these labels (or this selector); none selects every pod of the namespace."""
    if isinstance(pods, k8s.meta.v1.LabelSelectorArgs):
        return pods
    return k8s.meta.v1.LabelSelectorArgs(match_labels=dict(pods)) if pods else k8s.meta.v1.LabelSelectorArgs()


def label_in(key: str, values: Sequence[str]) -> k8s.meta.v1.LabelSelectorRequirementArgs:
    return k8s.meta.v1.LabelSelectorRequirementArgs(key=key, operator="In", values=sorted(set(values)))


def istiod_pod_selector(revisions: Sequence[str]) -> k8s.meta.v1.LabelSelectorArgs:
    """istiod's pods of every installed revision (``app: istiod``, ``istio.io/rev`` one of them).

    A pod keeps the istiod that injected it until it restarts, so during an upgrade both revisions serve.
    """
    return k8s.meta.v1.LabelSelectorArgs(
        match_labels=dict(ISTIOD_POD_LABELS), match_expressions=[label_in(REVISION_LABEL, revisions)]
    )


def namespaces_peer(names: Sequence[str], pods: Pods = None) -> k8s.networking.v1.NetworkPolicyPeerArgs:
    """Pods (all, or those ``pods`` selects) in the namespaces named, by the API server's name label."""
    return k8s.networking.v1.NetworkPolicyPeerArgs(
        namespace_selector=k8s.meta.v1.LabelSelectorArgs(match_expressions=[label_in(NAMESPACE_NAME_LABEL, names)]),
        pod_selector=pod_selector(pods) if pods else None,
    )


def labelled_namespaces_peer(namespace_labels: Mapping[str, str]) -> k8s.networking.v1.NetworkPolicyPeerArgs:
    """Every pod in the namespaces carrying these labels (e.g. injected by one mesh revision)."""
    return k8s.networking.v1.NetworkPolicyPeerArgs(
        namespace_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=dict(namespace_labels)),
    )


def label_in_namespaces_peer(key: str, values: Sequence[str]) -> k8s.networking.v1.NetworkPolicyPeerArgs:
    """Every pod in the namespaces whose label ``key`` is one of ``values`` (e.g. any revision tag)."""
    return k8s.networking.v1.NetworkPolicyPeerArgs(
        namespace_selector=k8s.meta.v1.LabelSelectorArgs(match_expressions=[label_in(key, values)]),
    )


def network_policy(
    resource_name: str,
    namespace: pulumi.Input[str],
    policy_name: str,
    pods: Pods,
    *,
    ingress: IngressRules | None = None,
    egress: EgressRules | None = None,
    opts: pulumi.ResourceOptions,
) -> k8s.networking.v1.NetworkPolicy:
    """A NetworkPolicy whose ``policyTypes`` follow the directions given.

    ``ingress=[]`` (or ``egress=[]``) isolates the selected pods in that direction and allows nothing;
    ``None`` leaves the direction alone. Deriving the types from the rules keeps the two from disagreeing
    (a rule list without its policy type is silently ignored by Kubernetes).
    """
    types = (["Ingress"] if ingress is not None else []) + (["Egress"] if egress is not None else [])
    return k8s.networking.v1.NetworkPolicy(
        resource_name,
        metadata=k8s.meta.v1.ObjectMetaArgs(name=policy_name, namespace=namespace),
        spec=k8s.networking.v1.NetworkPolicySpecArgs(
            pod_selector=pod_selector(pods),
            policy_types=types,
            # An empty rule list and an absent one mean the same (nothing allowed): the manifest omits it.
            ingress=list(ingress) if ingress else None,
            egress=list(egress) if egress else None,
        ),
        opts=opts,
    )


@dataclass(frozen=True)
class Allow:
    """One NetworkPolicy that opens traffic for the selected pods (``pods``; every pod when ``None``).

    ``from_`` are the peers admitted (``()``: any source, e.g. the internet at a public load balancer) and
    ``to`` the peers reachable; ``None`` leaves that direction to the other policies. ``ports`` narrow the
    rules to these TCP ports (none: every port).
    """

    policy_name: str
    from_: Sequence[Peer] | None = None
    to: Sequence[Peer] | None = None
    ports: Sequence[int] = ()
    pods: Pods = None


def allow(
    resource_name: str, namespace: pulumi.Input[str], rule: Allow, opts: pulumi.ResourceOptions
) -> k8s.networking.v1.NetworkPolicy:
    """The NetworkPolicy ``rule`` describes, in ``namespace``."""
    ports = [tcp(p) for p in rule.ports] or None
    return network_policy(
        resource_name,
        namespace,
        rule.policy_name,
        rule.pods,
        ingress=None if rule.from_ is None else [IngressRule(from_=list(rule.from_) or None, ports=ports)],
        egress=None if rule.to is None else [EgressRule(to=list(rule.to) or None, ports=ports)],
        opts=opts,
    )


def baseline_network_policies(
    resource_prefix: str,
    namespace: pulumi.Input[str],
    *,
    istiod_namespace: str,
    istiod_revisions: Sequence[str],
    opts: pulumi.ResourceOptions,
) -> list[k8s.networking.v1.NetworkPolicy]:
    """Default deny both ways, then DNS and istiod for every pod (``<resource_prefix>-<policy>``)."""
    return [
        # Nothing in, nothing out, unless another policy allows it.
        network_policy(
            f"{resource_prefix}-default-deny", namespace, "default-deny", None, ingress=[], egress=[], opts=opts
        ),
        network_policy(
            f"{resource_prefix}-allow-dns",
            namespace,
            "allow-dns",
            None,
            egress=[
                k8s.networking.v1.NetworkPolicyEgressRuleArgs(
                    to=[namespaces_peer([KUBE_SYSTEM_NAMESPACE], DNS_POD_LABELS)],
                    ports=[udp(DNS_PORT), tcp(DNS_PORT)],
                )
            ],
            opts=opts,
        ),
        # xDS configuration, certificates and SDS secrets all come from istiod on 15012, from whichever
        # installed revision injected these pods (during an upgrade a namespace runs both until restarted).
        # The webhook port 15017 is called by the API server, never by workloads, so it is not opened here.
        allow(
            f"{resource_prefix}-allow-istiod",
            namespace,
            Allow(
                "allow-istiod",
                to=[namespaces_peer([istiod_namespace], istiod_pod_selector(istiod_revisions))],
                ports=[XDS_PORT],
            ),
            opts,
        ),
    ]


def metrics_scraper_peer() -> k8s.networking.v1.NetworkPolicyPeerArgs:
    """The managed Prometheus scraper's pods (``ama-metrics`` in kube-system), nothing else in kube-system."""
    return namespaces_peer([METRICS_SCRAPER_NAMESPACE], METRICS_SCRAPER_POD_LABELS)


def prometheus_scrape(ports: Sequence[int]) -> Allow:
    """The managed Prometheus scraper may reach these metrics ports of every pod here, and nothing else.

    The scrape is plaintext and bypasses the sidecar (the injector excludes 15020 and 15090 from inbound
    capture), so no AuthorizationPolicy sees it: this L4 rule is the only gate.
    """
    return Allow("allow-prometheus-scrape", from_=[metrics_scraper_peer()], ports=ports)
