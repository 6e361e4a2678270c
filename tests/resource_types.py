"""The resource type tokens tests look resources up by, spelled once.

A misspelt token matches nothing: ``run.of_type(...)`` comes back empty and an ``assert not`` passes without checking
anything. Each token here is checked against the installed SDKs and the Istio CRDs (``tests/test_resource_types.py``).
Deliberately odd spellings (API-versioned tokens, ``*Patch`` kinds) stay in the tests that are about them.
"""

from __future__ import annotations


class Azure:
    """azure-native resources."""

    RESOURCE_GROUP = "azure-native:resources:ResourceGroup"
    RESOURCE_GROUP_LOCK = "azure-native:authorization:ManagementLockAtResourceGroupLevel"
    ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"
    POLICY_ASSIGNMENT = "azure-native:authorization:PolicyAssignment"
    USER_ASSIGNED_IDENTITY = "azure-native:managedidentity:UserAssignedIdentity"

    MANAGED_CLUSTER = "azure-native:containerservice:ManagedCluster"
    AGENT_POOL = "azure-native:containerservice:AgentPool"
    MAINTENANCE_CONFIGURATION = "azure-native:containerservice:MaintenanceConfiguration"

    VAULT = "azure-native:keyvault:Vault"
    VAULT_KEY = "azure-native:keyvault:Key"
    VAULT_SECRET = "azure-native:keyvault:Secret"

    VIRTUAL_NETWORK = "azure-native:network:VirtualNetwork"
    VIRTUAL_NETWORK_PEERING = "azure-native:network:VirtualNetworkPeering"
    SUBNET = "azure-native:network:Subnet"
    NETWORK_SECURITY_GROUP = "azure-native:network:NetworkSecurityGroup"
    ROUTE_TABLE = "azure-native:network:RouteTable"
    ROUTE = "azure-native:network:Route"
    PUBLIC_IP_ADDRESS = "azure-native:network:PublicIPAddress"
    FIREWALL = "azure-native:network:AzureFirewall"
    FIREWALL_POLICY = "azure-native:network:FirewallPolicy"
    FIREWALL_RULE_COLLECTION_GROUP = "azure-native:network:FirewallPolicyRuleCollectionGroup"
    PRIVATE_ENDPOINT = "azure-native:network:PrivateEndpoint"
    PRIVATE_DNS_ZONE_GROUP = "azure-native:network:PrivateDnsZoneGroup"
    PRIVATE_DNS_ZONE = "azure-native:privatedns:PrivateZone"
    PRIVATE_DNS_ZONE_LINK = "azure-native:privatedns:VirtualNetworkLink"

    LOG_ANALYTICS_WORKSPACE = "azure-native:operationalinsights:Workspace"
    LOG_ANALYTICS_TABLE = "azure-native:operationalinsights:Table"
    LOG_ANALYTICS_DATA_EXPORT = "azure-native:operationalinsights:DataExport"
    STORAGE_ACCOUNT = "azure-native:storage:StorageAccount"
    DIAGNOSTIC_SETTING = "azure-native:monitor:DiagnosticSetting"
    SCHEDULED_QUERY_RULE = "azure-native:monitor:ScheduledQueryRule"
    ACTION_GROUP = "azure-native:monitor:ActionGroup"
    MONITOR_WORKSPACE = "azure-native:monitor:AzureMonitorWorkspace"
    DATA_COLLECTION_ENDPOINT = "azure-native:monitor:DataCollectionEndpoint"
    DATA_COLLECTION_RULE = "azure-native:monitor:DataCollectionRule"
    DATA_COLLECTION_RULE_ASSOCIATION = "azure-native:monitor:DataCollectionRuleAssociation"
    PROMETHEUS_RULE_GROUP = "azure-native:alertsmanagement:PrometheusRuleGroup"
    WORKBOOK = "azure-native:applicationinsights:Workbook"


class Tls:
    """pulumi-tls resources."""

    PRIVATE_KEY = "tls:index/privateKey:PrivateKey"
    SELF_SIGNED_CERT = "tls:index/selfSignedCert:SelfSignedCert"


class K8s:
    """pulumi-kubernetes resources: built-in kinds, the Helm release and the YAML group."""

    NAMESPACE = "kubernetes:core/v1:Namespace"
    POD = "kubernetes:core/v1:Pod"
    SECRET = "kubernetes:core/v1:Secret"
    SERVICE = "kubernetes:core/v1:Service"
    CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
    RESOURCE_QUOTA = "kubernetes:core/v1:ResourceQuota"
    LIMIT_RANGE = "kubernetes:core/v1:LimitRange"

    DEPLOYMENT = "kubernetes:apps/v1:Deployment"
    CRON_JOB = "kubernetes:batch/v1:CronJob"

    NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
    ROLE = "kubernetes:rbac.authorization.k8s.io/v1:Role"
    ROLE_BINDING = "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding"

    MUTATING_WEBHOOK_CONFIGURATION = "kubernetes:admissionregistration.k8s.io/v1:MutatingWebhookConfiguration"
    VALIDATING_ADMISSION_POLICY = "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy"
    VALIDATING_ADMISSION_POLICY_BINDING = "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding"

    HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
    CONFIG_GROUP = "kubernetes:yaml/v2:ConfigGroup"


class Istio:
    """Istio objects: pulumi-kubernetes CustomResources, whose token is ``kubernetes:<apiVersion>:<kind>``."""

    PEER_AUTHENTICATION = "kubernetes:security.istio.io/v1:PeerAuthentication"
    AUTHORIZATION_POLICY = "kubernetes:security.istio.io/v1:AuthorizationPolicy"
    REQUEST_AUTHENTICATION = "kubernetes:security.istio.io/v1:RequestAuthentication"

    GATEWAY = "kubernetes:networking.istio.io/v1:Gateway"
    SERVICE_ENTRY = "kubernetes:networking.istio.io/v1:ServiceEntry"
