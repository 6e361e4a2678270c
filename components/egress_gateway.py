"""Egress edge: every call out of the mesh goes through one Istio egress gateway that knows who is calling.

The mesh runs with ``outboundTrafficPolicy: REGISTRY_ONLY``, so a host nobody registered is
unreachable. For every allowed host in ``cfg.egress.hosts`` this component registers:

- ``ServiceEntry``: the host on 443/TLS, ``MESH_EXTERNAL``, resolved by DNS;
- ``Gateway`` (``istio: egressgateway``): port 443 ``TLS`` with ``tls.mode: ISTIO_MUTUAL`` for that
  host's name: the hop from sidecar to gateway is Istio mutual TLS, so the gateway sees the caller's
  SPIFFE identity; the application's own TLS session travels inside it, untouched, to the real host;
- ``VirtualService``: sidecars (``mesh``) send the host's SNI to the egress gateway (``tls`` route),
  and the gateway, having terminated the Istio mTLS, forwards the inner bytes to the host (``tcp``
  route: Istio routes a terminated ``TLS`` server with ``tcp`` blocks);

plus one ``DestinationRule`` for the gateway Service with a subset per host (``ISTIO_MUTUAL``,
``sni: <host>``: the SNI selects the gateway server and is what authorization checks) and one
``AuthorizationPolicy`` on the gateway: per host, only the namespaces listed in
``appNamespaces[].egressHosts`` (peer identity from the mTLS certificate) and only that server name
(``connection.sni``; ``to.operation.hosts`` works only for HTTP); every other call is denied.

Istio's current egress tasks show ISTIO_MUTUAL from sidecar to gateway with TLS origination; the
app-originated TLS wrapped in Istio mTLS is the "mutual TLS enabled" variant of the Istio 1.4 egress
gateway task, still supported by the gateway code (``pilot/pkg/networking/core/gateway.go``, "TCP with
TLS termination and forwarding"). Each host's ServiceEntry and VirtualService are exported only to
the namespaces allowed to reach it. NetworkPolicies stay the L4 backstop: app namespaces with
``egress: true`` reach only the gateway, and the gateway reaches only DNS, istiod and public addresses on 443.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components import k8s_netpol as netpol
from components.gateway_release import (
    GatewayMesh,
    gateway_namespace,
    gateway_network_policies,
    gateway_release,
    gateway_values,
)
from components.mesh_names import (
    EGRESS_GATEWAY_PORT,
    EGRESS_GATEWAY_SELECTOR,
    EGRESS_RELEASE_NAME,
)
from components.registered_outputs import register_attributes
from stack_config import AppNamespaceConfig, EgressConfig, EgressHost

# Everything but public addresses: the exit must not become a path into private networks or IMDS
# (RFC 1918, carrier-grade NAT, link-local including 169.254.169.254).
PRIVATE_RANGES = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16")


@dataclass(frozen=True)
class EgressGatewayArgs:
    """Inputs of :class:`EgressGateway`: the ``egress`` config section and what the edge plugs into."""

    config: EgressConfig
    mesh: GatewayMesh
    is_prod: bool
    app_namespaces: tuple[AppNamespaceConfig, ...] = ()  # those with egress: true see and reach the exit


class EgressGateway(pulumi.ComponentResource):
    """The single exit of the mesh: an allow-list of HTTPS hosts routed through an egress gateway."""

    release: k8s.helm.v3.Release
    allow_list: list[str]
    namespace: str
    service_host: str

    def __init__(self, name: str, args: EgressGatewayArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("platform:istio:EgressGateway", name, None, opts)
        eg = args.config
        service_host = f"{EGRESS_RELEASE_NAME}.{eg.namespace}.svc.cluster.local"
        namespace = gateway_namespace(f"{name}-namespace", eg.namespace, args.mesh, self)
        self.release = self._release(name, args, namespace)
        self._istio_objects(
            name,
            args,
            service_host,
            pulumi.ResourceOptions(parent=self, depends_on=[namespace, *args.mesh.depends_on]),
        )
        self._network_policies(name, args, pulumi.ResourceOptions(parent=self, depends_on=[namespace]))

        self.allow_list = list(eg.host_names)
        self.namespace = eg.namespace
        self.service_host = service_host
        register_attributes(self, "allow_list", "namespace", "service_host")

    # ---------------------------------------------------------------- the gateway release

    def _release(self, name: str, args: EgressGatewayArgs, namespace: k8s.core.v1.Namespace) -> k8s.helm.v3.Release:
        return gateway_release(
            f"{name}-release",
            release_name=EGRESS_RELEASE_NAME,
            mesh=args.mesh,
            namespace=args.config.namespace,
            values=gateway_values(
                mesh=args.mesh,
                replicas=args.config.replicas,
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
            opts=pulumi.ResourceOptions(parent=self, depends_on=[namespace, *args.mesh.depends_on]),
        )

    # ---------------------------------------------------------------- Istio objects

    def _istio_objects(
        self, name: str, args: EgressGatewayArgs, service_host: str, istio_opts: pulumi.ResourceOptions
    ) -> None:
        """Per host its ServiceEntry, Gateway and VirtualService; the gateway's DestinationRule; the callers' ALLOW."""
        eg = args.config
        allowed = allowed_namespaces(eg.hosts, args.app_namespaces)
        for host in eg.hosts:
            # Only the gateway's own namespace and the apps allowed to reach the host see it at all.
            export_to = [".", *allowed[host.host]]
            for kind, spec in egress_objects(host, service_host, eg.namespace, export_to):
                self._istio_object(
                    f"{name}-{kind.lower()}-{host_slug(host.host)}",
                    kind,
                    object_name(host.host),
                    spec,
                    eg.namespace,
                    istio_opts,
                )
        if eg.hosts:
            everyone = sorted({n for names in allowed.values() for n in names})
            self._istio_object(
                f"{name}-gateway-tls",
                "DestinationRule",
                GATEWAY_DESTINATION_RULE_NAME,
                gateway_destination_rule(eg.hosts, service_host, [".", *everyone]),
                eg.namespace,
                istio_opts,
            )
        self._istio_object(
            f"{name}-authorization",
            "AuthorizationPolicy",
            AUTHORIZATION_POLICY_NAME,
            egress_authorization_spec(eg.hosts, allowed),
            eg.namespace,
            istio_opts,
        )

    def _istio_object(
        self,
        resource_name: str,
        kind: str,
        object_name: str,
        spec: dict[str, Any],
        namespace: str,
        opts: pulumi.ResourceOptions,
    ) -> k8s.apiextensions.CustomResource:
        return k8s.apiextensions.CustomResource(
            resource_name,
            api_version=ISTIO_API_VERSIONS[kind],
            kind=kind,
            metadata=k8s.meta.v1.ObjectMetaArgs(name=object_name, namespace=namespace),
            spec=spec,
            opts=opts,
        )

    # ---------------------------------------------------------------- NetworkPolicies

    def _network_policies(self, name: str, args: EgressGatewayArgs, opts: pulumi.ResourceOptions) -> None:
        ns_name = args.config.namespace
        egress_apps = sorted(a.name for a in args.app_namespaces if a.egress)
        opened: dict[str, netpol.Allow] = {}
        if egress_apps:
            opened["np-from-apps"] = netpol.Allow(
                "allow-from-egress-apps",
                from_=[netpol.namespaces_peer(egress_apps)],
                ports=(EGRESS_GATEWAY_PORT,),
                pods=EGRESS_GATEWAY_SELECTOR,
            )
        # Public addresses only: the exit must not become a path into private networks or IMDS.
        public_internet = netpol.Peer(
            ip_block=k8s.networking.v1.IPBlockArgs(cidr="0.0.0.0/0", except_=list(PRIVATE_RANGES))
        )
        opened["np-to-internet"] = netpol.Allow(
            "allow-internet-https",
            to=[public_internet],
            ports=(EGRESS_GATEWAY_PORT,),
            pods=EGRESS_GATEWAY_SELECTOR,
        )
        gateway_network_policies(name, ns_name, args.mesh, opened, opts)


def host_slug(host: str) -> str:
    return re.sub(r"[^a-z0-9-]", "-", host.lower())


def object_name(host: str) -> str:
    """A DNS-1123 name for a host's objects; 63 characters at most."""
    slug = host_slug(host)
    return f"egress-{slug}"[:63].rstrip("-")


def subset_name(host: str) -> str:
    return host_slug(host)[:63].rstrip("-")


GATEWAY_DESTINATION_RULE_NAME = "egress-gateway-istio-mtls"
AUTHORIZATION_POLICY_NAME = "allow-egress-callers"
ISTIO_API_VERSIONS = {
    "ServiceEntry": "networking.istio.io/v1",
    "Gateway": "networking.istio.io/v1",
    "DestinationRule": "networking.istio.io/v1",
    "VirtualService": "networking.istio.io/v1",
    "AuthorizationPolicy": "security.istio.io/v1",
}


def allowed_namespaces(
    hosts: Sequence[EgressHost], app_namespaces: Sequence[AppNamespaceConfig]
) -> dict[str, list[str]]:
    """Per host, the app namespaces that may reach it: those listing it in ``egressHosts``.

    A namespace with ``egress: true`` and no ``egressHosts`` may reach every host (config refuses that in prod).
    """
    return {
        h.host: sorted(
            ns.name for ns in app_namespaces if ns.egress and (h.host in ns.egress_hosts or not ns.egress_hosts)
        )
        for h in hosts
    }


def egress_objects(
    host: EgressHost, service_host: str, namespace: str, export_to: Sequence[str]
) -> list[tuple[str, dict[str, Any]]]:
    """The per-host Istio objects (ServiceEntry, Gateway, VirtualService) that route one host through the gateway."""
    name = object_name(host.host)
    gateway_ref = f"{namespace}/{name}"
    service_entry = {
        "hosts": [host.host],
        "ports": [{"number": 443, "name": "tls", "protocol": "TLS"}],
        # DNS, not NONE: with NONE the gateway would send the traffic back to itself (istio.io egress task).
        "resolution": "DNS",
        "location": "MESH_EXTERNAL",
        "exportTo": list(export_to),
    }
    gateway = {
        "selector": dict(EGRESS_GATEWAY_SELECTOR),
        "servers": [
            {
                # One server (one SNI filter chain) per host; port names are unique across the gateway's servers.
                "port": {
                    "number": EGRESS_GATEWAY_PORT,
                    "name": f"tls-{subset_name(host.host)}"[:63],
                    "protocol": "TLS",
                },
                "hosts": [host.host],
                # Istio mTLS from the sidecar: the gateway authenticates the caller's workload certificate.
                "tls": {"mode": "ISTIO_MUTUAL"},
            }
        ],
    }
    virtual_service = {
        "hosts": [host.host],
        "gateways": ["mesh", gateway_ref],
        "exportTo": list(export_to),
        "tls": [
            {
                # Sidecars: this SNI on 443 goes to the egress gateway (its subset adds Istio mTLS), never straight out.
                "match": [{"gateways": ["mesh"], "port": 443, "sniHosts": [host.host]}],
                "route": [
                    {
                        "destination": {
                            "host": service_host,
                            "subset": subset_name(host.host),
                            "port": {"number": EGRESS_GATEWAY_PORT},
                        }
                    }
                ],
            }
        ],
        "tcp": [
            {
                # The egress gateway, after terminating the Istio mTLS: the app's TLS bytes on to the host itself.
                "match": [{"gateways": [gateway_ref], "port": EGRESS_GATEWAY_PORT}],
                "route": [{"destination": {"host": host.host, "port": {"number": 443}}, "weight": 100}],
            }
        ],
    }
    return [("ServiceEntry", service_entry), ("Gateway", gateway), ("VirtualService", virtual_service)]


def gateway_destination_rule(
    hosts: Sequence[EgressHost], service_host: str, export_to: Sequence[str]
) -> dict[str, Any]:
    """One DestinationRule for the gateway Service, a subset per host: Istio mTLS carrying the host as SNI.

    One rule, not one per host: rules for the same host with different ``exportTo`` are not merged.
    """
    return {
        "host": service_host,
        "exportTo": list(export_to),
        "subsets": [
            {
                "name": subset_name(h.host),
                "trafficPolicy": {
                    "portLevelSettings": [
                        {
                            "port": {"number": EGRESS_GATEWAY_PORT},
                            "tls": {"mode": "ISTIO_MUTUAL", "sni": h.host},
                        }
                    ]
                },
            }
            for h in hosts
        ],
    }


def egress_authorization_spec(hosts: Sequence[EgressHost], allowed: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    """ALLOW on the egress gateway: per host, its allowed namespaces (mTLS peer identity) and its server name.

    An ALLOW policy denies whatever it does not match, so a namespace not listed for a host, a plaintext
    caller (no identity) and an unknown SNI are refused; with no rule at all nothing is allowed.
    ``connection.sni`` is the SNI of the sidecar-to-gateway mTLS (the DestinationRule's ``sni``), valid
    for TCP; ``to.operation.hosts`` is HTTP-only and would silently match nothing here.
    """
    rules = [
        {
            "from": [{"source": {"namespaces": list(allowed[h.host])}}],
            "to": [{"operation": {"ports": [str(EGRESS_GATEWAY_PORT)]}}],
            "when": [{"key": "connection.sni", "values": [h.host]}],
        }
        for h in hosts
        if allowed[h.host]
    ]
    spec: dict[str, Any] = {"selector": {"matchLabels": dict(EGRESS_GATEWAY_SELECTOR)}, "action": "ALLOW"}
    if rules:
        spec["rules"] = rules
    return spec
