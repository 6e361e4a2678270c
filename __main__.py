"""Platform bootstrap: config in, components wired, outputs out.

Reads like docs/ARCHITECTURE: the validated stack config feeds the Azure foundation, the AKS
cluster and the Key Vault (created in parallel), then everything that runs in the cluster through
the cluster's Kubernetes provider, and finally the outputs contract app teams read.
"""

import pulumi

from components.admission_policies import AdmissionPolicies, AdmissionPoliciesArgs
from components.aks_cluster import AksCluster, AksClusterArgs
from components.alerts import PlatformAlerts, PlatformAlertsArgs
from components.app_namespaces import AppNamespaces, AppNamespacesArgs
from components.app_tenancy import AppTenancy, AppTenancyArgs
from components.base import PlatformBase, PlatformBaseArgs
from components.egress_firewall import EgressFirewall, EgressFirewallArgs
from components.egress_gateway import EgressGateway, EgressGatewayArgs
from components.etcd_encryption import EtcdEncryption, EtcdEncryptionArgs
from components.ingress_gateway import IngressGateway, IngressGatewayArgs
from components.istio_mesh import IstioMesh, IstioMeshArgs
from components.key_vault import KeyVault, KeyVaultArgs
from components.log_retention import LogRetention, LogRetentionArgs
from components.mesh_ca import MeshCa, MeshCaArgs
from components.observability import Observability, ObservabilityArgs
from components.outputs_export import export_outputs
from components.private_endpoints import VaultPrivateEndpoint, VaultPrivateEndpointArgs
from components.runner_peering import RunnerPeering, RunnerPeeringArgs
from components.sealed_secrets import SealedSecrets, SealedSecretsArgs
from components.sealing_key import SealingKey, SealingKeyArgs
from components.stack_settings import checked_stack_settings
from stack_config import NetworkConfig, PlatformConfig, load_config
from stack_config.previous import stack_settings


def platform_base(cfg: PlatformConfig, network: NetworkConfig | None) -> PlatformBase:
    """Resource group, workspace and (for an environment) the node network; the stack's tags, computed once."""
    return PlatformBase(
        "core",
        PlatformBaseArgs(
            environment=cfg.environment,
            resource_prefix=cfg.resource_prefix,
            location=cfg.location,
            log_retention_days=cfg.cluster.log_retention_days,
            tags=cfg.tags,
            network=network,
            # Nothing is placed before the stack's fixed settings are checked against its last update.
            settings_checked=checked_stack_settings(cfg),
            # The same stacks whose vault and keys are protected (key_vault_and_sealing_key).
            protect=cfg.is_prod or cfg.stack_role == "sealingKeyOwner",
            # Behind the program's own firewall the ingress is reached through its DNAT, with no IP of its own.
            ingress_ip_group=network is not None and not own_firewall(network),
        ),
    )


def own_firewall(network: NetworkConfig) -> bool:
    """The program builds the egress firewall (in its own VNet; an existing subnet has someone else's)."""
    return network.egress_firewall and not network.existing_subnet_id


def key_vault_and_sealing_key(
    cfg: PlatformConfig, base: PlatformBase
) -> tuple[KeyVault, SealingKey, VaultPrivateEndpoint | None, MeshCa]:
    """The environment's vault (private endpoint when public access is off) and the keys kept in it: sealing
    key(s) and mesh CA (generated, or from the owner)."""
    # The shared non-prod key lives only in the owner's vault: protect it like prod.
    protect = cfg.is_prod or cfg.stack_role == "sealingKeyOwner"
    vault = KeyVault(
        "vault",
        KeyVaultArgs(
            config=cfg.key_vault,
            resource_prefix=cfg.resource_prefix,
            location=cfg.location,
            is_prod=cfg.is_prod,
            deployer_principal_type=cfg.deployer_principal_type,
            resource_group_name=base.resource_group_name,
            log_analytics_workspace_id=base.log_analytics_workspace_id,
            # The nodes read the ingress certificate from the vault (Key Vault CSI driver).
            network_subnet_ids=[base.node_subnet_id] if base.node_subnet_id is not None else [],
            protect=protect,
            tags=base.tags,
        ),
    )
    endpoint = vault_private_endpoint(cfg, base, vault) if cfg.key_vault.public_network_access == "Disabled" else None
    sealing_key = SealingKey(
        "sealing-key",
        SealingKeyArgs(
            config=cfg.sealed_secrets,
            resource_prefix=cfg.resource_prefix,
            resource_group_name=base.resource_group_name,
            vault_name=vault.vault_name,
            protect=protect,
            tags=base.tags,
            depends_on=[vault.writer_role_assignment, *(endpoint.ready if endpoint else [])],
        ),
    )
    mesh_ca = MeshCa(
        "mesh-ca",
        MeshCaArgs(
            config=cfg.mesh_ca,
            environment=cfg.environment,
            resource_prefix=cfg.resource_prefix,
            resource_group_name=base.resource_group_name,
            vault_name=vault.vault_name,
            protect=protect,
            tags=base.tags,
            depends_on=[vault.writer_role_assignment, *(endpoint.ready if endpoint else [])],
        ),
    )
    return vault, sealing_key, endpoint, mesh_ca


def vault_private_endpoint(cfg: PlatformConfig, base: PlatformBase, vault: KeyVault) -> VaultPrivateEndpoint:
    """The vault's only way in when public access is off: a private endpoint in the cluster VNet."""
    net = cfg.cluster.network
    existing = net.existing_subnet_id
    vnet_id = existing.rsplit("/subnets/", 1)[0] if existing else base.vnet_id
    assert vnet_id is not None  # config validation: a private vault needs an environment stack's network
    return VaultPrivateEndpoint(
        "vault-pe",
        VaultPrivateEndpointArgs(
            resource_prefix=cfg.resource_prefix,
            location=cfg.location,
            resource_group_name=base.resource_group_name,
            vault_id=vault.vault_id,
            virtual_network_id=vnet_id,
            virtual_network_name=base.vnet_name,
            subnet_cidr=None if existing else net.private_endpoint_subnet_cidr,
            existing_subnet_id=existing,
            linked_vnet_ids=[net.runner_vnet_id] if net.runner_vnet_id else [],
            tags=base.tags,
            depends_on=[base.node_subnet] if base.node_subnet is not None else [],
        ),
    )


def outbound_path(
    cfg: PlatformConfig, base: PlatformBase, vault: KeyVault, endpoint: VaultPrivateEndpoint | None
) -> tuple[EgressFirewall | None, list[pulumi.Resource]]:
    """The firewall on the nodes' way out and the runners' way in; the cluster waits for both (its ``depends_on``)."""
    net = cfg.cluster.network
    firewall = None
    ready: list[pulumi.Resource] = []
    if own_firewall(net) and base.route_table_name is not None and base.vnet_name is not None:
        earlier_subnets = [r for r in (base.node_subnet, endpoint.subnet if endpoint else None) if r is not None]
        firewall = EgressFirewall(
            "egress-fw",
            EgressFirewallArgs(
                config=net,
                egress=cfg.egress,
                resource_prefix=cfg.resource_prefix,
                location=cfg.location,
                resource_group_name=base.resource_group_name,
                log_analytics_workspace_id=base.log_analytics_workspace_id,
                virtual_network_name=base.vnet_name,
                route_table_name=base.route_table_name,
                private_cluster=cfg.cluster.private_cluster,
                is_prod=cfg.is_prod,
                availability_zones=cfg.cluster.system_pool.availability_zones,
                # A public vault is reached by the CSI driver over its public name, through the firewall.
                node_fqdns=[] if endpoint else [vault.vault_uri.apply(vault_host)],
                tags=base.tags,
                depends_on=earlier_subnets,
            ),
        )
        ready += firewall.ready
    if net.runner_vnet_id and base.vnet_name is not None and base.vnet_id is not None:
        peering = RunnerPeering(
            "runners",
            RunnerPeeringArgs(
                resource_group_name=base.resource_group_name,
                virtual_network_name=base.vnet_name,
                virtual_network_id=base.vnet_id,
                runner_vnet_id=net.runner_vnet_id,
            ),
        )
        ready += peering.ready
    return firewall, ready


def vault_host(uri: str) -> str:
    return uri.removeprefix("https://").split("/", 1)[0]


def sealing_key_owner(cfg: PlatformConfig) -> None:
    """The stack that owns the one sealing key every non-production environment shares."""
    base = platform_base(cfg, network=None)
    vault, sealing_key, _, mesh_ca = key_vault_and_sealing_key(cfg, base)
    export_outputs(
        "sealingKeyOwner",
        {
            "environment": cfg.environment,
            "environmentClass": cfg.environment_class,
            "location": cfg.location,
            "stackSettings": stack_settings(cfg),
            "resourceGroupName": base.resource_group_name,
            "keyVaultName": vault.vault_name,
            "keyVaultUri": vault.vault_uri,
            "sealingCertificatePem": sealing_key.certificate_pem,
            "sealingKeys": sealing_key.keys,
            "meshRootCertificatePem": mesh_ca.root_certificate_pem,
            "meshIntermediates": mesh_ca.intermediates,
        },
    )


def etcd_encryption(
    cfg: PlatformConfig, base: PlatformBase, vault: KeyVault, endpoint: VaultPrivateEndpoint | None
) -> EtcdEncryption:
    """The cluster's KMS key in the environment's vault and the control-plane identity allowed to use it."""
    return EtcdEncryption(
        "etcd-kms",
        EtcdEncryptionArgs(
            resource_prefix=cfg.resource_prefix,
            location=cfg.location,
            resource_group_name=base.resource_group_name,
            vault_name=vault.vault_name,
            vault_id=vault.vault_id,
            premium_vault=cfg.key_vault.sku == "premium",
            tags=base.tags,
            depends_on=endpoint.ready if endpoint else [],
        ),
    )


def edges(
    cfg: PlatformConfig,
    base: PlatformBase,
    cluster: AksCluster,
    vault: KeyVault,
    mesh: IstioMesh,
    in_cluster: pulumi.ResourceOptions,
    firewall: EgressFirewall | None,
) -> tuple[IngressGateway, EgressGateway]:
    """The mesh's two edges: the public ingress (static IP or the firewall's DNAT) and the one exit."""
    ingress = IngressGateway(
        "ingress",
        IngressGatewayArgs(
            config=cfg.ingress,
            istio_version=cfg.istio.tag_version(mesh.default_tag),
            revision_tag=mesh.default_tag,
            istiod_revisions=mesh.revisions,
            resource_prefix=cfg.resource_prefix,
            location=cfg.location,
            is_prod=cfg.is_prod,
            cluster_identity_principal_id=cluster.identity_principal_id,
            tags=base.tags,
            availability_zones=cfg.cluster.user_pool.availability_zones,
            app_namespaces=cfg.app_namespaces,
            depends_on=mesh.ready,
            istiod_namespace=mesh.root_namespace,
            key_vault_name=vault.vault_name,
            key_vault_id=vault.vault_id,
            tenant_id=cluster.tenant_id,
            secrets_provider_client_id=cluster.secrets_provider_client_id,
            secrets_provider_object_id=cluster.secrets_provider_object_id,
            internal_address=cfg.cluster.network.ingress_private_ip if firewall else None,
            firewall_public_ip=firewall.public_ip_address if firewall else None,
            ip_resource_group_name=base.ingress_ip_resource_group_name,
        ),
        opts=in_cluster,
    )
    egress = EgressGateway(
        "egress",
        EgressGatewayArgs(
            config=cfg.egress,
            istio_version=cfg.istio.tag_version(mesh.default_tag),
            revision_tag=mesh.default_tag,
            istiod_revisions=mesh.revisions,
            is_prod=cfg.is_prod,
            app_namespaces=cfg.app_namespaces,
            depends_on=mesh.ready,
            istiod_namespace=mesh.root_namespace,
        ),
        opts=in_cluster,
    )
    return ingress, egress


def observability(
    cfg: PlatformConfig,
    base: PlatformBase,
    cluster: AksCluster,
    vault: KeyVault,
    sealing_key: SealingKey,
    sealed_secrets: SealedSecrets,
    mesh: IstioMesh,
    in_cluster: pulumi.ResourceOptions,
) -> None:
    """Logs and metrics collected, security tables kept, and alerts on what matters (docs/observability.md)."""
    obs = cfg.observability
    mesh_namespaces = [mesh.root_namespace, cfg.ingress.namespace, cfg.egress.namespace]
    collection = Observability(
        "observability",
        ObservabilityArgs(
            config=obs,
            resource_prefix=cfg.resource_prefix,
            location=cfg.location,
            resource_group_name=base.resource_group_name,
            log_analytics_workspace_id=base.log_analytics_workspace_id,
            cluster_id=cluster.cluster_id,
            collected_namespaces=[
                *mesh_namespaces,
                cfg.sealed_secrets.namespace,
                *(ns.name for ns in cfg.app_namespaces),
            ],
            scraped_namespaces=[*mesh_namespaces, *(ns.name for ns in cfg.app_namespaces if ns.prometheus_scrape)],
            tags=base.tags,
        ),
        opts=in_cluster,
    )
    LogRetention(
        "log-retention",
        LogRetentionArgs(
            config=obs,
            interactive_retention_days=cfg.cluster.log_retention_days,
            resource_prefix=cfg.resource_prefix,
            location=cfg.location,
            is_prod=cfg.is_prod,
            resource_group_name=base.resource_group_name,
            workspace_name=base.log_analytics_workspace_name,
            tags=base.tags,
        ),
    )
    certificates = {f"sealing-key-gen{p.generation}": p.certificate_pem for p in sealing_key.key_pairs}
    if cfg.ingress.tls_certificate_pem is not None:
        certificates["ingress"] = cfg.ingress.tls_certificate_pem
    PlatformAlerts(
        "alerts",
        PlatformAlertsArgs(
            config=obs,
            resource_prefix=cfg.resource_prefix,
            location=cfg.location,
            resource_group_name=base.resource_group_name,
            log_analytics_workspace_id=base.log_analytics_workspace_id,
            monitor_workspace_id=collection.monitor_workspace_id,
            cluster_name=cluster.cluster_name,
            sealed_secrets_namespace=cfg.sealed_secrets.namespace,
            sealed_secrets_controller=sealed_secrets.controller_name,
            sealing_key_secret_prefix=sealed_secrets.key_secret_prefix,
            certificates=certificates,
            # The deployer writes the keys; the CSI add-on reads the ingress certificate.
            key_vault_readers=[vault.writer_role_assignment.principal_id, cluster.secrets_provider_object_id],
            egress_namespace=cfg.egress.namespace,
            istiod_namespace=mesh.root_namespace,
            tags=base.tags,
        ),
    )


def environment(cfg: PlatformConfig) -> None:
    """One environment: cluster, vault, sealed-secrets, mesh, edges and app namespaces."""
    base = platform_base(cfg, network=cfg.cluster.network)
    vault, sealing_key, endpoint, mesh_ca = key_vault_and_sealing_key(cfg, base)
    firewall, network_ready = outbound_path(cfg, base, vault, endpoint)
    # Without KMS the cluster and the vault do not depend on each other: Pulumi creates them in parallel.
    # With it (prod), the cluster waits for its key and its identity's access to it.
    kms = etcd_encryption(cfg, base, vault, endpoint) if cfg.cluster.etcd_encryption else None
    cluster = AksCluster(
        "aks",
        AksClusterArgs(
            config=cfg.cluster,
            resource_prefix=cfg.resource_prefix,
            location=cfg.location,
            is_prod=cfg.is_prod,
            resource_group_name=base.resource_group_name,
            log_analytics_workspace_id=base.log_analytics_workspace_id,
            tags=base.tags,
            node_subnet_id=base.node_subnet_id,
            depends_on=network_ready,
            audit_reads=cfg.observability.audit_reads,
            kms=kms.settings if kms else None,
        ),
    )

    # Everything below runs in the cluster, through the provider built from its Entra ID credentials.
    in_cluster = pulumi.ResourceOptions(providers=[cluster.k8s_provider])
    sealed_secrets = SealedSecrets(
        "sealed-secrets",
        SealedSecretsArgs(
            config=cfg.sealed_secrets,
            keys=sealing_key.key_pairs,
        ),
        opts=in_cluster,
    )
    mesh = IstioMesh(
        "mesh",
        IstioMeshArgs(
            config=cfg.istio,
            is_prod=cfg.is_prod,
            gateway_namespaces=(cfg.ingress.namespace, cfg.egress.namespace),
            plugin_ca=mesh_ca.plugin_ca,
        ),
        opts=in_cluster,
    )
    ingress, egress = edges(cfg, base, cluster, vault, mesh, in_cluster, firewall)
    observability(cfg, base, cluster, vault, sealing_key, sealed_secrets, mesh, in_cluster)
    app_namespaces = AppNamespaces(
        "apps",
        AppNamespacesArgs(
            config=cfg.app_namespaces,
            default_tag=mesh.default_tag,
            istiod_revisions=mesh.revisions,
            trust_domain=mesh.trust_domain,
            ingress_namespace=cfg.ingress.namespace,
            egress_namespace=cfg.egress.namespace,
            depends_on=mesh.ready,
            istiod_namespace=mesh.root_namespace,
            mtls_exception_namespaces=frozenset(e.namespace for e in cfg.istio.mtls_exceptions),
        ),
        opts=in_cluster,
    )
    # The pack's workload and mesh rules, enforced by the API server for whatever deploys into app namespaces.
    AdmissionPolicies("admission", AdmissionPoliciesArgs(depends_on=mesh.ready), opts=in_cluster)
    # Each team's access, Istio Roles, quota and limits, in its own namespace only.
    AppTenancy(
        "tenancy",
        AppTenancyArgs(
            config=cfg.app_namespaces,
            cluster_id=cluster.cluster_id,
            namespaces=app_namespaces.namespaces,
        ),
        opts=in_cluster,
    )

    export_outputs(
        "environment",
        {
            "environment": cfg.environment,
            "environmentClass": cfg.environment_class,
            "location": cfg.location,
            "stackSettings": stack_settings(cfg),
            "resourceGroupName": base.resource_group_name,
            "clusterName": cluster.cluster_name,
            "clusterId": cluster.cluster_id,
            "kubeconfig": cluster.kubeconfig,
            "oidcIssuerUrl": cluster.oidc_issuer_url,
            "kubeletIdentityObjectId": cluster.kubelet_identity_object_id,
            "kubeletIdentityClientId": cluster.kubelet_identity_client_id,
            "nodeResourceGroup": cluster.node_resource_group,
            "keyVaultName": vault.vault_name,
            "keyVaultUri": vault.vault_uri,
            "sealingCertificatePem": sealing_key.certificate_pem,
            "sealedSecretsNamespace": sealed_secrets.namespace,
            "sealedSecretsControllerName": sealed_secrets.controller_name,
            "ingressPublicIp": ingress.public_ip_address,
            "ingressHostnames": ingress.hostnames,
            "meshTrustDomain": mesh.trust_domain,
            "istioRevision": mesh.default_revision,
            "injectionLabel": mesh.injection_label,
            "egressAllowList": egress.allow_list,
            "appNamespaces": app_namespaces.namespace_names,
        },
    )


# Validation runs first: a bad config stops here, before any resource is registered.
config = load_config()
if config.stack_role == "sealingKeyOwner":
    sealing_key_owner(config)
else:
    environment(config)
