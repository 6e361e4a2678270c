"""AppNamespaces: application namespaces that join the mesh denied by default.

For each configured namespace:

- the Namespace, labelled for sidecar injection through its revision tag (``istio.io/rev: stable``) and
  for Pod Security Admission ``restricted``: the mesh runs the Istio CNI node agent, so injected
  pods carry no ``NET_ADMIN``/``NET_RAW`` ``istio-init`` container (which even ``baseline`` rejects)
  and the injected ``istio-validation`` and ``istio-proxy`` containers drop all capabilities and
  run as non-root with the ``RuntimeDefault`` seccomp profile (``global.proxy.seccompProfile``); the
  app's own containers must still set ``seccompProfile: RuntimeDefault`` (pod or container level);
- an ``allow-nothing`` AuthorizationPolicy (empty spec: selects every workload, allows no request),
  then explicit ALLOW policies for exactly the configured callers: the ingress gateway's identity,
  peer namespaces or service accounts (SPIFFE principals);
- default-deny NetworkPolicies (ingress and egress) plus what the mesh needs at L4: DNS, istiod
  xDS (15012), the allowed callers, the ingress gateway, the managed Prometheus scraper on the
  merged-metrics port (15020; the sidecar does not capture it, so no AuthorizationPolicy can gate the
  scrape) and, where ``egress: true``, the egress gateway on 443. Istio authorization alone runs
  inside the pod's own sidecar; the NetworkPolicies hold even for a pod without one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components import k8s_netpol as netpol
from components.mesh_names import (
    APP_NAMESPACE_LABEL,
    DEFAULT_DENY_POLICY,
    EGRESS_GATEWAY_PORT,
    EGRESS_GATEWAY_SELECTOR,
    INGRESS_GATEWAY_SELECTOR,
    INGRESS_GATEWAY_SERVICE_ACCOUNT,
    MERGED_METRICS_PORT,
    MTLS_EXCEPTION_LABEL,
    REVISION_LABEL,
    ROOT_NAMESPACE,
    spiffe_principal,
)
from components.registered_outputs import register_attributes
from stack_config import AppNamespaceConfig

POD_SECURITY_LEVEL = "restricted"


@dataclass(frozen=True)
class AppNamespacesArgs:
    """Inputs of :class:`AppNamespaces`: the ``appNamespaces`` config section and the mesh it joins."""

    config: tuple[AppNamespaceConfig, ...]
    istiod_revisions: tuple[str, ...]  # IstioMesh.revisions: the istiods its sidecars may talk to
    trust_domain: str  # IstioMesh.trust_domain
    ingress_namespace: str  # cfg.ingress.namespace
    egress_namespace: str  # cfg.egress.namespace
    depends_on: Sequence[pulumi.Resource] = ()  # IstioMesh.ready: the CRDs and istiod exist before any policy
    istiod_namespace: str = ROOT_NAMESPACE
    mtls_exception_namespaces: frozenset[str] = frozenset()  # cfg.istio.mtls_exceptions (nonprod only)


def namespace_labels(revision_tag: str, mtls_exception: bool = False) -> dict[str, str]:
    labels = {
        # The admission policies apply here (a team cannot relabel its namespace: namespaces are cluster-scoped).
        APP_NAMESPACE_LABEL: "true",
        # Sidecar injection through a revision tag, never a versioned revision: an upgrade moves the tag
        # (one config change) and restarts the namespace's pods; the namespace is never relabelled.
        REVISION_LABEL: revision_tag,
        # No privileged, root or capability-adding pods; possible because the mesh uses the Istio CNI.
        "pod-security.kubernetes.io/enforce": POD_SECURITY_LEVEL,
        "pod-security.kubernetes.io/enforce-version": "latest",
        "pod-security.kubernetes.io/warn": POD_SECURITY_LEVEL,
        "pod-security.kubernetes.io/audit": POD_SECURITY_LEVEL,
    }
    if mtls_exception:
        # The configured exception's PeerAuthentication is not STRICT: the admission check for STRICT skips it.
        labels[MTLS_EXCEPTION_LABEL] = "true"
    return labels


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
    policies = [policy(DEFAULT_DENY_POLICY, {})]
    if ns.allow_from_ingress:
        principal = spiffe_principal(args.trust_domain, args.ingress_namespace, INGRESS_GATEWAY_SERVICE_ACCOUNT)
        policies.append(
            policy(
                "allow-ingress-gateway",
                {
                    "action": "ALLOW",
                    "rules": [{"from": [{"source": {"principals": [principal]}}]}],
                },
            )
        )
    caller_namespaces, caller_accounts = _callers(ns)
    sources = []
    if caller_namespaces:
        sources.append({"source": {"namespaces": caller_namespaces}})
    if caller_accounts:
        sources.append(
            {
                "source": {
                    "principals": [
                        spiffe_principal(args.trust_domain, caller_ns, sa) for caller_ns, sa in caller_accounts
                    ]
                }
            }
        )
    if sources:
        policies.append(policy("allow-callers", {"action": "ALLOW", "rules": [{"from": sources}]}))
    return policies


def callee_namespaces(ns: AppNamespaceConfig, all_namespaces: Sequence[AppNamespaceConfig]) -> list[str]:
    """Namespaces that list ``ns`` (or one of its service accounts) among their allowed callers."""
    return sorted(
        other.name for other in all_namespaces if any(c.split("/", 1)[0] == ns.name for c in other.allowed_callers)
    )


# --------------------------------------------------------------------------- the component


def opened_traffic(ns: AppNamespaceConfig, args: AppNamespacesArgs) -> list[netpol.Allow]:
    """What the namespace opens beyond the baseline: exactly the configured callers, callees and exits."""
    rules = []
    if ns.allow_from_ingress:
        ingress_gateway = netpol.namespaces_peer([args.ingress_namespace], INGRESS_GATEWAY_SELECTOR)
        rules.append(netpol.Allow("allow-from-ingress-gateway", from_=[ingress_gateway]))
    caller_namespaces = sorted({c.split("/", 1)[0] for c in ns.allowed_callers})
    if caller_namespaces:
        # L4 cannot tell service accounts apart: the caller namespace is let in, Istio narrows to the account.
        rules.append(netpol.Allow("allow-from-callers", from_=[netpol.namespaces_peer(caller_namespaces)]))
    callees = callee_namespaces(ns, args.config)
    if callees:
        rules.append(netpol.Allow("allow-to-callees", to=[netpol.namespaces_peer(callees)]))
    if ns.prometheus_scrape:
        rules.append(netpol.prometheus_scrape((MERGED_METRICS_PORT,)))
    if ns.egress:
        # External hosts are reached only through the egress gateway (REGISTRY_ONLY alone is not a boundary).
        egress_gateway = netpol.namespaces_peer([args.egress_namespace], EGRESS_GATEWAY_SELECTOR)
        rules.append(netpol.Allow("allow-egress-gateway", to=[egress_gateway], ports=(EGRESS_GATEWAY_PORT,)))
    return rules


class AppNamespaces(pulumi.ComponentResource):
    """Meshed application namespaces, default-deny at L7 (Istio) and L4 (NetworkPolicy)."""

    namespaces: dict[str, k8s.core.v1.Namespace]
    namespace_names: list[str]

    def __init__(self, name: str, args: AppNamespacesArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("platform:istio:AppNamespaces", name, None, opts)
        self.namespaces = {}
        self.namespace_names = [ns.name for ns in args.config]
        for ns in args.config:
            prefix = f"{name}-{ns.name}"
            namespace = k8s.core.v1.Namespace(
                prefix,
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=ns.name,
                    labels=namespace_labels(ns.revision_tag, ns.name in args.mtls_exception_namespaces),
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.namespaces[ns.name] = namespace
            self._authorization_policies(prefix, ns, args, namespace)
            self._network_policies(prefix, ns, args, namespace)
        register_attributes(self, "namespace_names")

    def _authorization_policies(
        self, prefix: str, ns: AppNamespaceConfig, args: AppNamespacesArgs, namespace: k8s.core.v1.Namespace
    ) -> None:
        # Istio custom resources need the CRDs (base) and istiod's validating webhook (depends_on).
        for obj in authorization_policies(ns, args):
            k8s.apiextensions.CustomResource(
                f"{prefix}-{obj['metadata']['name']}",
                api_version=obj["apiVersion"],
                kind=obj["kind"],
                metadata=k8s.meta.v1.ObjectMetaArgs(name=obj["metadata"]["name"], namespace=namespace.metadata.name),
                spec=obj["spec"],
                # Deleted with its namespace, never before it: admission refuses deleting allow-nothing from a
                # namespace that is not terminating (platform-mesh-default-deny-kept).
                opts=pulumi.ResourceOptions(
                    parent=self, depends_on=[namespace, *args.depends_on], deleted_with=namespace
                ),
            )

    def _network_policies(
        self, prefix: str, ns: AppNamespaceConfig, args: AppNamespacesArgs, namespace: k8s.core.v1.Namespace
    ) -> None:
        """Default deny, DNS and istiod, then exactly the configured callers, callees and exits."""
        opts = pulumi.ResourceOptions(parent=self, depends_on=[namespace])
        ns_name = namespace.metadata.name
        resource_prefix = f"{prefix}-netpol"
        netpol.baseline_network_policies(
            resource_prefix,
            ns_name,
            istiod_namespace=args.istiod_namespace,
            istiod_revisions=args.istiod_revisions,
            opts=opts,
        )
        for rule in opened_traffic(ns, args):
            netpol.allow(f"{resource_prefix}-{rule.policy_name}", ns_name, rule, opts)
