"""What the mesh installs, as plain data: the Istio charts' values, the mesh-wide PeerAuthentications and the
revision-tag webhooks. :class:`components.istio_mesh.IstioMesh` registers them; tests and the policy pack read
exactly what the charts and the API server receive.
"""

from __future__ import annotations

import json
from typing import Any

from components.mesh_names import (
    INJECTED_POD_LABEL,
    REVISION_LABEL,
    REVISION_TAG_LABEL,
    ROOT_NAMESPACE,
    istiod_service,
    revision_tag_webhook_name,
)
from stack_config import IstioConfig, MtlsException

# The istiod chart's injector serves here (values.yaml istiodRemote.injectionPath at 1.29.6 and 1.30.3).
INJECTION_PATH = "/inject"

# Mesh access log: one JSON object a request, with who called whom (SPIFFE identities), what and how it ended.
# The path is logged without its query string (%PATH(NQ:...)%): query strings often carry tokens.
ACCESS_LOG_FIELDS: dict[str, str] = {
    "start_time": "%START_TIME%",
    "source_principal": "%DOWNSTREAM_PEER_URI_SAN%",
    "local_principal": "%DOWNSTREAM_LOCAL_URI_SAN%",
    "destination_principal": "%UPSTREAM_PEER_URI_SAN%",
    "source_address": "%DOWNSTREAM_REMOTE_ADDRESS%",
    "destination_address": "%UPSTREAM_HOST%",
    "destination_service": "%UPSTREAM_CLUSTER%",
    "requested_server_name": "%REQUESTED_SERVER_NAME%",
    "authority": "%REQ(:AUTHORITY)%",
    "method": "%REQ(:METHOD)%",
    "path": "%PATH(NQ:ORIG_OR_PATH)%",
    "protocol": "%PROTOCOL%",
    "response_code": "%RESPONSE_CODE%",
    "response_flags": "%RESPONSE_FLAGS%",
    "response_code_details": "%RESPONSE_CODE_DETAILS%",
    "connection_termination_details": "%CONNECTION_TERMINATION_DETAILS%",
    "upstream_transport_failure_reason": "%UPSTREAM_TRANSPORT_FAILURE_REASON%",
    # Server-side TLS handshake failures (a peer without a valid mesh certificate): the mTLS-failure alert reads it.
    "downstream_transport_failure_reason": "%DOWNSTREAM_TRANSPORT_FAILURE_REASON%",
    "bytes_received": "%BYTES_RECEIVED%",
    "bytes_sent": "%BYTES_SENT%",
    "duration": "%DURATION%",
    "upstream_service_time": "%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%",
    "x_forwarded_for": "%REQ(X-FORWARDED-FOR)%",
    "user_agent": "%REQ(USER-AGENT)%",
    "request_id": "%REQ(X-REQUEST-ID)%",
    "route_name": "%ROUTE_NAME%",
}


def go_duration(hours: int) -> str:
    """Hours as a Go ``time.Duration`` string as istiod and the agent print it: ``24`` -> ``24h0m0s``."""
    return f"{hours}h0m0s"


# --------------------------------------------------------------------------- chart values


def base_values(istio: IstioConfig) -> dict[str, Any]:
    return {
        # The default validating webhook (istiod-default-validator) calls Service istiod-<defaultRevision>: a
        # revision, never a tag (tags have no such Service). It follows the default tag, whose istiod then
        # also patches the webhook's CA bundle (the webhook carries istio.io/rev: <that revision>).
        "defaultRevision": istio.default_revision,
        "global": {"istioNamespace": ROOT_NAMESPACE},
    }


def cni_values() -> dict[str, Any]:
    # Chart defaults otherwise: chained after the cluster's own CNI (Azure CNI / Cilium), never replacing it
    # (cni.chained: true, /etc/cni/net.d and /opt/cni/bin are AKS's paths; AKS has no global.platform profile).
    return {"global": {"logAsJson": True}}


def istiod_values(istio: IstioConfig, is_prod: bool, revision: str) -> dict[str, Any]:
    """The values of one revision's istiod release (every revision is configured alike)."""
    return {
        # Suffixes every object of the release (Deployment, Service, webhooks, ConfigMaps) with the revision,
        # so two revisions side by side never collide. Tags are not rendered by the chart (revisionTags): a tag
        # is its own object, moved between revisions in place (revision_tag_webhook).
        "revision": revision,
        "global": {
            "istioNamespace": ROOT_NAMESPACE,
            # Structured control-plane and proxy-agent logs, parsable by the log pipeline.
            "logAsJson": True,
            # Reject invalid Istio config at admission instead of silently ignoring it.
            "configValidation": True,
            # A PDB on a single replica would block every node drain; prod runs at least two.
            "defaultPodDisruptionBudget": {"enabled": is_prod},
            "proxy": {
                "privileged": False,
                # Syscall filter on every injected istio-proxy and istio-validation container (the injector
                # sets none by default), so app pods pass Pod Security `restricted` without extra settings.
                "seccompProfile": {"type": "RuntimeDefault"},
            },
        },
        "pilot": {
            "autoscaleEnabled": is_prod,
            "autoscaleMin": 2 if is_prod else 1,
            "autoscaleMax": 5 if is_prod else 1,
            "replicaCount": 2 if is_prod else 1,
            "resources": {
                "requests": {"cpu": "500m" if is_prod else "100m", "memory": "2Gi" if is_prod else "512Mi"},
                "limits": {"cpu": "2", "memory": "4Gi" if is_prod else "2Gi"},
            },
            # Restrict the syscalls istiod can make (the chart already drops capabilities and runs as non-root).
            "seccompProfile": {"type": "RuntimeDefault"},
            # Traffic redirection by the CNI node agent: injected pods get no privileged init container.
            "cni": {"enabled": True},
            "env": {
                # Workload certificates live at most this long; the agent rotates them before expiry.
                "DEFAULT_WORKLOAD_CERT_TTL": go_duration(istio.workload_cert_ttl_hours),
                # istiod refuses to sign a longer certificate, whatever a pod annotation asks for.
                "MAX_WORKLOAD_CERT_TTL": go_duration(istio.max_workload_cert_ttl_hours),
                # Debug endpoints (config dumps, secrets metadata) are not served over plaintext HTTP.
                "ENABLE_DEBUG_ON_HTTP": "false",
            },
        },
        "sidecarInjectorWebhook": {
            # Injection only where a namespace opts in with istio.io/rev; nothing is injected by surprise.
            "enableNamespacesByDefault": False,
        },
        "meshConfig": mesh_config(istio),
    }


def mesh_config(istio: IstioConfig) -> dict[str, Any]:
    """``meshConfig``: identity, mTLS, egress mode, access logs and request normalization for every proxy."""
    return {
        "trustDomain": istio.trust_domain,
        "rootNamespace": ROOT_NAMESPACE,
        # Clients send mTLS whenever the server has a sidecar (works with the STRICT PeerAuthentication).
        "enableAutoMtls": True,
        # Sidecar-to-sidecar TLS is TLS 1.3 only: every peer is an Envoy, no legacy client to serve.
        "meshMTLS": {"minProtocolVersion": "TLSV1_3"},
        # Only hosts in the service registry (ServiceEntry) are reachable; unknown egress is blocked.
        "outboundTrafficPolicy": {"mode": istio.outbound_traffic_policy},
        "accessLogFile": "/dev/stdout",
        "accessLogEncoding": "JSON",
        "accessLogFormat": json.dumps(ACCESS_LOG_FIELDS, separators=(",", ":")),
        # Decode %2F/%5C and merge slashes before authorization, so /a%2F..//admin cannot dodge a path rule.
        "pathNormalization": {"normalization": "DECODE_AND_MERGE_SLASHES"},
        # Sidecar metrics are merged on 15020 so Prometheus needs no access to the app's own ports.
        "enablePrometheusMerge": True,
        "defaultConfig": {
            # The app starts only once its proxy is ready, so its first calls are never sent unproxied.
            "holdApplicationUntilProxyStarts": True,
            # The TTL the proxy agent requests for its certificate; istiod rejects (does not shorten) a request
            # above MAX_WORKLOAD_CERT_TTL, so this must stay at or below it (config validation checks).
            "proxyMetadata": {"SECRET_TTL": go_duration(istio.workload_cert_ttl_hours)},
        },
    }


# --------------------------------------------------------------------------- mesh policy


def peer_authentications(istio: IstioConfig) -> list[dict[str, Any]]:
    """Every PeerAuthentication the mesh needs: the STRICT default first, then the configured exceptions.

    A namespace exception is a namespace-wide PeerAuthentication in that namespace. A port exception
    keeps the workload mode (STRICT unless the namespace has its own exception) and lowers only that
    port with ``portLevelMtls``; Istio accepts ``portLevelMtls`` only with a non-empty selector
    (CRD rule "portLevelMtls requires selector"), so it selects every sidecar-injected pod
    (``security.istio.io/tlsMode: istio``, a label the injector sets on each of them).
    """
    objects: list[dict[str, Any]] = [
        _peer_authentication("default", ROOT_NAMESPACE, {"mtls": {"mode": "STRICT"}}),
    ]
    by_namespace: dict[str, list[MtlsException]] = {}
    for exception in istio.mtls_exceptions:
        by_namespace.setdefault(exception.namespace, []).append(exception)
    for namespace in sorted(by_namespace):
        entries = by_namespace[namespace]
        namespace_wide = [e for e in entries if e.port is None]
        base_mode = namespace_wide[-1].mode if namespace_wide else "STRICT"
        if namespace_wide:
            objects.append(_peer_authentication("mtls-exception", namespace, {"mtls": {"mode": base_mode}}))
        ports = {e.port: e.mode for e in entries if e.port is not None}
        if ports:
            objects.append(
                _peer_authentication(
                    "mtls-port-exception",
                    namespace,
                    {
                        "selector": {"matchLabels": {INJECTED_POD_LABEL: "istio"}},
                        "mtls": {"mode": base_mode},
                        "portLevelMtls": {str(port): {"mode": mode} for port, mode in sorted(ports.items())},
                    },
                )
            )
    return objects


def _peer_authentication(name: str, namespace: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "security.istio.io/v1",
        "kind": "PeerAuthentication",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


# --------------------------------------------------------------------------- revision tags


def revision_tag_webhook(tag: str, revision: str) -> dict[str, Any]:
    """The MutatingWebhookConfiguration of one revision tag, as ``istioctl tag set <tag> --revision <rev>`` makes it.

    Same shape as the istiod chart's ``templates/revision-tags-mwc.yaml`` (1.29.6 and 1.30.3) for a tag other
    than ``default``: a namespace webhook for namespaces labelled ``istio.io/rev: <tag>`` and an object webhook
    for pods labelled so in unlabelled namespaces, both skipping ``sidecar.istio.io/inject: "false"``. It is
    rendered here rather than by the chart so that a tag belongs to no istiod release: moving it is an
    in-place update of this object. No ``caBundle``: istiod patches it into every webhook configuration whose
    ``istio.io/rev`` label is its own revision (``pkg/webhooks/webhookpatch.go``); both revisions share the
    mesh CA, so the bundle stays valid while the tag moves.
    """
    client = {
        "service": {"name": istiod_service(revision), "namespace": ROOT_NAMESPACE, "path": INJECTION_PATH, "port": 443}
    }

    def webhook(prefix: str, namespace_selector: list, object_selector: list) -> dict[str, Any]:
        return {
            "name": f"{prefix}sidecar-injector.istio.io",
            "clientConfig": client,
            "sideEffects": "None",
            "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}],
            # A pod that cannot be injected is not created: it would run outside the mesh and its policy.
            "failurePolicy": "Fail",
            "reinvocationPolicy": "Never",
            "admissionReviewVersions": ["v1"],
            "namespaceSelector": {"matchExpressions": namespace_selector},
            "objectSelector": {"matchExpressions": object_selector},
        }

    not_opted_out = {"key": "sidecar.istio.io/inject", "operator": "NotIn", "values": ["false"]}
    no_legacy_label = {"key": "istio-injection", "operator": "DoesNotExist"}
    tagged = {"key": REVISION_LABEL, "operator": "In", "values": [tag]}
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": {
            "name": revision_tag_webhook_name(tag),
            "labels": {
                REVISION_TAG_LABEL: tag,
                # The revision whose istiod serves (and CA-patches) this tag.
                REVISION_LABEL: revision,
                "app": "sidecar-injector",
                "app.kubernetes.io/name": "istiod",
            },
        },
        "webhooks": [
            webhook("rev.namespace.", [tagged, no_legacy_label], [not_opted_out]),
            webhook(
                "rev.object.",
                [{"key": REVISION_LABEL, "operator": "DoesNotExist"}, no_legacy_label],
                [not_opted_out, tagged],
            ),
        ],
    }
