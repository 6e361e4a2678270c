"""The cluster: etcd encryption (prod) and AKS itself.

Without KMS the cluster and the vault do not depend on each other: Pulumi creates them in parallel. With it
(prod), the cluster waits for its key and its identity's access to it.
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi

from components.aks_cluster import AksCluster, AksClusterArgs
from components.base import PlatformBase
from components.egress_firewall import EgressFirewall
from components.etcd_encryption import EtcdEncryption, EtcdEncryptionArgs
from components.key_material import ClusterKms
from program.foundation import VaultAndKeys, placement
from program.upstream import Foundation, Vault
from stack_config import PlatformConfig


def etcd_encryption_args(
    cfg: PlatformConfig, base: Foundation, vault: Vault, depends_on: Sequence[pulumi.Resource]
) -> EtcdEncryptionArgs:
    return EtcdEncryptionArgs(
        placement=placement(cfg, base),
        vault_name=vault.vault_name,
        vault_id=vault.vault_id,
        premium_vault=cfg.key_vault.sku == "premium",
        depends_on=depends_on,
    )


def aks_cluster_args(
    cfg: PlatformConfig,
    base: Foundation,
    depends_on: Sequence[pulumi.Resource],
    kms: ClusterKms | None,
    api_server_subnet_id: pulumi.Input[str] | None = None,
    firewall: EgressFirewall | None = None,
) -> AksClusterArgs:
    return AksClusterArgs(
        config=cfg.cluster,
        placement=placement(cfg, base),
        is_prod=cfg.is_prod,
        log_analytics_workspace_id=base.log_analytics_workspace_id,
        node_subnet_id=base.node_subnet_id,
        depends_on=depends_on,
        audit_reads=cfg.observability.audit_reads,
        kms=kms,
        api_server_subnet_id=api_server_subnet_id,
        # Nodes behind the program's firewall reach a public API server from its addresses.
        firewall_egress_ips=firewall.egress_public_ip_addresses if firewall else None,
    )


def aks_cluster(
    cfg: PlatformConfig,
    base: PlatformBase,
    keys: VaultAndKeys,
    network_ready: Sequence[pulumi.Resource],
    api_server_subnet_id: pulumi.Input[str] | None = None,
    firewall: EgressFirewall | None = None,
) -> AksCluster:
    """The cluster (after its outbound path), with its KMS key in the environment's vault where configured."""
    kms = None
    if cfg.cluster.etcd_encryption:
        # The cluster's key in the environment's vault and the control-plane identity allowed to use it.
        kms = EtcdEncryption("etcd-kms", etcd_encryption_args(cfg, base, keys.vault, keys.endpoint_ready))
    settings = kms.settings if kms else None
    return AksCluster("aks", aks_cluster_args(cfg, base, network_ready, settings, api_server_subnet_id, firewall))
