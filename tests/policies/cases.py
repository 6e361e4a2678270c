"""Shared one-field-change cases: (rule, resource type, valid builder, dotted path, bad value).

``test_one_field`` runs every mandatory one; ``test_pack`` checks every resource rule has one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.policies.analyzer import (
    DELETE,
    UNKNOWN,
    k8s,
    valid_authorization_policy,
    valid_cluster,
    valid_deployment,
    valid_gateway,
    valid_istiod_release,
    valid_node_subnet,
    valid_peer_authentication,
    valid_sealed_secrets_release,
    valid_sealing_cert,
    valid_sealing_key_secret,
    valid_service_entry,
    valid_vault,
    valid_vault_secret,
)
from tests.resource_types import Azure, Istio, K8s, Tls


def valid_service():
    return k8s(
        "v1",
        "Service",
        "istio-ingressgateway",
        "istio-ingress",
        {"type": "LoadBalancer", "ports": [{"port": 443, "name": "https"}]},
    )


def app_secret():
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "shop"}, "type": "Opaque"}


def valid_cronjob():
    d = valid_deployment()
    return k8s(
        "batch/v1",
        "CronJob",
        "report",
        "shop",
        {"schedule": "0 * * * *", "jobTemplate": {"spec": {"template": d["spec"]["template"]}}},
    )


Case = tuple[str, str, Callable[[], dict], str, Any]


def one_field(rtype: str, build: Callable[[], dict], *changes: tuple[str, str, Any]) -> list[Case]:
    """Cases that each change one field of the valid resource ``build()``: (rule, dotted path, bad value)."""
    return [(rule, rtype, build, path, bad) for rule, path, bad in changes]


AKS = one_field(
    Azure.MANAGED_CLUSTER,
    valid_cluster,
    ("aks-kubernetes-version-supported", "kubernetesVersion", "1.29"),  # standard support ended 2025
    ("aks-node-os-upgrade-channel", "autoUpgradeProfile.nodeOSUpgradeChannel", "None"),
    ("aks-node-os-upgrade-channel", "autoUpgradeProfile.nodeOSUpgradeChannel", DELETE),
    ("aks-upgrade-channel", "autoUpgradeProfile.upgradeChannel", "none"),
    ("aks-upgrade-channel", "autoUpgradeProfile.upgradeChannel", DELETE),
    ("aks-entra-id-rbac", "aadProfile.enableAzureRBAC", False),
    ("aks-entra-id-rbac", "aadProfile.managed", DELETE),
    ("aks-entra-id-rbac", "enableRBAC", False),
    ("aks-local-accounts-disabled", "disableLocalAccounts", False),
    ("aks-api-server-restricted", "apiServerAccessProfile.authorizedIPRanges", []),
    ("aks-api-server-restricted", "apiServerAccessProfile.authorizedIPRanges", ["0.0.0.0/0"]),
    ("aks-network-policy", "networkProfile.networkPolicy", "none"),
    ("aks-istio-cni-dataplane", "networkProfile.networkPlugin", "kubenet"),
    ("aks-istio-cni-dataplane", "networkProfile.networkPlugin", "none"),
    ("aks-istio-cni-dataplane", "networkProfile.advancedNetworking", {"security": {"advancedNetworkPolicies": "L7"}}),
    ("aks-workload-identity", "oidcIssuerProfile.enabled", False),
    ("aks-workload-identity", "securityProfile.workloadIdentity.enabled", False),
    ("aks-sku-tier", "sku.tier", "Free"),
    ("aks-system-pool-redundancy", "agentPoolProfiles.0.count", 1),
    ("aks-system-pool-redundancy", "agentPoolProfiles.0.availabilityZones", DELETE),
    ("aks-system-pool-redundancy", "agentPoolProfiles.0.mode", "User"),
    ("aks-run-command-disabled", "apiServerAccessProfile.disableRunCommand", False),
    ("aks-kms-etcd-encryption", "securityProfile.azureKeyVaultKms", DELETE),
    ("aks-kms-etcd-encryption", "securityProfile.azureKeyVaultKms.enabled", False),
    ("aks-kms-etcd-encryption", "securityProfile.azureKeyVaultKms.keyId", ""),
    ("aks-kms-etcd-encryption", "identity.type", "SystemAssigned"),
    ("aks-kms-private-vault-vnet-integration", "apiServerAccessProfile.enableVnetIntegration", False),
    ("aks-kms-private-vault-vnet-integration", "apiServerAccessProfile.enableVnetIntegration", DELETE),
    ("aks-kms-private-vault-vnet-integration", "apiServerAccessProfile.subnetId", DELETE),
)

KEYVAULT = [
    *one_field(
        Azure.VAULT,
        valid_vault,
        ("keyvault-rbac-authorization", "properties.enableRbacAuthorization", False),
        ("keyvault-rbac-authorization", "properties.enableRbacAuthorization", DELETE),
        ("keyvault-soft-delete", "properties.enableSoftDelete", False),
        ("keyvault-purge-protection", "properties.enablePurgeProtection", DELETE),
        ("keyvault-network-default-deny", "properties.networkAcls.defaultAction", "Allow"),
        ("keyvault-network-default-deny", "properties.networkAcls", DELETE),
    ),
    *one_field(
        Azure.VAULT_SECRET,
        valid_vault_secret,
        ("keyvault-secret-expiry", "properties.attributes.expires", DELETE),
        ("keyvault-secret-expiry", "properties.attributes", DELETE),
        ("keyvault-secret-expiry", "properties.attributes.expires", "2029-01-01"),
    ),
]

SEALED_SECRETS = [
    *one_field(
        Tls.SELF_SIGNED_CERT,
        valid_sealing_cert,
        ("sealing-key-cert-validity", "validityPeriodHours", 3650 * 24),
        ("sealing-key-cert-validity", "validityPeriodHours", 1096 * 24),
        ("sealing-key-cert-validity", "validityPeriodHours", "forever"),
    ),
    *one_field(
        K8s.SECRET,
        valid_sealing_key_secret,
        ("sealed-secrets-key-secret", "type", "Opaque"),
        ("sealed-secrets-key-secret", "metadata.namespace", "kube-system"),
    ),
    *one_field(
        K8s.HELM_RELEASE,
        valid_sealed_secrets_release,
        ("sealed-secrets-key-renewal-disabled", "values.keyrenewperiod", DELETE),
        ("sealed-secrets-key-renewal-disabled", "values.keyrenewperiod", "720h"),
    ),
    *one_field(
        K8s.SECRET,
        app_secret,
        ("k8s-no-plaintext-secrets", "stringData", {"password": "hunter2"}),
        ("k8s-no-plaintext-secrets", "data", {"password": "aHVudGVyMg=="}),
    ),
]

ISTIO = [
    *one_field(
        Istio.PEER_AUTHENTICATION,
        valid_peer_authentication,
        ("istio-peer-authentication-strict", "spec.mtls.mode", "PERMISSIVE"),
        ("istio-peer-authentication-strict", "spec.mtls.mode", "DISABLE"),
        ("istio-peer-authentication-strict", "spec.mtls.mode", "UNSET"),
        ("istio-peer-authentication-strict", "spec.portLevelMtls", {"8080": {"mode": "PERMISSIVE"}}),
    ),
    *one_field(
        K8s.HELM_RELEASE,
        valid_istiod_release,
        ("istio-outbound-registry-only", "values.meshConfig.outboundTrafficPolicy.mode", "ALLOW_ANY"),
        ("istio-outbound-registry-only", "values.meshConfig", DELETE),
        ("istio-workload-cert-ttl", "values.pilot.env.MAX_WORKLOAD_CERT_TTL", "48h"),
        ("istio-workload-cert-ttl", "values.pilot.env.MAX_WORKLOAD_CERT_TTL", DELETE),
        ("istio-workload-cert-ttl", "values.pilot.env.DEFAULT_WORKLOAD_CERT_TTL", "1500m"),
        ("istio-workload-cert-ttl", "values.pilot.env.DEFAULT_WORKLOAD_CERT_TTL", "one day"),
    ),
    *one_field(
        Istio.SERVICE_ENTRY,
        valid_service_entry,
        ("istio-service-entry-tls-only", "spec.ports.0.number", 80),
        ("istio-service-entry-tls-only", "spec.ports.0.protocol", "HTTP"),
        ("istio-service-entry-tls-only", "spec.hosts", ["*"]),
    ),
    *one_field(
        Istio.GATEWAY,
        valid_gateway,
        ("istio-gateway-https-redirect", "spec.servers.1.tls", DELETE),
        ("istio-gateway-https-redirect", "spec.servers.1.port.protocol", "TCP"),
        ("istio-gateway-tls", "spec.servers.0.tls.mode", "PASSTHROUGH"),
        ("istio-gateway-min-tls-version", "spec.servers.0.tls.minProtocolVersion", "TLSV1_1"),
        ("istio-gateway-min-tls-version", "spec.servers.0.tls.minProtocolVersion", DELETE),
        ("istio-gateway-no-wildcard-hosts", "spec.servers.0.hosts", ["shop/*"]),
        ("istio-gateway-no-wildcard-hosts", "spec.servers.1.hosts", ["./*"]),
        # A public host is bound only by the namespace that owns it: never bare (= `*/`), never `*/`.
        ("istio-ingress-gateway-namespace-hosts", "spec.servers.0.hosts", ["shop.apps.example.com"]),
        ("istio-ingress-gateway-namespace-hosts", "spec.servers.1.hosts.1", "*/api.example.com"),
        ("istio-ingress-gateway-namespace-hosts", "spec.servers.0.hosts.0", "/shop.apps.example.com"),
        ("istio-ingress-gateway-namespace-hosts", "spec.servers.0.hosts.0", "Shop/shop.apps.example.com"),
        ("istio-ingress-gateway-namespace-hosts", "spec.servers.0.hosts.0", "shop/extra/shop.apps.example.com"),
    ),
    *one_field(
        Istio.AUTHORIZATION_POLICY,
        valid_authorization_policy,
        ("istio-authz-no-allow-all", "spec.rules", [{}]),
        ("istio-authz-no-allow-all", "spec.rules.0.from.0.source.principals", ["*"]),
        ("istio-authz-no-allow-all", "spec.rules.0.from.0.source", {"namespaces": ["*"]}),
    ),
    # Perimeter objects belong to the platform's namespaces, never to an app namespace.
    *one_field(
        Istio.SERVICE_ENTRY, valid_service_entry, ("istio-perimeter-platform-owned", "metadata.namespace", "shop")
    ),
    *one_field(Istio.GATEWAY, valid_gateway, ("istio-perimeter-platform-owned", "metadata.namespace", "shop")),
    *one_field(
        K8s.DEPLOYMENT,
        valid_deployment,
        ("istio-no-sidecar-bypass", "spec.template.metadata.annotations", {"sidecar.istio.io/inject": "false"}),
        ("istio-no-sidecar-bypass", "spec.template.metadata.labels", {"sidecar.istio.io/inject": "no"}),
        (
            "istio-no-sidecar-bypass",
            "spec.template.metadata.annotations",
            {"traffic.sidecar.istio.io/excludeOutboundPorts": "5432"},
        ),
        ("istio-no-sidecar-bypass", "spec.template.spec.containers.0.securityContext.runAsUser", 1337),
        ("istio-no-sidecar-bypass", "spec.template.spec.securityContext.runAsGroup", 1337),
    ),
]

_POD = "spec.template.spec"
_C = f"{_POD}.containers.0"
KUBERNETES = [
    *one_field(
        K8s.DEPLOYMENT,
        valid_deployment,
        ("k8s-no-privileged-containers", f"{_C}.securityContext.privileged", True),
        ("k8s-no-privilege-escalation", f"{_C}.securityContext.allowPrivilegeEscalation", DELETE),
        ("k8s-run-as-non-root", f"{_POD}.securityContext.runAsNonRoot", False),
        ("k8s-run-as-non-root", f"{_C}.securityContext.runAsUser", 0),
        ("k8s-read-only-root-filesystem", f"{_C}.securityContext.readOnlyRootFilesystem", False),
        ("k8s-resource-limits", f"{_C}.resources.limits.memory", DELETE),
        ("k8s-resource-limits", f"{_C}.resources", DELETE),
        ("k8s-no-host-namespaces", f"{_POD}.hostNetwork", True),
        ("k8s-no-host-namespaces", f"{_POD}.hostPID", True),
        (
            "k8s-no-host-path-volumes",
            f"{_POD}.volumes",
            [{"name": "docker", "hostPath": {"path": "/var/run/docker.sock"}}],
        ),
    ),
    *one_field(
        K8s.CRON_JOB,
        valid_cronjob,
        ("k8s-no-privileged-containers", f"spec.jobTemplate.{_C}.securityContext.privileged", True),
    ),
    *one_field(K8s.SERVICE, valid_service, ("k8s-no-loadbalancer-outside-gateways", "metadata.namespace", "shop")),
]

NETWORK = [
    *one_field(
        Azure.MANAGED_CLUSTER,
        valid_cluster,
        ("network-aks-outbound-firewall", "networkProfile.outboundType", "loadBalancer"),
        ("network-aks-outbound-firewall", "networkProfile.outboundType", DELETE),
        ("network-aks-outbound-firewall", "networkProfile.outboundType", "managedNATGateway"),
    ),
    *one_field(
        Azure.VAULT,
        valid_vault,
        ("network-keyvault-private", "properties.publicNetworkAccess", "Enabled"),
        ("network-keyvault-private", "properties.publicNetworkAccess", DELETE),
    ),
    *one_field(
        Azure.SUBNET,
        valid_node_subnet,
        ("network-subnet-nsg", "networkSecurityGroup", DELETE),
        ("network-subnet-nsg", "networkSecurityGroup.id", ""),
    ),
]

# Advisory even in prod (policies/config/prod.json): tests/policies/test_aks.py checks the level.
AKS_ADVISORY = one_field(
    Azure.MANAGED_CLUSTER, valid_cluster, ("aks-kubernetes-version-known", "kubernetesVersion", "1.99")
)

ALL = AKS + AKS_ADVISORY + KEYVAULT + SEALED_SECRETS + ISTIO + KUBERNETES + NETWORK
VALID = sorted({(t, b.__name__): b for _, t, b, _, _ in ALL}.items())


def case_id(case) -> str:
    rule, _, _, path, bad = case
    shown = "DELETE" if bad is DELETE else repr(bad)
    return f"{rule}:{path}={shown}"[:90]


__all__ = ["AKS", "KEYVAULT", "SEALED_SECRETS", "ISTIO", "KUBERNETES", "ALL", "VALID", "case_id", "UNKNOWN"]
