"""Pure builders of what the ingress edge sends to the cluster: Istio specs, the CSI certificate source.

Plain functions of config values, so tests and policies can read exactly what the chart and the
API server receive; ``IngressGateway`` (components/ingress_gateway.py) turns them into resources.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi

from components.mesh_names import HTTP_PORT, HTTPS_PORT, INGRESS_GATEWAY_SELECTOR
from stack_config import AppNamespaceConfig, JwtIssuerConfig

GATEWAY_NAME = "platform-ingress"  # app VirtualServices bind to "<namespace>/platform-ingress"
TLS_SECRET_NAME = "ingress-wildcard-tls"
SECRET_PROVIDER_CLASS_NAME = "ingress-wildcard-tls"
CSI_VOLUME_NAME = "ingress-tls-csi"
CSI_MOUNT_PATH = "/mnt/secrets-store/ingress-tls"

# TLS 1.2 suites with forward secrecy and AEAD only (TLS 1.3 suites are not configurable and all strong).
TLS12_CIPHER_SUITES = (
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-CHACHA20-POLY1305",
    "ECDHE-RSA-CHACHA20-POLY1305",
)


def owned_hosts(app_namespaces: Sequence[AppNamespaceConfig]) -> list[str]:
    """The Gateway's hosts: every namespace's ``publicHosts``, each as ``<namespace>/<host>``.

    Istio binds a VirtualService to a server host only from the namespace before the ``/`` (a bare host means
    ``*/``: "selected from any available namespace", istio.io Gateway reference, ``Server.hosts``), so no other
    namespace can bind, or merge routes into, an owned host. Hosts no namespace owns are not served, the
    ``ingress.hosts`` wildcard included (docs/edges.md, "Who may bind a public host").
    """
    return [f"{ns.name}/{host}" for ns in app_namespaces for host in ns.public_hosts]


def gateway_spec(hosts: Sequence[str], min_tls: str, max_tls: str) -> dict:
    """Both servers carry the same namespace-scoped hosts (``owned_hosts``)."""
    return {
        "selector": dict(INGRESS_GATEWAY_SELECTOR),
        "servers": [
            {
                "port": {"number": HTTPS_PORT, "name": "https", "protocol": "HTTPS"},
                "hosts": list(hosts),
                "tls": {
                    "mode": "SIMPLE",
                    "credentialName": TLS_SECRET_NAME,
                    "minProtocolVersion": min_tls,
                    "maxProtocolVersion": max_tls,
                    "cipherSuites": list(TLS12_CIPHER_SUITES),
                },
            },
            {
                # Plain HTTP only ever answers 301 to https://: no request is routed in cleartext.
                "port": {"number": HTTP_PORT, "name": "http", "protocol": "HTTP"},
                "hosts": list(hosts),
                "tls": {"httpsRedirect": True},
            },
        ],
    }


def request_authentication_spec(issuer: JwtIssuerConfig) -> dict:
    return {
        "selector": {"matchLabels": dict(INGRESS_GATEWAY_SELECTOR)},
        "jwtRules": [
            {
                "issuer": issuer.issuer,
                "jwksUri": issuer.jwks_uri,
                "audiences": list(issuer.audiences),
                "forwardOriginalToken": issuer.forward_original_token,
                # Header only: tokens in query strings end up in access logs and browser history.
                "fromHeaders": [{"name": "Authorization", "prefix": "Bearer "}],
            }
        ],
    }


def _with_ports(hosts: Sequence[str]) -> list[str]:
    """Host patterns plus their ``host:port`` forms (an exact ``hosts`` match misses ``Host: a.com:443``)."""
    out: list[str] = []
    for h in hosts:
        out.append(h)
        if not h.startswith("*"):
            out.append(f"{h}:*")
    return out


def protected_operations(issuer: JwtIssuerConfig, ingress_hosts: Sequence[str]) -> list[dict]:
    """The ``to`` clauses covering an issuer's protected hosts/paths, failing closed on odd Host headers.

    Two operations, OR-ed: the protected hosts (and their ``:port`` forms), and every host that is not
    explicitly unprotected, so ``Host: app.example.com:443`` on a wildcard cannot slip past.
    """
    paths = {"paths": list(issuer.paths)} if issuer.paths else {}
    protected = list(issuer.hosts) if issuer.hosts else list(ingress_hosts)
    unprotected = [h for h in ingress_hosts if h not in protected]
    if not unprotected:
        return [{"operation": dict(paths)}] if paths else []
    return [
        {"operation": {"hosts": _with_ports(protected), **paths}},
        {"operation": {"notHosts": _with_ports(unprotected), **paths}},
    ]


def require_jwt_policy_spec(issuer: JwtIssuerConfig, ingress_hosts: Sequence[str]) -> dict:
    """DENY policy: on the issuer's hosts/paths, no valid token from it, or a required claim missing.

    Only DENY rules: an ALLOW policy on the gateway would deny every request it does not list,
    including the unprotected hosts and the port-80 redirect.
    """
    # Port 80 is exempt: its server only answers the 301 to HTTPS (nothing is routed), and a DENY there
    # would turn every redirect on a protected host into a 403. notPorts fails closed on any other port.
    exempt = {"notPorts": [str(HTTP_PORT)]}
    to = [{"operation": {**t["operation"], **exempt}} for t in protected_operations(issuer, ingress_hosts)]
    scope = {"to": to or [{"operation": exempt}]}
    rules: list[dict] = [
        {
            "from": [{"source": {"notRequestPrincipals": [f"{issuer.issuer}/*"]}}],
            **scope,
        }
    ]
    for claim, allowed in issuer.required_claims:
        # One rule a claim (rules are OR-ed): any claim without an allowed value denies the request.
        rules.append({**scope, "when": [{"key": f"request.auth.claims[{claim}]", "notValues": list(allowed)}]})
    return {"selector": {"matchLabels": dict(INGRESS_GATEWAY_SELECTOR)}, "action": "DENY", "rules": rules}


def secret_provider_class_spec(
    certificate_name: str,
    key_vault_name: pulumi.Input[str],
    tenant_id: pulumi.Input[str],
    client_id: pulumi.Input[str],
) -> dict:
    # objectType secret on a certificate returns the PEM chain *and* private key (objectType cert has no key).
    objects = f"array:\n  - |\n    objectName: {certificate_name}\n    objectType: secret\n"
    return {
        "provider": "azure",
        "secretObjects": [
            {
                "secretName": TLS_SECRET_NAME,
                "type": "kubernetes.io/tls",
                "data": [
                    {"objectName": certificate_name, "key": "tls.key"},
                    {"objectName": certificate_name, "key": "tls.crt"},
                ],
            }
        ],
        "parameters": {
            "usePodIdentity": "false",
            "useVMManagedIdentity": "true",
            "userAssignedIdentityID": client_id,
            "keyvaultName": key_vault_name,
            "tenantId": tenant_id,
            "objects": objects,
        },
    }


def ingress_service(public_ip_name: str, resource_group_name: pulumi.Input[str]) -> dict[str, Any]:
    """The chart's Service: a LoadBalancer on the static public IP, 80 and 443 only.

    The IP lives outside the node resource group, so the Service names its group as well as the IP
    (learn.microsoft.com/azure/aks/static-ip: ``azure-load-balancer-resource-group`` with ``azure-pip-name``).
    """
    return {
        "type": "LoadBalancer",
        # Keep the client source IP (no SNAT through another node); Azure then probes the
        # healthCheckNodePort's /healthz, so only nodes with a ready gateway pod get traffic.
        "externalTrafficPolicy": "Local",
        "annotations": {
            "service.beta.kubernetes.io/azure-pip-name": public_ip_name,
            "service.beta.kubernetes.io/azure-load-balancer-resource-group": resource_group_name,
        },
        # Only 80 and 443 are public: the status port (15021) stays off the load balancer.
        "ports": [
            {"name": "http2", "port": HTTP_PORT, "protocol": "TCP", "targetPort": HTTP_PORT},
            {"name": "https", "port": HTTPS_PORT, "protocol": "TCP", "targetPort": HTTPS_PORT},
        ],
    }


def internal_ingress_service(address: str) -> dict[str, Any]:
    """The chart's Service behind the firewall: an internal load balancer on a fixed node-subnet address.

    The firewall's DNAT rules translate to this address, so it must not move: the annotations ask the Azure
    cloud provider for an internal frontend on exactly ``address`` (cloud-provider-azure annotations
    ``azure-load-balancer-internal`` and ``azure-load-balancer-ipv4``).
    """
    return {
        "type": "LoadBalancer",
        "externalTrafficPolicy": "Local",
        "annotations": {
            "service.beta.kubernetes.io/azure-load-balancer-internal": "true",
            "service.beta.kubernetes.io/azure-load-balancer-ipv4": address,
        },
        "ports": [
            {"name": "http2", "port": HTTP_PORT, "protocol": "TCP", "targetPort": HTTP_PORT},
            {"name": "https", "port": HTTPS_PORT, "protocol": "TCP", "targetPort": HTTPS_PORT},
        ],
    }


def csi_certificate_volume() -> dict[str, Any]:
    """Chart values mounting the certificate's CSI volume into the gateway pods.

    The CSI driver creates (and keeps in sync) the TLS Secret only while a pod mounts the volume.
    """
    return {
        "volumes": [
            {
                "name": CSI_VOLUME_NAME,
                "csi": {
                    "driver": "secrets-store.csi.k8s.io",
                    "readOnly": True,
                    "volumeAttributes": {"secretProviderClass": SECRET_PROVIDER_CLASS_NAME},
                },
            }
        ],
        "volumeMounts": [{"name": CSI_VOLUME_NAME, "mountPath": CSI_MOUNT_PATH, "readOnly": True}],
    }
