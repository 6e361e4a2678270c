"""Shared one-field-change cases: (rule, resource type, valid builder, dotted path, bad value).

Each domain's test module parametrizes over its slice; ``test_pack`` checks every resource rule has one.
"""

from __future__ import annotations

from tests.policies.analyzer import (
    AUTHZ_TYPE, CLUSTER_TYPE, DELETE, DEPLOYMENT_TYPE, GATEWAY_TYPE, PA_TYPE, RELEASE_TYPE, SECRET_TYPE,
    SERVICE_ENTRY_TYPE, SERVICE_TYPE, UNKNOWN, VAULT_TYPE, k8s, valid_authorization_policy, valid_cluster,
    valid_deployment, valid_gateway, valid_istiod_release, valid_peer_authentication, valid_sealed_secrets_release,
    valid_sealing_key_secret, valid_service_entry, valid_vault,
)


def valid_service():
    return k8s("v1", "Service", "istio-ingressgateway", "istio-ingress",
               {"type": "LoadBalancer", "ports": [{"port": 443, "name": "https"}]})


def app_secret():
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "shop"}, "type": "Opaque"}


def valid_cronjob():
    d = valid_deployment()
    return k8s("batch/v1", "CronJob", "report", "shop",
               {"schedule": "0 * * * *", "jobTemplate": {"spec": {"template": d["spec"]["template"]}}})


AKS = [
    ("aks-node-os-upgrade-channel", CLUSTER_TYPE, valid_cluster, "autoUpgradeProfile.nodeOSUpgradeChannel", "None"),
    ("aks-node-os-upgrade-channel", CLUSTER_TYPE, valid_cluster, "autoUpgradeProfile.nodeOSUpgradeChannel", DELETE),
    ("aks-upgrade-channel", CLUSTER_TYPE, valid_cluster, "autoUpgradeProfile.upgradeChannel", "none"),
    ("aks-upgrade-channel", CLUSTER_TYPE, valid_cluster, "autoUpgradeProfile.upgradeChannel", DELETE),
    ("aks-entra-id-rbac", CLUSTER_TYPE, valid_cluster, "aadProfile.enableAzureRBAC", False),
    ("aks-entra-id-rbac", CLUSTER_TYPE, valid_cluster, "aadProfile.managed", DELETE),
    ("aks-entra-id-rbac", CLUSTER_TYPE, valid_cluster, "enableRBAC", False),
    ("aks-local-accounts-disabled", CLUSTER_TYPE, valid_cluster, "disableLocalAccounts", False),
    ("aks-api-server-restricted", CLUSTER_TYPE, valid_cluster, "apiServerAccessProfile.authorizedIPRanges", []),
    ("aks-api-server-restricted", CLUSTER_TYPE, valid_cluster, "apiServerAccessProfile.authorizedIPRanges", ["0.0.0.0/0"]),
    ("aks-network-policy", CLUSTER_TYPE, valid_cluster, "networkProfile.networkPolicy", "none"),
    ("aks-workload-identity", CLUSTER_TYPE, valid_cluster, "oidcIssuerProfile.enabled", False),
    ("aks-workload-identity", CLUSTER_TYPE, valid_cluster, "securityProfile.workloadIdentity.enabled", False),
    ("aks-sku-tier", CLUSTER_TYPE, valid_cluster, "sku.tier", "Free"),
    ("aks-system-pool-redundancy", CLUSTER_TYPE, valid_cluster, "agentPoolProfiles.0.count", 1),
    ("aks-system-pool-redundancy", CLUSTER_TYPE, valid_cluster, "agentPoolProfiles.0.availabilityZones", DELETE),
    ("aks-system-pool-redundancy", CLUSTER_TYPE, valid_cluster, "agentPoolProfiles.0.mode", "User"),
    ("aks-run-command-disabled", CLUSTER_TYPE, valid_cluster, "apiServerAccessProfile.disableRunCommand", False),
]

KEYVAULT = [
    ("keyvault-rbac-authorization", VAULT_TYPE, valid_vault, "properties.enableRbacAuthorization", False),
    ("keyvault-rbac-authorization", VAULT_TYPE, valid_vault, "properties.enableRbacAuthorization", DELETE),
    ("keyvault-soft-delete", VAULT_TYPE, valid_vault, "properties.enableSoftDelete", False),
    ("keyvault-purge-protection", VAULT_TYPE, valid_vault, "properties.enablePurgeProtection", DELETE),
    ("keyvault-network-default-deny", VAULT_TYPE, valid_vault, "properties.networkAcls.defaultAction", "Allow"),
    ("keyvault-network-default-deny", VAULT_TYPE, valid_vault, "properties.networkAcls", DELETE),
]

SEALED_SECRETS = [
    ("sealed-secrets-key-secret", SECRET_TYPE, valid_sealing_key_secret, "type", "Opaque"),
    ("sealed-secrets-key-secret", SECRET_TYPE, valid_sealing_key_secret, "metadata.namespace", "kube-system"),
    ("sealed-secrets-key-renewal-disabled", RELEASE_TYPE, valid_sealed_secrets_release, "values.keyrenewperiod", DELETE),
    ("sealed-secrets-key-renewal-disabled", RELEASE_TYPE, valid_sealed_secrets_release, "values.keyrenewperiod", "720h"),
    ("k8s-no-plaintext-secrets", SECRET_TYPE, app_secret, "stringData", {"password": "hunter2"}),
    ("k8s-no-plaintext-secrets", SECRET_TYPE, app_secret, "data", {"password": "aHVudGVyMg=="}),
]

ISTIO = [
    ("istio-peer-authentication-strict", PA_TYPE, valid_peer_authentication, "spec.mtls.mode", "PERMISSIVE"),
    ("istio-peer-authentication-strict", PA_TYPE, valid_peer_authentication, "spec.mtls.mode", "DISABLE"),
    ("istio-peer-authentication-strict", PA_TYPE, valid_peer_authentication, "spec.mtls.mode", "UNSET"),
    ("istio-peer-authentication-strict", PA_TYPE, valid_peer_authentication, "spec.portLevelMtls", {"8080": {"mode": "PERMISSIVE"}}),
    ("istio-outbound-registry-only", RELEASE_TYPE, valid_istiod_release, "values.meshConfig.outboundTrafficPolicy.mode", "ALLOW_ANY"),
    ("istio-outbound-registry-only", RELEASE_TYPE, valid_istiod_release, "values.meshConfig", DELETE),
    ("istio-workload-cert-ttl", RELEASE_TYPE, valid_istiod_release, "values.pilot.env.MAX_WORKLOAD_CERT_TTL", "48h"),
    ("istio-workload-cert-ttl", RELEASE_TYPE, valid_istiod_release, "values.pilot.env.MAX_WORKLOAD_CERT_TTL", DELETE),
    ("istio-workload-cert-ttl", RELEASE_TYPE, valid_istiod_release, "values.pilot.env.DEFAULT_WORKLOAD_CERT_TTL", "1500m"),
    ("istio-workload-cert-ttl", RELEASE_TYPE, valid_istiod_release, "values.pilot.env.DEFAULT_WORKLOAD_CERT_TTL", "one day"),
    ("istio-service-entry-tls-only", SERVICE_ENTRY_TYPE, valid_service_entry, "spec.ports.0.number", 80),
    ("istio-service-entry-tls-only", SERVICE_ENTRY_TYPE, valid_service_entry, "spec.ports.0.protocol", "HTTP"),
    ("istio-service-entry-tls-only", SERVICE_ENTRY_TYPE, valid_service_entry, "spec.hosts", ["*"]),
    ("istio-gateway-https-redirect", GATEWAY_TYPE, valid_gateway, "spec.servers.1.tls", DELETE),
    ("istio-gateway-https-redirect", GATEWAY_TYPE, valid_gateway, "spec.servers.1.port.protocol", "TCP"),
    ("istio-gateway-tls", GATEWAY_TYPE, valid_gateway, "spec.servers.0.tls.mode", "PASSTHROUGH"),
    ("istio-gateway-min-tls-version", GATEWAY_TYPE, valid_gateway, "spec.servers.0.tls.minProtocolVersion", "TLSV1_1"),
    ("istio-gateway-min-tls-version", GATEWAY_TYPE, valid_gateway, "spec.servers.0.tls.minProtocolVersion", DELETE),
    ("istio-gateway-no-wildcard-hosts", GATEWAY_TYPE, valid_gateway, "spec.servers.0.hosts", ["*"]),
    ("istio-gateway-no-wildcard-hosts", GATEWAY_TYPE, valid_gateway, "spec.servers.1.hosts", ["*/*"]),
    ("istio-authz-no-allow-all", AUTHZ_TYPE, valid_authorization_policy, "spec.rules", [{}]),
    ("istio-authz-no-allow-all", AUTHZ_TYPE, valid_authorization_policy, "spec.rules.0.from.0.source.principals", ["*"]),
    ("istio-authz-no-allow-all", AUTHZ_TYPE, valid_authorization_policy, "spec.rules.0.from.0.source", {"namespaces": ["*"]}),
]

_C = "spec.template.spec.containers.0"
KUBERNETES = [
    ("k8s-no-privileged-containers", DEPLOYMENT_TYPE, valid_deployment, f"{_C}.securityContext.privileged", True),
    ("k8s-no-privilege-escalation", DEPLOYMENT_TYPE, valid_deployment, f"{_C}.securityContext.allowPrivilegeEscalation", DELETE),
    ("k8s-run-as-non-root", DEPLOYMENT_TYPE, valid_deployment, "spec.template.spec.securityContext.runAsNonRoot", False),
    ("k8s-run-as-non-root", DEPLOYMENT_TYPE, valid_deployment, f"{_C}.securityContext.runAsUser", 0),
    ("k8s-read-only-root-filesystem", DEPLOYMENT_TYPE, valid_deployment, f"{_C}.securityContext.readOnlyRootFilesystem", False),
    ("k8s-resource-limits", DEPLOYMENT_TYPE, valid_deployment, f"{_C}.resources.limits.memory", DELETE),
    ("k8s-resource-limits", DEPLOYMENT_TYPE, valid_deployment, f"{_C}.resources", DELETE),
    ("k8s-no-host-namespaces", DEPLOYMENT_TYPE, valid_deployment, "spec.template.spec.hostNetwork", True),
    ("k8s-no-host-namespaces", DEPLOYMENT_TYPE, valid_deployment, "spec.template.spec.hostPID", True),
    ("k8s-no-host-path-volumes", DEPLOYMENT_TYPE, valid_deployment, "spec.template.spec.volumes",
     [{"name": "docker", "hostPath": {"path": "/var/run/docker.sock"}}]),
    ("k8s-no-privileged-containers", "kubernetes:batch/v1:CronJob", valid_cronjob,
     "spec.jobTemplate.spec.template.spec.containers.0.securityContext.privileged", True),
    ("k8s-no-loadbalancer-outside-gateways", SERVICE_TYPE, valid_service, "metadata.namespace", "shop"),
]

ALL = AKS + KEYVAULT + SEALED_SECRETS + ISTIO + KUBERNETES
VALID = sorted({(t, b.__name__): b for _, t, b, _, _ in ALL}.items())


def case_id(case) -> str:
    rule, _, _, path, bad = case
    shown = "DELETE" if bad is DELETE else repr(bad)
    return f"{rule}:{path}={shown}"[:90]


__all__ = ["AKS", "KEYVAULT", "SEALED_SECRETS", "ISTIO", "KUBERNETES", "ALL", "VALID", "case_id", "UNKNOWN"]
