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

The values, PeerAuthentications and tag webhooks are built by plain functions in
:mod:`components.istio_specs`, so tests and policies can read exactly what the charts receive.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components import k8s_netpol as netpol
from components.istio_specs import (
    base_values,
    cni_values,
    istiod_values,
    peer_authentications,
    revision_tag_webhook,
)
from components.key_material import CACERTS_SECRET, PluginCa
from components.mesh_names import (
    ISTIO_CHART_REPO,
    KUBE_SYSTEM_NAMESPACE,
    MONITORING_PORT,
    NAMESPACE_NAME_LABEL,
    REVISION_LABEL,
    ROOT_NAMESPACE,
    WEBHOOK_PORT,
    XDS_PORT,
    injection_label,
)
from components.registered_outputs import register_attributes
from stack_config import IstioConfig

BASE_RELEASE_NAME = "istio-base"
CNI_RELEASE_NAME = "istio-cni"


def istiod_release_name(revision: str) -> str:
    """One Helm release per revision: ``istiod-1-30-3`` (the chart names its own objects the same way)."""
    return f"istiod-{revision}"


@dataclass(frozen=True)
class IstioMeshArgs:
    """Inputs of :class:`IstioMesh`: the ``istio`` config section."""

    config: IstioConfig
    is_prod: bool
    # Gateway namespaces (ingress, egress): their proxies need xDS even if not labelled for injection.
    gateway_namespaces: tuple[str, ...] = ()
    # MeshCa.plugin_ca: this cluster's intermediate CA; None leaves istiod to make a self-signed root.
    plugin_ca: PluginCa | None = None


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

        register_attributes(
            self, "revisions", "default_tag", "default_revision", "root_namespace", "trust_domain", "injection_label"
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
            cni_values(),
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
                istiod_values(args.config, args.is_prod, revision.name),
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
