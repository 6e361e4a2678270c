"""Egress edge: every call out of the mesh goes through one Istio egress gateway, HTTPS only.

The mesh runs with ``outboundTrafficPolicy: REGISTRY_ONLY``, so a host nobody registered is
unreachable. For every allowed host in ``cfg.egress.hosts`` this component registers the documented
istio.io "egress gateway for HTTPS traffic" set (TLS passthrough: the gateway routes on SNI and never
sees the plaintext):

- ``ServiceEntry``: the host on 443/TLS, ``MESH_EXTERNAL``, resolved by DNS;
- ``Gateway`` (``istio: egressgateway``): port 443 ``TLS``, ``tls.mode: PASSTHROUGH`` for that SNI;
- ``DestinationRule``: a subset of the egress gateway service for that host;
- ``VirtualService``: sidecars (``mesh``) send the host's SNI to the egress gateway, and the egress
  gateway sends it on to the real host.

The host set is exported only to the egress namespace and the app namespaces with ``egress: true``.
NetworkPolicies make the gateway the only way out: app namespaces reach only it (mesh helper), and
it reaches only DNS, istiod and public addresses on 443.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components import k8s_netpol as netpol
from components.gateway_release import (
    gateway_namespace,
    gateway_network_policies,
    gateway_release,
    gateway_values,
)
from components.mesh_names import (
    EGRESS_GATEWAY_PORT,
    EGRESS_GATEWAY_SELECTOR,
    EGRESS_RELEASE_NAME,
    ROOT_NAMESPACE,
)
from stack_config import AppNamespaceConfig, EgressConfig, EgressHost

# Everything but public addresses: the exit must not become a path into private networks or IMDS
# (RFC 1918, carrier-grade NAT, link-local including 169.254.169.254).
PRIVATE_RANGES = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16")


@dataclass(frozen=True)
class EgressGatewayArgs:
    """Inputs of :class:`EgressGateway`: the ``egress`` config section and what the edge plugs into."""

    config: EgressConfig
    istio_version: str  # the gateway chart version: the mesh's pinned Istio version
    revision: str  # IstioMesh.revision
    is_prod: bool
    app_namespaces: tuple[AppNamespaceConfig, ...] = ()  # those with egress: true see and reach the exit
    prometheus_namespace: str | None = None
    depends_on: Sequence[pulumi.Resource] = ()  # IstioMesh.ready: CRDs and istiod before any Istio object
    istiod_namespace: str = ROOT_NAMESPACE


class EgressGateway(pulumi.ComponentResource):
    """The single exit of the mesh: an allow-list of HTTPS hosts routed through an egress gateway."""

    release: k8s.helm.v3.Release
    allow_list: list[str]
    namespace: str
    service_host: str

    def __init__(self, name: str, args: EgressGatewayArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("platform:istio:EgressGateway", name, None, opts)
        eg = args.config
        ns_name = eg.namespace
        service_host = f"{EGRESS_RELEASE_NAME}.{ns_name}.svc.cluster.local"
        egress_apps = sorted(a.name for a in args.app_namespaces if a.egress)
        # Only the gateway's own namespace and apps allowed out see the external hosts at all.
        export_to = [".", *egress_apps]

        namespace = gateway_namespace(f"{name}-namespace", ns_name, args.revision, self)
        after_ns = pulumi.ResourceOptions(parent=self, depends_on=[namespace])
        self.release = gateway_release(
            f"{name}-release",
            release_name=EGRESS_RELEASE_NAME,
            version=args.istio_version,
            namespace=ns_name,
            values=gateway_values(
                revision=args.revision,
                replicas=eg.replicas,
                selector=EGRESS_GATEWAY_SELECTOR,
                is_prod=args.is_prod,
                service={
                    # Reachable from inside the cluster only: nothing outside may use the mesh's exit.
                    "type": "ClusterIP",
                    "ports": [
                        {
                            "name": "tls",
                            "port": EGRESS_GATEWAY_PORT,
                            "protocol": "TCP",
                            "targetPort": EGRESS_GATEWAY_PORT,
                        }
                    ],
                },
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[namespace, *args.depends_on]),
        )

        istio_opts = pulumi.ResourceOptions(parent=self, depends_on=[namespace, *args.depends_on])
        for host in eg.hosts:
            for kind, api_version, spec in egress_objects(host, service_host, export_to):
                k8s.apiextensions.CustomResource(
                    f"{name}-{kind.lower()}-{host_slug(host.host)}",
                    api_version=api_version,
                    kind=kind,
                    metadata=k8s.meta.v1.ObjectMetaArgs(name=object_name(host.host), namespace=ns_name),
                    spec=spec,
                    opts=istio_opts,
                )
        self._network_policies(name, args, egress_apps, after_ns)

        self.allow_list = [h.host for h in eg.hosts]
        self.namespace = ns_name
        self.service_host = service_host
        self.register_outputs(
            {
                "allow_list": self.allow_list,
                "namespace": self.namespace,
                "service_host": self.service_host,
            }
        )

    # ---------------------------------------------------------------- NetworkPolicies

    def _network_policies(
        self, name: str, args: EgressGatewayArgs, egress_apps: list[str], opts: pulumi.ResourceOptions
    ) -> None:
        ns_name = args.config.namespace
        gateway_network_policies(name, ns_name, args.istiod_namespace, args.revision, args.prometheus_namespace, opts)
        if egress_apps:
            netpol.network_policy(
                f"{name}-np-from-apps",
                ns_name,
                "allow-from-egress-apps",
                EGRESS_GATEWAY_SELECTOR,
                ingress=[
                    k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                        from_=[netpol.namespaces_peer(egress_apps)],
                        ports=[netpol.tcp(EGRESS_GATEWAY_PORT)],
                    )
                ],
                opts=opts,
            )
        netpol.network_policy(
            f"{name}-np-to-internet",
            ns_name,
            "allow-internet-https",
            EGRESS_GATEWAY_SELECTOR,
            egress=[
                k8s.networking.v1.NetworkPolicyEgressRuleArgs(
                    # Public addresses only: the exit must not become a path into private networks or IMDS.
                    to=[
                        k8s.networking.v1.NetworkPolicyPeerArgs(
                            ip_block=k8s.networking.v1.IPBlockArgs(cidr="0.0.0.0/0", except_=list(PRIVATE_RANGES)),
                        )
                    ],
                    ports=[netpol.tcp(EGRESS_GATEWAY_PORT)],
                )
            ],
            opts=opts,
        )


def host_slug(host: str) -> str:
    return re.sub(r"[^a-z0-9-]", "-", host.lower())


def object_name(host: str) -> str:
    """A DNS-1123 name for a host's objects; 63 characters at most."""
    slug = host_slug(host)
    return f"egress-{slug}"[:63].rstrip("-")


def subset_name(host: str) -> str:
    return host_slug(host)[:63].rstrip("-")


def egress_objects(host: EgressHost, service_host: str, export_to: Sequence[str]) -> list[tuple[str, str, dict]]:
    """The four Istio objects that let the mesh reach one HTTPS host through the egress gateway."""
    name = object_name(host.host)
    subset = subset_name(host.host)
    service_entry = {
        "hosts": [host.host],
        "ports": [{"number": 443, "name": "tls", "protocol": "TLS"}],
        "resolution": "DNS",
        "location": "MESH_EXTERNAL",
        "exportTo": list(export_to),
    }
    gateway = {
        "selector": dict(EGRESS_GATEWAY_SELECTOR),
        "servers": [
            {
                "port": {"number": EGRESS_GATEWAY_PORT, "name": "tls", "protocol": "TLS"},
                "hosts": [host.host],
                # Passthrough: the gateway routes on SNI; the application's TLS session reaches the real host intact.
                "tls": {"mode": "PASSTHROUGH"},
            }
        ],
    }
    destination_rule = {
        "host": service_host,
        "exportTo": list(export_to),
        "subsets": [{"name": subset}],
    }
    virtual_service = {
        "hosts": [host.host],
        "gateways": ["mesh", name],
        "exportTo": list(export_to),
        "tls": [
            {
                # Sidecars: this SNI on 443 goes to the egress gateway, never straight out.
                "match": [{"gateways": ["mesh"], "port": 443, "sniHosts": [host.host]}],
                "route": [
                    {"destination": {"host": service_host, "subset": subset, "port": {"number": EGRESS_GATEWAY_PORT}}}
                ],
            },
            {
                # The egress gateway: on to the external host itself.
                "match": [{"gateways": [name], "port": EGRESS_GATEWAY_PORT, "sniHosts": [host.host]}],
                "route": [{"destination": {"host": host.host, "port": {"number": 443}}, "weight": 100}],
            },
        ],
    }
    return [
        ("ServiceEntry", "networking.istio.io/v1", service_entry),
        ("Gateway", "networking.istio.io/v1", gateway),
        ("DestinationRule", "networking.istio.io/v1", destination_rule),
        ("VirtualService", "networking.istio.io/v1", virtual_service),
    ]
