"""AppNamespaces: application namespaces that join the mesh denied by default.

For each configured namespace:

- the Namespace, labelled for sidecar injection by the installed revision (``istio.io/rev``) and
  for Pod Security Admission ``restricted``: the mesh runs the Istio CNI node agent, so injected
  pods carry no ``NET_ADMIN``/``NET_RAW`` ``istio-init`` container (which even ``baseline`` rejects)
  and the injected ``istio-validation`` and ``istio-proxy`` containers drop all capabilities and
  run as non-root (the injector sets no seccomp profile on them, so workloads must set
  ``seccompProfile: RuntimeDefault`` at pod level, not only per container, or admission refuses them);
- an ``allow-nothing`` AuthorizationPolicy (empty spec: selects every workload, allows no request),
  then explicit ALLOW policies for exactly the configured callers: the ingress gateway's identity,
  peer namespaces or service accounts (SPIFFE principals), and Prometheus ``GET /metrics``;
- default-deny NetworkPolicies (ingress and egress) plus what the mesh needs at L4: DNS, istiod
  xDS (15012), the allowed callers, the ingress gateway, Prometheus on the merged-metrics port
  (15020) and, where ``egress: true``, the egress gateway on 443. Istio authorization alone runs
  inside the pod's own sidecar; the NetworkPolicies hold even for a pod without one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Sequence

import pulumi
import pulumi_kubernetes as k8s

from components.istio_mesh import (
    NAMESPACE_NAME_LABEL,
    REVISION_LABEL,
    ROOT_NAMESPACE,
    XDS_PORT,
    spiffe_principal,
)
from stack_config import AppNamespaceConfig

INGRESS_GATEWAY_SERVICE_ACCOUNT = "istio-ingressgateway"
INGRESS_GATEWAY_POD_LABELS = {"istio": "ingressgateway"}
EGRESS_GATEWAY_POD_LABELS = {"istio": "egressgateway"}
EGRESS_GATEWAY_PORT = 443
MERGED_METRICS_PORT = 15020  # istio-agent serves app + Envoy metrics merged here (enablePrometheusMerge)
DNS_POD_LABELS = {"k8s-app": "kube-dns"}  # CoreDNS on AKS
POD_SECURITY_LEVEL = "restricted"


@dataclass(frozen=True)
class AppNamespacesArgs:
    namespaces: tuple[AppNamespaceConfig, ...]
    revision: str  # IstioMesh.revision
    trust_domain: str  # IstioMesh.trust_domain
    ingress_namespace: str  # cfg.ingress.namespace
    egress_namespace: str  # cfg.egress.namespace
    prometheus_namespace: Optional[str] = None  # cfg.prometheus_namespace
    ready: tuple[pulumi.Resource, ...] = ()  # IstioMesh.ready: the CRDs and istiod exist before any policy
    root_namespace: str = ROOT_NAMESPACE


def namespace_labels(revision: str) -> dict[str, str]:
    return {
        # Sidecar injection by this revision's istiod only (an upgrade moves namespaces explicitly).
        REVISION_LABEL: revision,
        # No privileged, root or capability-adding pods; possible because the mesh uses the Istio CNI.
        "pod-security.kubernetes.io/enforce": POD_SECURITY_LEVEL,
        "pod-security.kubernetes.io/enforce-version": "latest",
        "pod-security.kubernetes.io/warn": POD_SECURITY_LEVEL,
        "pod-security.kubernetes.io/audit": POD_SECURITY_LEVEL,
    }


def _callers(ns: AppNamespaceConfig) -> tuple[list[str], list[tuple[str, str]]]:
    """(caller namespaces, (namespace, service account) pairs) from ``allowedCallers``."""
    namespaces = sorted({c for c in ns.allowed_callers if "/" not in c})
    accounts = sorted({tuple(c.split("/", 1)) for c in ns.allowed_callers if "/" in c})
    return namespaces, accounts  # type: ignore[return-value]


def authorization_policies(ns: AppNamespaceConfig, args: AppNamespacesArgs) -> list[dict[str, Any]]:
    """The namespace's AuthorizationPolicies as Kubernetes objects, allow-nothing first."""

    def policy(name: str, spec: dict[str, Any]) -> dict[str, Any]:
        return {
            "apiVersion": "security.istio.io/v1",
            "kind": "AuthorizationPolicy",
            "metadata": {"name": name, "namespace": ns.name},
            "spec": spec,
        }

    # Empty spec: applies to every workload here and, with no rules, allows nothing (deny by default).
    policies = [policy("allow-nothing", {})]
    if ns.allow_from_ingress:
        principal = spiffe_principal(args.trust_domain, args.ingress_namespace, INGRESS_GATEWAY_SERVICE_ACCOUNT)
        policies.append(policy("allow-ingress-gateway", {
            "action": "ALLOW",
            "rules": [{"from": [{"source": {"principals": [principal]}}]}],
        }))
    caller_namespaces, caller_accounts = _callers(ns)
    sources = []
    if caller_namespaces:
        sources.append({"source": {"namespaces": caller_namespaces}})
    if caller_accounts:
        sources.append({"source": {"principals": [
            spiffe_principal(args.trust_domain, caller_ns, sa) for caller_ns, sa in caller_accounts
        ]}})
    if sources:
        policies.append(policy("allow-callers", {"action": "ALLOW", "rules": [{"from": sources}]}))
    if ns.prometheus_scrape and args.prometheus_namespace:
        policies.append(policy("allow-prometheus-scrape", {
            "action": "ALLOW",
            "rules": [{
                "from": [{"source": {"namespaces": [args.prometheus_namespace]}}],
                "to": [{"operation": {"methods": ["GET"], "paths": ["/metrics"]}}],
            }],
        }))
    return policies


def callee_namespaces(ns: AppNamespaceConfig, all_namespaces: Sequence[AppNamespaceConfig]) -> list[str]:
    """Namespaces that list ``ns`` (or one of its service accounts) among their allowed callers."""
    return sorted(
        other.name for other in all_namespaces
        if any(c.split("/", 1)[0] == ns.name for c in other.allowed_callers)
    )


# --------------------------------------------------------------------------- NetworkPolicy helpers


def _selector(labels: Optional[dict[str, str]] = None) -> k8s.meta.v1.LabelSelectorArgs:
    return k8s.meta.v1.LabelSelectorArgs(match_labels=labels) if labels else k8s.meta.v1.LabelSelectorArgs()


def _namespaces(names: Sequence[str]) -> k8s.meta.v1.LabelSelectorArgs:
    return k8s.meta.v1.LabelSelectorArgs(
        match_expressions=[k8s.meta.v1.LabelSelectorRequirementArgs(
            key=NAMESPACE_NAME_LABEL, operator="In", values=sorted(set(names)))]
    )


def _peer(namespaces: Sequence[str], pod_labels: Optional[dict[str, str]] = None):
    return k8s.networking.v1.NetworkPolicyPeerArgs(
        namespace_selector=_namespaces(namespaces),
        pod_selector=_selector(pod_labels) if pod_labels else None,
    )


def _port(port: int, protocol: str = "TCP") -> k8s.networking.v1.NetworkPolicyPortArgs:
    return k8s.networking.v1.NetworkPolicyPortArgs(protocol=protocol, port=port)


# --------------------------------------------------------------------------- the component


class AppNamespaces(pulumi.ComponentResource):
    """Meshed application namespaces, default-deny at L7 (Istio) and L4 (NetworkPolicy)."""

    namespaces: dict[str, k8s.core.v1.Namespace]
    namespace_names: list[str]

    def __init__(self, name: str, args: AppNamespacesArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("platform:istio:AppNamespaces", name, None, opts)
        self.namespaces = {}
        self.namespace_names = [ns.name for ns in args.namespaces]
        for ns in args.namespaces:
            self._namespace(name, ns, args)
        self.register_outputs({"namespaces": self.namespace_names})

    def _namespace(self, name: str, ns: AppNamespaceConfig, args: AppNamespacesArgs) -> None:
        prefix = f"{name}-{ns.name}"
        namespace = k8s.core.v1.Namespace(
            prefix,
            metadata=k8s.meta.v1.ObjectMetaArgs(name=ns.name, labels=namespace_labels(args.revision)),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.namespaces[ns.name] = namespace

        # Istio custom resources need the CRDs (base) and istiod's validating webhook (ready).
        for obj in authorization_policies(ns, args):
            k8s.apiextensions.CustomResource(
                f"{prefix}-{obj['metadata']['name']}",
                api_version=obj["apiVersion"],
                kind=obj["kind"],
                metadata=k8s.meta.v1.ObjectMetaArgs(name=obj["metadata"]["name"], namespace=namespace.metadata.name),
                spec=obj["spec"],
                opts=pulumi.ResourceOptions(parent=self, depends_on=[namespace, *args.ready]),
            )

        def network_policy(policy_name: str, spec: k8s.networking.v1.NetworkPolicySpecArgs) -> None:
            k8s.networking.v1.NetworkPolicy(
                f"{prefix}-netpol-{policy_name}",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=policy_name, namespace=namespace.metadata.name),
                spec=spec,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[namespace]),
            )

        every_pod = _selector()
        # Nothing in, nothing out, unless a policy below allows it.
        network_policy("default-deny", k8s.networking.v1.NetworkPolicySpecArgs(
            pod_selector=every_pod, policy_types=["Ingress", "Egress"],
        ))
        network_policy("allow-dns", k8s.networking.v1.NetworkPolicySpecArgs(
            pod_selector=every_pod, policy_types=["Egress"],
            egress=[k8s.networking.v1.NetworkPolicyEgressRuleArgs(
                to=[_peer(["kube-system"], DNS_POD_LABELS)], ports=[_port(53, "UDP"), _port(53, "TCP")],
            )],
        ))
        # Sidecars fetch config and certificates from istiod (mTLS on 15012); the webhook port 15017 is
        # called by the API server, never by apps, so it is not opened here.
        network_policy("allow-istiod", k8s.networking.v1.NetworkPolicySpecArgs(
            pod_selector=every_pod, policy_types=["Egress"],
            egress=[k8s.networking.v1.NetworkPolicyEgressRuleArgs(
                to=[_peer([args.root_namespace], {"app": "istiod", REVISION_LABEL: args.revision})],
                ports=[_port(XDS_PORT)],
            )],
        ))
        if ns.allow_from_ingress:
            network_policy("allow-from-ingress-gateway", k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=every_pod, policy_types=["Ingress"],
                ingress=[k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                    from_=[_peer([args.ingress_namespace], INGRESS_GATEWAY_POD_LABELS)],
                )],
            ))
        caller_namespaces = sorted({c.split("/", 1)[0] for c in ns.allowed_callers})
        if caller_namespaces:
            # L4 cannot tell service accounts apart: the caller namespace is let in, Istio narrows to the account.
            network_policy("allow-from-callers", k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=every_pod, policy_types=["Ingress"],
                ingress=[k8s.networking.v1.NetworkPolicyIngressRuleArgs(from_=[_peer(caller_namespaces)])],
            ))
        callees = callee_namespaces(ns, args.namespaces)
        if callees:
            network_policy("allow-to-callees", k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=every_pod, policy_types=["Egress"],
                egress=[k8s.networking.v1.NetworkPolicyEgressRuleArgs(to=[_peer(callees)])],
            ))
        if ns.prometheus_scrape and args.prometheus_namespace:
            network_policy("allow-prometheus-scrape", k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=every_pod, policy_types=["Ingress"],
                ingress=[k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                    from_=[_peer([args.prometheus_namespace])], ports=[_port(MERGED_METRICS_PORT)],
                )],
            ))
        if ns.egress:
            # External hosts are reached only through the egress gateway (REGISTRY_ONLY alone is not a boundary).
            network_policy("allow-egress-gateway", k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=every_pod, policy_types=["Egress"],
                egress=[k8s.networking.v1.NetworkPolicyEgressRuleArgs(
                    to=[_peer([args.egress_namespace], EGRESS_GATEWAY_POD_LABELS)],
                    ports=[_port(EGRESS_GATEWAY_PORT)],
                )],
            ))
