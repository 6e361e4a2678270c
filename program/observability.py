"""Logs and metrics collected, security tables kept, and alerts on what matters (docs/observability.md)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.aks_cluster import AksCluster
from components.alerts import PlatformAlerts, PlatformAlertsArgs
from components.base import PlatformBase
from components.istio_mesh import IstioMesh
from components.log_retention import LogRetention, LogRetentionArgs
from components.observability import Observability, ObservabilityArgs
from components.sealed_secrets import SealedSecrets
from program.foundation import VaultAndKeys, placement
from stack_config import PlatformConfig


@dataclass(frozen=True)
class Observed:
    """What is watched: the components wired before observability, whose logs, keys and edges it alerts on."""

    base: PlatformBase
    cluster: AksCluster
    keys: VaultAndKeys
    sealed_secrets: SealedSecrets
    mesh: IstioMesh


def observability(cfg: PlatformConfig, observed: Observed, in_cluster: pulumi.ResourceOptions) -> None:
    """Container Insights and managed Prometheus, the retention of the security tables, and the alerts."""
    base = observed.base
    mesh_namespaces = [observed.mesh.root_namespace, cfg.ingress.namespace, cfg.egress.namespace]
    collection = Observability(
        "observability",
        ObservabilityArgs(
            config=cfg.observability,
            placement=placement(cfg, base),
            log_analytics_workspace_id=base.log_analytics_workspace_id,
            cluster_id=observed.cluster.cluster_id,
            collected_namespaces=[
                *mesh_namespaces,
                cfg.sealed_secrets.namespace,
                *(ns.name for ns in cfg.app_namespaces),
            ],
            scraped_namespaces=[*mesh_namespaces, *(ns.name for ns in cfg.app_namespaces if ns.prometheus_scrape)],
        ),
        opts=in_cluster,
    )
    LogRetention(
        "log-retention",
        LogRetentionArgs(
            config=cfg.observability,
            interactive_retention_days=cfg.cluster.log_retention_days,
            placement=placement(cfg, base),
            is_prod=cfg.is_prod,
            workspace_name=base.log_analytics_workspace_name,
        ),
    )
    PlatformAlerts("alerts", alerts_args(cfg, observed, collection))


def alerts_args(cfg: PlatformConfig, observed: Observed, collection: Observability) -> PlatformAlertsArgs:
    """Alerts on sealing-key reads and expiry, certificate expiry, egress denials and mTLS failures."""
    key_pairs = observed.keys.sealing_key.key_pairs
    certificates = {f"sealing-key-gen{p.generation}": p.certificate_pem for p in key_pairs}
    if cfg.ingress.tls_certificate_pem is not None:
        certificates["ingress"] = cfg.ingress.tls_certificate_pem
    return PlatformAlertsArgs(
        config=cfg.observability,
        placement=placement(cfg, observed.base),
        log_analytics_workspace_id=observed.base.log_analytics_workspace_id,
        monitor_workspace_id=collection.monitor_workspace_id,
        cluster_name=observed.cluster.cluster_name,
        sealed_secrets_namespace=cfg.sealed_secrets.namespace,
        sealed_secrets_controller=observed.sealed_secrets.controller_name,
        sealing_key_secret_prefix=observed.sealed_secrets.key_secret_prefix,
        certificates=certificates,
        # The deployer writes the keys; the CSI add-on reads the ingress certificate.
        key_vault_readers=[
            observed.keys.vault.writer_role_assignment.principal_id,
            observed.cluster.secrets_provider_object_id,
        ],
        egress_namespace=cfg.egress.namespace,
        istiod_namespace=observed.mesh.root_namespace,
    )
