"""Platform bootstrap: config in, components wired, outputs out.

Reads like docs/ARCHITECTURE: the validated stack config feeds the Azure foundation, the AKS cluster and
the Key Vault (created in parallel), then everything that runs in the cluster through the cluster's
Kubernetes provider, and finally the outputs contract app teams read. Each area's wiring is in program/.
"""

import pulumi

from components.outputs_export import export_outputs
from components.platform_outputs import ROLE_ENVIRONMENT, ROLE_KEY_OWNER
from program import apps, cluster, foundation, mesh, network, observability, outputs
from stack_config import PlatformConfig, load_config


def sealing_key_owner(cfg: PlatformConfig) -> None:
    """The stack that owns the sealing key and mesh CA every non-production environment shares."""
    base = foundation.platform_base(cfg)
    keys = foundation.vault_and_keys(cfg, base)
    export_outputs(ROLE_KEY_OWNER, outputs.key_owner_outputs(cfg, base, keys))


def environment(cfg: PlatformConfig) -> None:
    """One environment: cluster, vault, sealed-secrets, mesh, edges and app namespaces."""
    base = foundation.platform_base(cfg)
    keys = foundation.vault_and_keys(cfg, base)
    firewall, network_ready, api_server_subnet_id = network.outbound_path(cfg, base, keys)
    aks = cluster.aks_cluster(cfg, base, keys, network_ready, api_server_subnet_id, firewall)

    # Everything below runs in the cluster, through the provider built from its Entra ID credentials.
    in_cluster = pulumi.ResourceOptions(providers=[aks.k8s_provider])
    sealed_secrets = mesh.sealed_secrets(cfg, keys, in_cluster)
    istio = mesh.istio_mesh(cfg, keys, in_cluster)
    edges = mesh.edges(cfg, base, aks, keys.vault, istio, firewall, in_cluster)
    observed = observability.Observed(base, aks, keys, sealed_secrets, istio)
    observability.observability(cfg, observed, in_cluster)
    namespaces = apps.app_namespaces(cfg, istio, aks.cluster_id, in_cluster)

    export_outputs(
        ROLE_ENVIRONMENT,
        outputs.environment_outputs(cfg, base, keys, aks, sealed_secrets, istio, edges, namespaces.namespace_names),
    )


# Validation runs first: a bad config stops here, before any resource is registered.
config = load_config()
if config.stack_role == ROLE_KEY_OWNER:
    sealing_key_owner(config)
else:
    environment(config)
