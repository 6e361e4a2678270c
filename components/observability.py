"""Observability: container logs to Log Analytics, metrics to managed Prometheus, and the agents' in-cluster config.

1. **Container Insights.** The AKS ``omsagent`` add-on (managed identity, components/aks_cluster.py) runs
   the ``ama-logs`` agent; this component gives it its data collection rule (DCR) and associates it with
   the cluster. The DCR scopes inventory and performance data to the namespaces that matter (Include);
   container stdout/stderr filtering is the agent ConfigMap's job ("The ConfigMap is primarily used to
   configure data collection of the container logs", learn: container-insights-data-collection-configmap),
   which excludes the platform namespaces nobody investigates and turns environment-variable collection off.
2. **Managed Prometheus.** An Azure Monitor workspace per environment, and the data collection endpoint,
   rule and association that ``az aks update --enable-azure-monitor-metrics`` would create (Microsoft's
   Azure/prometheus-collector ``AddonBicepTemplate``); the cluster's ``azureMonitorProfile.metrics`` runs the
   scraper. Pod-annotation scraping is enabled for the mesh namespaces only (``ama-metrics-settings-configmap``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
from pulumi_azure_native import monitor

from components.azure_placement import AzurePlacement
from components.mesh_names import KUBE_SYSTEM_NAMESPACE
from components.registered_outputs import register_attributes
from stack_config import ObservabilityConfig

# Microsoft's onboarding template names (Docker-Provider onboarding-msi-bicep; prometheus-collector AddonBicepTemplate).
CONTAINER_INSIGHTS_EXTENSION = "ContainerInsightsExtension"
LOG_DESTINATION = "ciworkspace"
PROMETHEUS_DESTINATION = "MonitoringAccount1"
PROMETHEUS_STREAM = "Microsoft-PrometheusMetrics"
# Container Insights streams: ContainerLogV2 (the JSON access logs as dynamic LogMessage), events, pod and node
# inventory (istiod availability, node image age), performance. Not the legacy ContainerLog (v1) duplicate.
CONTAINER_INSIGHTS_STREAMS = (
    "Microsoft-ContainerLogV2",
    "Microsoft-KubeEvents",
    "Microsoft-KubePodInventory",
    "Microsoft-KubeNodeInventory",
    "Microsoft-KubeServices",
    "Microsoft-KubeMonAgentEvents",
    "Microsoft-InsightsMetrics",
    "Microsoft-ContainerNodeInventory",
    "Microsoft-Perf",
)
# The agent's own ConfigMaps (fixed names, read from kube-system).
AGENT_CONFIG_MAP = "container-azm-ms-agentconfig"
METRICS_SETTINGS_CONFIG_MAP = "ama-metrics-settings-configmap"
# Platform namespaces whose container logs nobody investigates (the agent's default excludes the first two).
LOG_EXCLUDED_NAMESPACES = (
    "kube-system",
    "gatekeeper-system",
    "kube-public",
    "kube-node-lease",
    "calico-system",
    "tigera-operator",
    "app-routing-system",
)


@dataclass(frozen=True)
class ObservabilityArgs:
    """Inputs of :class:`Observability`: the ``observability`` config section and what it observes."""

    config: ObservabilityConfig
    placement: AzurePlacement
    log_analytics_workspace_id: pulumi.Input[str]
    cluster_id: pulumi.Input[str]  # AksCluster.cluster_id: both rules are associated with it
    # Namespaces whose inventory, events and performance data matter: the mesh's, the controller's, the apps'.
    collected_namespaces: Sequence[str]
    # Namespaces whose pods (with prometheus.io annotations) the managed scraper reads.
    scraped_namespaces: Sequence[str]


def container_insights_settings(cfg: ObservabilityConfig, namespaces: Sequence[str]) -> dict:
    """The DCR's ContainerInsights extension settings (keys as in Microsoft's onboarding parameter file)."""
    return {
        "dataCollectionSettings": {
            "interval": cfg.collection_interval,
            "namespaceFilteringMode": "Include",
            "namespaces": sorted(set(namespaces)),
            "enableContainerLogV2": True,
        }
    }


def agent_log_settings() -> str:
    """``log-data-collection-settings`` of the agent ConfigMap (TOML, Microsoft's template layout)."""
    excluded = ", ".join(f'"{ns}"' for ns in LOG_EXCLUDED_NAMESPACES)
    return "\n".join(
        [
            "[log_collection_settings]",
            "   [log_collection_settings.stdout]",
            "      enabled = true",
            f"      exclude_namespaces = [{excluded}]",
            "   [log_collection_settings.stderr]",
            "      enabled = true",
            f"      exclude_namespaces = [{excluded}]",
            # Environment variables often carry connection strings and tokens: never copy them to the workspace.
            "   [log_collection_settings.env_var]",
            "      enabled = false",
            "   [log_collection_settings.enrich_container_logs]",
            "      enabled = false",
            "   [log_collection_settings.collect_all_kube_events]",
            "      enabled = false",
            "[log_collection_settings.schema]",
            '   containerlog_schema_version = "v2"',
        ]
    )


def scrape_namespace_regex(namespaces: Sequence[str]) -> str:
    """``podannotationnamespaceregex``: exactly these namespaces (anchored, so ``shop`` is not ``shop-2``)."""
    return "^(" + "|".join(sorted(set(namespaces))) + ")$"


class Observability(pulumi.ComponentResource):
    """Container Insights and managed Prometheus for one cluster (see the module docstring)."""

    container_insights_rule_id: pulumi.Output[str]
    monitor_workspace_id: pulumi.Output[str]
    prometheus_rule_id: pulumi.Output[str]
    prometheus_query_endpoint: pulumi.Output[str]

    def __init__(self, name: str, args: ObservabilityArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("platform:monitor:Observability", name, None, opts)
        self._container_insights(name, args)
        self._prometheus(name, args)
        self._agent_config_maps(name, args)
        register_attributes(
            self,
            "container_insights_rule_id",
            "monitor_workspace_id",
            "prometheus_rule_id",
            "prometheus_query_endpoint",
        )

    def _placed(self, args: ObservabilityArgs) -> dict[str, Any]:
        """Where every Azure Monitor resource of this component goes: the environment's group and region, its tags."""
        return {
            "resource_group_name": args.placement.resource_group_name,
            "location": args.placement.location,
            "tags": dict(args.placement.tags),
            "opts": pulumi.ResourceOptions(parent=self),
        }

    def _associate(
        self,
        resource_name: str,
        association_name: str,
        rule_id: pulumi.Input[str],
        description: str,
        args: ObservabilityArgs,
    ) -> None:
        """The cluster's association with a data collection rule: the agent collects only while it exists."""
        monitor.DataCollectionRuleAssociation(
            resource_name,
            association_name=association_name,
            resource_uri=args.cluster_id,
            data_collection_rule_id=rule_id,
            description=description,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _container_insights(self, name: str, args: ObservabilityArgs) -> None:
        dcr = monitor.DataCollectionRule(
            f"{name}-container-insights-dcr",
            data_collection_rule_name=f"MSCI-{args.placement.location}-{args.placement.resource_prefix}"[:64],
            description="Container Insights: mesh access logs, istiod, sealed-secrets and app namespaces",
            data_sources=monitor.DataCollectionRuleDataSourcesArgs(
                extensions=[
                    monitor.ExtensionDataSourceArgs(
                        name=CONTAINER_INSIGHTS_EXTENSION,
                        extension_name="ContainerInsights",
                        streams=list(CONTAINER_INSIGHTS_STREAMS),
                        extension_settings=container_insights_settings(args.config, args.collected_namespaces),
                    )
                ]
            ),
            destinations=monitor.DataCollectionRuleDestinationsArgs(
                log_analytics=[
                    monitor.LogAnalyticsDestinationArgs(
                        name=LOG_DESTINATION, workspace_resource_id=args.log_analytics_workspace_id
                    )
                ]
            ),
            data_flows=[monitor.DataFlowArgs(streams=list(CONTAINER_INSIGHTS_STREAMS), destinations=[LOG_DESTINATION])],
            kind="Linux",
            **self._placed(args),
        )
        self._associate(
            f"{name}-container-insights-dcra",
            CONTAINER_INSIGHTS_EXTENSION,
            dcr.id,
            # Microsoft's wording: the agent stops sending anything once this is gone.
            "Deleting this association will break the data collection for this AKS Cluster.",
            args,
        )
        self.container_insights_rule_id = dcr.id

    def _prometheus(self, name: str, args: ObservabilityArgs) -> None:
        placed = self._placed(args)
        workspace = monitor.AzureMonitorWorkspace(
            f"{name}-amw",
            azure_monitor_workspace_name=f"{args.placement.resource_prefix}-amw",
            **placed,
        )
        endpoint = monitor.DataCollectionEndpoint(
            f"{name}-prometheus-dce",
            data_collection_endpoint_name=f"MSProm-{args.placement.location}-{args.placement.resource_prefix}"[:44],
            kind="Linux",
            **placed,
        )
        rule = monitor.DataCollectionRule(
            f"{name}-prometheus-dcr",
            data_collection_rule_name=f"MSProm-{args.placement.location}-{args.placement.resource_prefix}"[:64],
            description="Managed Prometheus: the cluster's ama-metrics scraper to the Azure Monitor workspace",
            data_collection_endpoint_id=endpoint.id,
            data_sources=monitor.DataCollectionRuleDataSourcesArgs(
                prometheus_forwarder=[
                    monitor.PrometheusForwarderDataSourceArgs(
                        name="PrometheusDataSource", streams=[PROMETHEUS_STREAM], label_include_filter={}
                    )
                ]
            ),
            destinations=monitor.DataCollectionRuleDestinationsArgs(
                monitoring_accounts=[
                    monitor.MonitoringAccountDestinationArgs(
                        name=PROMETHEUS_DESTINATION, account_resource_id=workspace.id
                    )
                ]
            ),
            data_flows=[monitor.DataFlowArgs(streams=[PROMETHEUS_STREAM], destinations=[PROMETHEUS_DESTINATION])],
            kind="Linux",
            **placed,
        )
        self._associate(
            f"{name}-prometheus-dcra",
            f"MSProm-{args.placement.location}-{args.placement.resource_prefix}",
            rule.id,
            "Managed Prometheus metrics of this AKS cluster to its Azure Monitor workspace.",
            args,
        )
        self.monitor_workspace_id = workspace.id
        self.prometheus_rule_id = rule.id
        self.prometheus_query_endpoint = workspace.metrics.apply(
            lambda m: (m.prometheus_query_endpoint if m else None) or ""
        )

    def _agent_config_maps(self, name: str, args: ObservabilityArgs) -> None:
        """The two agents' ConfigMaps in kube-system (through the cluster's Kubernetes provider)."""
        scrape_regex = scrape_namespace_regex(args.scraped_namespaces)
        for suffix, config_map, settings in (
            ("agent-config", AGENT_CONFIG_MAP, {"log-data-collection-settings": agent_log_settings()}),
            # Sidecars, gateways and istiod carry prometheus.io/scrape|port|path annotations (metrics merging).
            (
                "metrics-settings",
                METRICS_SETTINGS_CONFIG_MAP,
                {"pod-annotation-based-scraping": f'podannotationnamespaceregex = "{scrape_regex}"'},
            ),
        ):
            k8s.core.v1.ConfigMap(
                f"{name}-{suffix}",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=config_map, namespace=KUBE_SYSTEM_NAMESPACE),
                data={"schema-version": "v1", "config-version": "ver1", **settings},
                opts=pulumi.ResourceOptions(parent=self),
            )
