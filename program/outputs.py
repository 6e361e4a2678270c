"""The values of the outputs contract (components/platform_outputs.py), per stack role, from the wired components."""

from __future__ import annotations

from typing import Any

from components.aks_cluster import AksCluster
from components.base import PlatformBase
from components.egress_gateway import EgressGateway
from components.ingress_gateway import IngressGateway
from components.istio_mesh import IstioMesh
from components.sealed_secrets import SealedSecrets
from program.foundation import VaultAndKeys
from stack_config import PlatformConfig
from stack_config.previous import stack_settings


def shared_outputs(cfg: PlatformConfig, base: PlatformBase, keys: VaultAndKeys) -> dict[str, Any]:
    """What every stack role exports: where the stack is, its fixed settings, its vault and sealing certificate."""
    return {
        "environment": cfg.environment,
        "environmentClass": cfg.environment_class,
        "location": cfg.location,
        "stackSettings": stack_settings(cfg),
        "resourceGroupName": base.resource_group_name,
        "keyVaultName": keys.vault.vault_name,
        "keyVaultUri": keys.vault.vault_uri,
        "sealingCertificatePem": keys.sealing_key.certificate_pem,
    }


def key_owner_outputs(cfg: PlatformConfig, base: PlatformBase, keys: VaultAndKeys) -> dict[str, Any]:
    """The key owner's: the shared non-prod sealing keys and mesh CA, read by the non-prod environments."""
    return {
        **shared_outputs(cfg, base, keys),
        "sealingKeys": keys.sealing_key.keys,
        "meshRootCertificatePem": keys.mesh_ca.root_certificate_pem,
        "meshIntermediates": keys.mesh_ca.intermediates,
    }


def environment_outputs(
    cfg: PlatformConfig,
    base: PlatformBase,
    keys: VaultAndKeys,
    cluster: AksCluster,
    sealed_secrets: SealedSecrets,
    mesh: IstioMesh,
    edges: tuple[IngressGateway, EgressGateway],
    app_namespace_names: list[str],
) -> dict[str, Any]:
    """An environment's: the cluster, sealed-secrets, the mesh, its edges and the app namespaces."""
    ingress, egress = edges
    return {
        **shared_outputs(cfg, base, keys),
        "clusterName": cluster.cluster_name,
        "clusterId": cluster.cluster_id,
        "kubeconfig": cluster.kubeconfig,
        "oidcIssuerUrl": cluster.oidc_issuer_url,
        "kubeletIdentityObjectId": cluster.kubelet_identity_object_id,
        "kubeletIdentityClientId": cluster.kubelet_identity_client_id,
        "nodeResourceGroup": cluster.node_resource_group,
        "sealedSecretsNamespace": sealed_secrets.namespace,
        "sealedSecretsControllerName": sealed_secrets.controller_name,
        "ingressPublicIp": ingress.public_ip_address,
        "ingressHostnames": ingress.hostnames,
        "meshTrustDomain": mesh.trust_domain,
        "istioRevision": mesh.default_revision,
        "injectionLabel": mesh.injection_label,
        "egressAllowList": egress.allow_list,
        "appNamespaces": app_namespace_names,
    }
