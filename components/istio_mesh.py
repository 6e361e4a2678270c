"""IstioMesh: the Istio control plane (official Helm charts, pinned) and the mesh-wide security policy.

What it installs, in dependency order:

1. the ``istio-system`` namespace, created explicitly (labels for Pod Security Admission);
2. the ``base`` chart (CRDs, default validating webhook pointed at the default tag's revision);
3. the ``cni`` chart (the Istio CNI node agent sets up traffic redirection, so application pods
   need no ``NET_ADMIN``/``NET_RAW`` init container and their namespaces can enforce a Pod
   Security level);
4. with a plug-in CA (``IstioMeshArgs.plugin_ca``, from ``MeshCa``), the ``cacerts`` Secret istiod signs
   workload certificates with, created before any istiod starts (an istiod that starts without it makes its
   own self-signed root in the cluster);
5. one ``istiod`` chart release per installed revision (``istiod-<revision>``, chart version = that
   revision's Istio release), so adding a canary revision never touches the stable one; each with
   REGISTRY_ONLY egress, JSON access logs, short-lived workload certificates capped by a
   maximum TTL, path normalization and closed debug endpoints;
6. one revision-tag MutatingWebhookConfiguration per tag (``istio-revision-tag-<tag>``): namespaces
   carry the tag (``istio.io/rev: stable``), so moving a tag to another revision is one in-place
   update of this object plus a rolling restart, never a relabelling;
7. the mesh-wide ``PeerAuthentication`` ``default`` with ``mtls.mode: STRICT`` in the root
   namespace, set explicitly (the built-in default is PERMISSIVE), plus the configured
   non-production exceptions;
8. NetworkPolicies in ``istio-system``: ingress denied except what the mesh needs, to the istiod
   pods of every installed revision.

The values are built by plain functions (``istiod_values`` ...) so tests and policies can read
exactly what the chart receives.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components import k8s_netpol as netpol
from components.key_material import CACERTS_SECRET, PluginCa
from components.mesh_names import (
    INJECTED_POD_LABEL,
    ISTIO_CHART_REPO,
    KUBE_SYSTEM_NAMESPACE,
    MONITORING_PORT,
    NAMESPACE_NAME_LABEL,
    REVISION_LABEL,
    REVISION_TAG_LABEL,
    ROOT_NAMESPACE,
    WEBHOOK_PORT,
    XDS_PORT,
    injection_label,
    istiod_service,
    revision_tag_webhook_name,
)
from stack_config import IstioConfig, MtlsException

BASE_RELEASE_NAME = "istio-base"
CNI_RELEASE_NAME = "istio-cni"
# The istiod chart's injector serves here (values.yaml istiodRemote.injectionPath at 1.29.6 and 1.30.3).
INJECTION_PATH = "/inject"


def istiod_release_name(revision: str) -> str:
    """One Helm release per revision: ``istiod-1-30-3`` (the chart names its own objects the same way)."""
    return f"istiod-{revision}"


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


@dataclass(frozen=True)
class IstioMeshArgs:
    """Inputs of :class:`IstioMesh`: the ``istio`` config section."""

    config: IstioConfig
    is_prod: bool
    # Gateway namespaces (ingress, egress): their proxies need xDS even if not labelled for injection.
    gateway_namespaces: tuple[str, ...] = ()
    # MeshCa.plugin_ca: this cluster's intermediate CA; None leaves istiod to make a self-signed root.
    plugin_ca: PluginCa | None = None


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


def cni_values(istio: IstioConfig) -> dict[str, Any]:
    # Chart defaults otherwise: chained after the cluster's own CNI (Azure CNI / Cilium), never replacing it
    # (cni.chained: true, /etc/cni/net.d and /opt/cni/bin are AKS's paths; AKS has no global.platform profile).
    return {"global": {"logAsJson": True}}


def istiod_values(args: IstioMeshArgs, revision: str) -> dict[str, Any]:
    """The values of one revision's istiod release (every revision is configured alike)."""
    istio = args.config
    prod = args.is_prod
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
            "defaultPodDisruptionBudget": {"enabled": prod},
            "proxy": {
                "privileged": False,
                # Syscall filter on every injected istio-proxy and istio-validation container (the injector
                # sets none by default), so app pods pass Pod Security `restricted` without extra settings.
                "seccompProfile": {"type": "RuntimeDefault"},
            },
        },
        "pilot": {
            "autoscaleEnabled": prod,
            "autoscaleMin": 2 if prod else 1,
            "autoscaleMax": 5 if prod else 1,
            "replicaCount": 2 if prod else 1,
            "resources": {
                "requests": {"cpu": "500m" if prod else "100m", "memory": "2Gi" if prod else "512Mi"},
                "limits": {"cpu": "2", "memory": "4Gi" if prod else "2Gi"},
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


# --------------------------------------------------------------------------- the component


class IstioMesh(pulumi.ComponentResource):
    """Istio control plane and mesh-wide STRICT mTLS (see the module docstring)."""

    revisions: tuple[str, ...]
    default_tag: str
    default_revision: str
    root_namespace: str
    trust_domain: str
    injection_label: dict[str, str]
    base_release: k8s.helm.v3.Release
    cni_release: k8s.helm.v3.Release
    istiod_releases: dict[str, k8s.helm.v3.Release]
    revision_tags: dict[str, k8s.admissionregistration.v1.MutatingWebhookConfiguration]
    cacerts: k8s.core.v1.Secret | None
    ready: list[pulumi.Resource]
    peer_authentications: list[k8s.apiextensions.CustomResource]
    network_policies: list[k8s.networking.v1.NetworkPolicy]

    def __init__(self, name: str, args: IstioMeshArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("platform:istio:Mesh", name, None, opts)
        istio = args.config
        self.revisions = istio.revision_names
        self.default_tag = istio.default_tag
        self.default_revision = istio.default_revision
        self.root_namespace = ROOT_NAMESPACE
        self.trust_domain = istio.trust_domain
        # Namespaces a team may create itself join through the default tag, never a versioned revision.
        self.injection_label = injection_label(istio.default_tag)

        namespace = k8s.core.v1.Namespace(
            f"{name}-istio-system",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=ROOT_NAMESPACE,
                labels={
                    # The CNI DaemonSet needs hostPath volumes; nothing else may be deployed here.
                    "pod-security.kubernetes.io/enforce": "privileged",
                    "pod-security.kubernetes.io/enforce-version": "latest",
                    # Report any pod that would not pass the restricted level.
                    "pod-security.kubernetes.io/warn": "restricted",
                    "pod-security.kubernetes.io/audit": "restricted",
                },
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.cacerts = self._cacerts(name, args.plugin_ca, namespace) if args.plugin_ca else None
        self._control_plane(name, args, namespace)
        self.revision_tags = self._revision_tags(name, istio)
        self.ready = [self.base_release, self.cni_release, *self.istiod_releases.values(), *self.revision_tags.values()]
        self.peer_authentications = self._peer_authentications(name, istio)
        self.network_policies = self._system_network_policies(name, args, namespace)

        self.register_outputs(
            {
                "revisions": self.revisions,
                "default_tag": self.default_tag,
                "default_revision": self.default_revision,
                "root_namespace": self.root_namespace,
                "trust_domain": self.trust_domain,
                "injection_label": self.injection_label,
            }
        )

    # ---------------------------------------------------------------- the charts

    def _cacerts(self, name: str, ca: PluginCa, namespace: k8s.core.v1.Namespace) -> k8s.core.v1.Secret:
        """istiod's plug-in CA: the intermediate (key secret), the root and the chain, read at start-up."""
        return k8s.core.v1.Secret(
            f"{name}-cacerts",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=CACERTS_SECRET,
                namespace=namespace.metadata.name,
                labels={"app.kubernetes.io/managed-by": "pulumi"},
            ),
            type="Opaque",
            string_data=ca.secret_data(),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[namespace]),
        )

    def _release(
        self,
        resource: str,
        release_name: str,
        chart: str,
        version: str,
        values: dict,
        namespace: k8s.core.v1.Namespace,
        after: list[pulumi.Resource],
    ) -> k8s.helm.v3.Release:
        return k8s.helm.v3.Release(
            resource,
            k8s.helm.v3.ReleaseArgs(
                name=release_name,
                chart=chart,
                version=version,  # pinned: an upgrade is a reviewed config change
                namespace=namespace.metadata.name,
                repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=ISTIO_CHART_REPO),
                values=values,
                # A failed install or upgrade is rolled back rather than left half-applied.
                atomic=True,
                cleanup_on_fail=True,
                max_history=10,
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[namespace, *after]),
        )

    def _control_plane(self, name: str, args: IstioMeshArgs, namespace: k8s.core.v1.Namespace) -> None:
        """base (CRDs), then the CNI node agent, then one istiod per revision.

        base and cni are cluster-wide singletons shared by every revision. base follows the newest installed
        revision: Istio's Helm canary upgrade updates it first, so the CRDs know the new istiod's fields ("Upgrade
        the Istio base chart to ensure all cluster-wide resources are up-to-date", istio.io, Upgrade with Helm).
        cni follows the default tag's revision, so adding a canary changes nothing on the nodes; it moves with
        the stable tag, which config validation keeps within the CNI's supported skew ("The CNI plugin at
        version 1.x is compatible with control plane at version 1.x-1, 1.x, and 1.x+1", istio.io, Istio CNI).
        """
        istio = args.config
        self.base_release = self._release(
            f"{name}-base", BASE_RELEASE_NAME, "base", istio.newest_version, base_values(istio), namespace, []
        )
        self.cni_release = self._release(
            f"{name}-cni",
            CNI_RELEASE_NAME,
            "cni",
            istio.version_of(istio.default_revision),
            cni_values(istio),
            namespace,
            [self.base_release],
        )
        # Named after the revision, so adding a revision adds a resource and removing one deletes only that one.
        self.istiod_releases = {
            revision.name: self._release(
                f"{name}-istiod-{revision.name}",
                istiod_release_name(revision.name),
                "istiod",
                revision.version,
                istiod_values(args, revision.name),
                namespace,
                # Every istiod waits for cacerts: it picks its CA once, at start-up.
                [self.base_release, self.cni_release, *([self.cacerts] if self.cacerts else [])],
            )
            for revision in istio.revisions
        }

    def _revision_tags(
        self, name: str, istio: IstioConfig
    ) -> dict[str, k8s.admissionregistration.v1.MutatingWebhookConfiguration]:
        """One injection webhook per tag, after the istiod it calls (a webhook without its Service fails pods)."""
        tags = {}
        for tag, revision in istio.tags:
            obj = revision_tag_webhook(tag, revision)
            tags[tag] = k8s.admissionregistration.v1.MutatingWebhookConfiguration(
                f"{name}-revision-tag-{tag}",
                metadata=obj["metadata"],
                webhooks=obj["webhooks"],
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.istiod_releases[revision]]),
            )
        return tags

    # ---------------------------------------------------------------- mesh policy

    def _peer_authentications(self, name: str, istio: IstioConfig) -> list[k8s.apiextensions.CustomResource]:
        resources = []
        for obj in peer_authentications(istio):
            meta = obj["metadata"]
            resource_name = (
                f"{name}-peer-authentication-default"
                if meta["namespace"] == ROOT_NAMESPACE
                else f"{name}-{meta['namespace']}-{meta['name']}"
            )
            resources.append(
                k8s.apiextensions.CustomResource(
                    resource_name,
                    api_version=obj["apiVersion"],
                    kind=obj["kind"],
                    metadata=k8s.meta.v1.ObjectMetaArgs(name=meta["name"], namespace=meta["namespace"]),
                    spec=obj["spec"],
                    opts=pulumi.ResourceOptions(parent=self, depends_on=self.ready),
                )
            )
        return resources

    # ---------------------------------------------------------------- istio-system NetworkPolicies

    def _system_network_policies(
        self, name: str, args: IstioMeshArgs, namespace: k8s.core.v1.Namespace
    ) -> list[k8s.networking.v1.NetworkPolicy]:
        opts = pulumi.ResourceOptions(parent=self, depends_on=[namespace])
        ns = namespace.metadata.name
        istio = args.config
        rules = [
            # Injection and validation webhooks are called by the API server (through kube-system on AKS).
            k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                from_=[netpol.labelled_namespaces_peer({NAMESPACE_NAME_LABEL: KUBE_SYSTEM_NAMESPACE})],
                ports=[netpol.tcp(WEBHOOK_PORT)],
            ),
            # xDS + certificate signing over mTLS, only from meshed namespaces (labelled with a tag) and the
            # gateways. The plaintext xDS port 15010 and the debug port 8080 are deliberately not opened.
            k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                from_=[netpol.label_in_namespaces_peer(REVISION_LABEL, istio.tag_names)]
                + ([netpol.namespaces_peer(args.gateway_namespaces)] if args.gateway_namespaces else []),
                ports=[netpol.tcp(XDS_PORT)],
            ),
            # istiod's metrics (CA issuance and expiry, push errors), plaintext, for the managed scraper only.
            k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                from_=[netpol.metrics_scraper_peer()],
                ports=[netpol.tcp(MONITORING_PORT)],
            ),
        ]
        return [
            # Nothing reaches istio-system unless a rule below says so (egress stays open: istiod
            # talks to the API server and fetches JWKS from issuers outside the cluster).
            netpol.network_policy(
                f"{name}-system-default-deny",
                ns,
                "default-deny-ingress",
                None,
                ingress=[],
                opts=opts,
            ),
            # Every installed revision's istiod: during an upgrade, pods not yet restarted keep the old one.
            netpol.network_policy(
                f"{name}-system-allow-istiod",
                ns,
                "allow-istiod",
                netpol.istiod_pod_selector(istio.revision_names),
                ingress=rules,
                opts=opts,
            ),
        ]
