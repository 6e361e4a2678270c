"""The shared vocabulary of the mesh and the cluster: namespaces, labels, ports, gateway names, identities.

Every component that needs one of these names imports it from here, so a name is written once and
two components can never disagree about, say, the port istiod serves xDS on or the labels of the
ingress gateway pods. Nothing here creates a resource.
"""

from __future__ import annotations

# --------------------------------------------------------------------------- the project's own labels

# The one domain for this platform's own labels and annotations (``<domain>/<name>``).
PLATFORM_LABEL_DOMAIN = "platform.contoso.com"


def platform_label(name: str) -> str:
    """``platform.contoso.com/<name>``: a label or annotation key owned by this platform."""
    return f"{PLATFORM_LABEL_DOMAIN}/{name}"


# --------------------------------------------------------------------------- Kubernetes

# Set by the API server on every namespace: selects a namespace by name in a NetworkPolicy.
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
# CoreDNS runs here on AKS, and the API server's calls to webhooks arrive from here (konnectivity).
KUBE_SYSTEM_NAMESPACE = "kube-system"
DNS_POD_LABELS = {"k8s-app": "kube-dns"}  # CoreDNS on AKS
DNS_PORT = 53

# The AKS managed Prometheus scraper (azureMonitorProfile.metrics). Its replica Deployment ``ama-metrics``
# runs the cluster-wide jobs (custom scrape config, pod annotations); AKS-managed, in kube-system, without
# a sidecar and without hostNetwork, so NetworkPolicies see its pod IP. Labels from the add-on chart
# (Azure/prometheus-collector otelcollector/deploy/addon-chart/azure-monitor-metrics-addon/templates).
METRICS_SCRAPER_NAMESPACE = KUBE_SYSTEM_NAMESPACE
METRICS_SCRAPER_POD_LABELS = {"rsName": "ama-metrics"}

# --------------------------------------------------------------------------- Istio control plane

ISTIO_CHART_REPO = "https://istio-release.storage.googleapis.com/charts"
ROOT_NAMESPACE = "istio-system"  # istiod's namespace and the mesh root namespace
# On a namespace or gateway: the revision TAG that injects it (``stable``); on istiod's pods: its revision.
REVISION_LABEL = "istio.io/rev"
REVISION_TAG_LABEL = "istio.io/tag"  # on a revision tag's webhook: the tag it serves
ISTIOD_POD_LABELS = {"app": "istiod"}
# Every sidecar-injected pod carries this label (set by the injector); used where Istio needs a selector.
INJECTED_POD_LABEL = "security.istio.io/tlsMode"

XDS_PORT = 15012  # istiod: xDS and CA (certificate signing) over mTLS; every proxy needs it
WEBHOOK_PORT = 15017  # istiod: injection/validation webhooks, called by the API server
MONITORING_PORT = 15014  # istiod metrics (debug endpoints closed with ENABLE_DEBUG_ON_HTTP=false)
MERGED_METRICS_PORT = 15020  # istio-agent serves app + Envoy metrics merged here (enablePrometheusMerge)
ENVOY_METRICS_PORT = 15090  # Envoy's own Prometheus endpoint

# --------------------------------------------------------------------------- tenancy

# On every app namespace (set by the platform; a team cannot edit its namespace): the admission
# policies' bindings select app namespaces by it.
APP_NAMESPACE_LABEL = platform_label("app-namespace")
# On an app namespace with a configured mTLS exception (nonprod only): the STRICT admission check skips it.
MTLS_EXCEPTION_LABEL = platform_label("mtls-exception")

# Every app namespace's default-deny AuthorizationPolicy (empty spec): platform-owned, kept by admission.
DEFAULT_DENY_POLICY = "allow-nothing"

NETWORKING_ISTIO = "networking.istio.io"
SECURITY_ISTIO = "security.istio.io"
# Istio kinds a team manages in its own namespace: its routing and who may call it (group, plural, kind).
TEAM_ISTIO_KINDS = (
    (NETWORKING_ISTIO, "virtualservices", "VirtualService"),
    (NETWORKING_ISTIO, "destinationrules", "DestinationRule"),
    (SECURITY_ISTIO, "authorizationpolicies", "AuthorizationPolicy"),
    (SECURITY_ISTIO, "requestauthentications", "RequestAuthentication"),
)
# Istio kinds that move the mesh's perimeter (what enters, what leaves, mTLS, the proxy itself): platform-owned.
PERIMETER_ISTIO_KINDS = (
    (NETWORKING_ISTIO, "serviceentries", "ServiceEntry"),
    (NETWORKING_ISTIO, "gateways", "Gateway"),
    (SECURITY_ISTIO, "peerauthentications", "PeerAuthentication"),
    (NETWORKING_ISTIO, "sidecars", "Sidecar"),
    (NETWORKING_ISTIO, "envoyfilters", "EnvoyFilter"),
    ("extensions.istio.io", "wasmplugins", "WasmPlugin"),
)

# --------------------------------------------------------------------------- gateways

HTTP_PORT = 80
HTTPS_PORT = 443

# The gateway chart names the Deployment, Service and service account after the release.
INGRESS_RELEASE_NAME = "istio-ingressgateway"
INGRESS_GATEWAY_SERVICE_ACCOUNT = INGRESS_RELEASE_NAME
INGRESS_GATEWAY_SELECTOR = {"istio": "ingressgateway"}
EGRESS_RELEASE_NAME = "istio-egressgateway"
EGRESS_GATEWAY_SELECTOR = {"istio": "egressgateway"}
EGRESS_GATEWAY_PORT = HTTPS_PORT  # the egress gateway's only port: TLS passthrough on 443


def injection_label(tag: str) -> dict[str, str]:
    """The namespace label that has the istiod of this revision tag inject sidecars."""
    return {REVISION_LABEL: tag}


def istiod_service(revision: str) -> str:
    """The Service of one revision's istiod (the istiod chart names it ``istiod-<revision>``)."""
    return f"istiod-{revision}"


def revision_tag_webhook_name(tag: str) -> str:
    """The injection webhook of a revision tag, named as ``istioctl tag set`` and the chart name it."""
    return f"istio-revision-tag-{tag}"


def spiffe_principal(trust_domain: str, namespace: str, service_account: str) -> str:
    """The principal string Istio matches in AuthorizationPolicy ``principals`` (no ``spiffe://``)."""
    return f"{trust_domain}/ns/{namespace}/sa/{service_account}"
