"""Config validation: every rule has a valid case and a rejected case naming the exact key."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from stack_config import ConfigError, PlatformConfig, parse_config
from tests.conftest import stack_raw_config
from tools.program_runner import run_program


def with_changes(stack: str, changes: dict[str, Any]) -> dict[str, Any]:
    """The stack's raw config with dotted-path changes applied (``None`` deletes the key)."""
    raw = stack_raw_config(stack)
    for dotted, value in changes.items():
        parts = dotted.split(".")
        cur = raw
        for part in parts[:-1]:
            cur = cur.setdefault(part, {})
        if value is None:
            cur.pop(parts[-1], None)
        else:
            cur[parts[-1]] = copy.deepcopy(value)
    return raw


def test_public_host_claimed_twice_names_the_first_owner():
    apps = [
        {"name": "shop", "allowFromIngress": True, "publicHosts": ["shop.dev.apps.example.com"]},
        {"name": "payments", "allowFromIngress": True, "publicHosts": ["shop.dev.apps.example.com"]},
    ]
    [problem] = problems_for("dev", {"appNamespaces": apps})
    assert problem == (
        "appNamespaces[1].publicHosts[0]: got 'shop.dev.apps.example.com'; already claimed by namespace 'shop'"
    )


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("*.dev.apps.example.com", "shop.dev.apps.example.com"),  # the wildcard's owner could bind the host
        ("shop.dev.apps.example.com", "*.dev.apps.example.com"),  # either order
        ("*.dev.apps.example.com", "*.pay.dev.apps.example.com"),  # a wildcard under another one
    ],
)
def test_a_public_host_overlapping_another_namespaces_host_is_refused(first, second):
    apps = [
        {"name": "shop", "allowFromIngress": True, "publicHosts": [first]},
        {"name": "payments", "allowFromIngress": True, "publicHosts": [second]},
    ]
    [problem] = problems_for("dev", {"ingress.hosts": ["*.dev.apps.example.com"], "appNamespaces": apps})
    assert problem == f"appNamespaces[1].publicHosts[0]: got {second!r}; overlaps {first!r} claimed by namespace 'shop'"


def test_one_namespace_may_own_overlapping_hosts_and_never_every_host():
    apps = [
        {"name": "shop", "allowFromIngress": True, "publicHosts": ["*.dev.apps.example.com", "a.dev.apps.example.com"]}
    ]
    parse_config(with_changes("dev", {"ingress.hosts": ["*.dev.apps.example.com"], "appNamespaces": apps}))
    apps = [{"name": "shop", "allowFromIngress": True, "publicHosts": ["*"]}]
    [problem] = problems_for("dev", {"ingress.hosts": ["*"], "appNamespaces": apps})
    assert problem == "appNamespaces[0].publicHosts[0]: got '*'; allowed: a DNS name or a *.domain wildcard, never '*'"


def test_egress_hosts_turn_egress_on_and_teams_default_to_secure_limits():
    apps = [{"name": "shop", "egressHosts": ["api.github.com"]}]
    [shop] = parse_config(with_changes("dev", {"appNamespaces": apps})).app_namespaces
    assert shop.egress is True and shop.writer_group_object_id is None
    assert (shop.quota.cpu, shop.quota.memory, shop.quota.pods) == ("8", "16Gi", 50)
    assert shop.container_limits.max_memory == "4Gi"


def problems_for(stack: str, changes: dict[str, Any], secret_keys: tuple[str, ...] = ()) -> list[str]:
    with pytest.raises(ConfigError) as err:
        parse_config(with_changes(stack, changes), secret_keys)
    return err.value.problems


# --------------------------------------------------------------------------- the real stacks


@pytest.mark.parametrize("stack", ["dev", "prod", "nonprod-keys"])
def test_stack_files_are_valid(stack):
    cfg = parse_config(stack_raw_config(stack))
    assert isinstance(cfg, PlatformConfig)


def test_defaults_are_the_secure_choice():
    cfg = parse_config(
        {
            "environment": "qa",
            "environmentClass": "nonprod",
            "location": "westeurope",
            "cluster": {"adminGroupObjectIds": ["6f1c2a7e-3b4d-4e5f-9a8b-1c2d3e4f5a6b"]},
            "ingress": {"hosts": ["*.qa.example.com"], "tlsCertificateDnsNames": ["*.qa.example.com"]},
            "sealedSecrets": {"sharedKeyStack": "contoso/platform/nonprod-keys"},
            "meshCa": {"ownerStack": "contoso/platform/nonprod-keys"},
        }
    )
    assert cfg.cluster.node_os_upgrade_channel == "NodeImage"
    assert cfg.cluster.upgrade_channel == "patch"
    assert cfg.cluster.run_command_enabled is False
    assert cfg.cluster.network_policy == "cilium"
    assert cfg.cluster.node_os_maintenance.duration_hours >= 4
    assert cfg.istio.outbound_traffic_policy == "REGISTRY_ONLY"
    assert cfg.istio.workload_cert_ttl_hours <= 24
    assert cfg.istio.mtls_exceptions == ()
    assert cfg.ingress.min_tls_version == "TLSV1_2" and cfg.ingress.max_tls_version == "TLSV1_3"
    assert cfg.key_vault.soft_delete_retention_days == 90
    assert cfg.sealed_secrets.key_mode == "sharedReference"


def test_prod_defaults_are_stricter_than_nonprod():
    base = {
        "environment": "prod2",
        "location": "westeurope",
        "ingress": {"hosts": ["a.example.com"], "tlsCertificateDnsNames": ["a.example.com"]},
        "cluster": {"adminGroupObjectIds": ["6f1c2a7e-3b4d-4e5f-9a8b-1c2d3e4f5a6b"], "privateCluster": True},
        "observability": {"alertEmails": ["oncall@example.com"]},
    }
    prod = parse_config({**base, "environmentClass": "prod"})
    nonprod = parse_config(
        {
            **base,
            "environmentClass": "nonprod",
            "sealedSecrets": {"sharedKeyStack": "contoso/platform/nonprod-keys"},
            "meshCa": {"ownerStack": "contoso/platform/nonprod-keys"},
        }
    )
    assert prod.cluster.sku_tier == "Standard" and nonprod.cluster.sku_tier == "Free"
    assert prod.cluster.system_pool.count >= 2 and prod.cluster.system_pool.availability_zones
    assert prod.sealed_secrets.key_mode == "dedicated"
    # Prod records reads of Secrets and keeps security logs a year; dev collects less.
    assert prod.observability.audit_reads and not nonprod.observability.audit_reads
    assert prod.observability.security_log_retention_days >= 365 > nonprod.observability.security_log_retention_days
    # Default maintenance windows differ, so dev meets a new image before prod does.
    assert prod.cluster.node_os_maintenance != nonprod.cluster.node_os_maintenance


def test_windows_differ_between_dev_and_prod_stack_files():
    dev = parse_config(stack_raw_config("dev")).cluster
    prod = parse_config(stack_raw_config("prod")).cluster
    assert dev.node_os_maintenance.day_of_week != prod.node_os_maintenance.day_of_week
    assert dev.auto_upgrade_maintenance.day_of_week != prod.auto_upgrade_maintenance.day_of_week


# --------------------------------------------------------------------------- one rule at a time
# Each row: stack, change, the exact key path the single problem must start with.
REJECTED = [
    # wrong types
    ("dev", {"cluster.systemPool.count": "three"}, "cluster.systemPool.count"),
    ("dev", {"cluster.privateCluster": "yes"}, "cluster.privateCluster"),
    ("dev", {"tags": ["owner"]}, "tags"),
    ("dev", {"appNamespaces": {"name": "shop"}}, "appNamespaces"),
    # unknown enum values
    ("dev", {"cluster.nodeOsUpgradeChannel": "Unmanaged"}, "cluster.nodeOsUpgradeChannel"),
    ("dev", {"cluster.upgradeChannel": "rapid"}, "cluster.upgradeChannel"),
    ("dev", {"environmentClass": "staging"}, "environmentClass"),
    ("dev", {"cluster.maintenance.nodeOs.dayOfWeek": "Funday"}, "cluster.maintenance.nodeOs.dayOfWeek"),
    ("dev", {"ingress.minTlsVersion": "TLSV1_1"}, "ingress.minTlsVersion"),
    # malformed CIDRs, times, host names, IDs
    ("dev", {"cluster.apiServerAuthorizedIpRanges": ["203.0.113.0/33"]}, "cluster.apiServerAuthorizedIpRanges[0]"),
    ("dev", {"keyVault.allowedCidrs": ["10.0.0.1/8"]}, "keyVault.allowedCidrs[0]"),
    ("dev", {"cluster.network.nodeSubnetCidr": "10.99.0.0/22"}, "cluster.network.nodeSubnetCidr"),
    ("dev", {"cluster.maintenance.autoUpgrade.startTime": "25:00"}, "cluster.maintenance.autoUpgrade.startTime"),
    ("dev", {"cluster.maintenance.nodeOs.durationHours": 2}, "cluster.maintenance.nodeOs.durationHours"),
    ("dev", {"ingress.hosts": ["shop_example.com"]}, "ingress.hosts[0]"),
    ("dev", {"egress.hosts": ["https://api.github.com"]}, "egress.hosts[0]"),
    ("dev", {"egress.hosts": ["*.github.com"]}, "egress.hosts[0]"),
    ("dev", {"cluster.adminGroupObjectIds": ["platform-admins"]}, "cluster.adminGroupObjectIds[0]"),
    ("dev", {"appNamespaces": [{"name": "Shop"}]}, "appNamespaces[0].name"),
    ("dev", {"appNamespaces": [{"name": "kube-system"}]}, "appNamespaces[0].name"),
    ("dev", {"istio.version": "1.30"}, "istio.version"),
    ("dev", {"sealedSecrets.sharedKeyStack": "nonprod-keys"}, "sealedSecrets.sharedKeyStack"),
    # HTTP-only egress is never accepted (egress is HTTPS only, in every environment)
    ("dev", {"egress.hosts": [{"host": "example.com", "port": 80}]}, "egress.hosts[0].port"),
    ("dev", {"egress.hosts": [{"host": "example.com", "protocol": "TCP"}]}, "egress.hosts[0].protocol"),
    # prod names the external hosts of every namespace let out (the egress gateway authorizes by that list)
    (
        "prod",
        {
            "appNamespaces": [
                {"name": "web", "egress": True, "writerGroupObjectId": "6f1c2a7e-3b4d-4e5f-9a8b-1c2d3e4f5a6b"}
            ]
        },
        "appNamespaces[0].egressHosts",
    ),
    # missing required keys
    ("dev", {"location": None}, "location"),
    ("dev", {"environment": None}, "environment"),
    ("dev", {"cluster.adminGroupObjectIds": None}, "cluster.adminGroupObjectIds"),
    ("dev", {"ingress.hosts": None}, "ingress.hosts"),
    ("dev", {"ingress.hosts": []}, "ingress.hosts"),
    ("dev", {"cluster.adminGroupObjectIds": []}, "cluster.adminGroupObjectIds"),
    ("dev", {"sealedSecrets.sharedKeyStack": None}, "sealedSecrets.sharedKeyStack"),
    (
        "dev",
        {"ingress.jwtIssuers": [{"issuer": "https://idp.example.com", "audiences": ["api"]}]},
        "ingress.jwtIssuers[0].jwksUri",
    ),
    # unknown keys that look like typos
    ("dev", {"cluster.nodeOSUpgradeChannel": "NodeImage"}, "cluster.nodeOSUpgradeChannel"),
    ("dev", {"istoi": {"version": "1.30.3"}}, "istoi"),
    ("dev", {"egress.host": ["api.github.com"]}, "egress.host"),
    # prod-only rules
    ("prod", {"istio.mtlsExceptions": [{"namespace": "legacy", "mode": "PERMISSIVE"}]}, "istio.mtlsExceptions[0]"),
    ("prod", {"istio.outboundTrafficPolicy": "ALLOW_ANY"}, "istio.outboundTrafficPolicy"),
    ("prod", {"cluster.privateCluster": False}, "cluster.privateCluster"),
    ("prod", {"cluster.network.egressFirewall": False}, "cluster.network.egressFirewall"),
    ("prod", {"keyVault.publicNetworkAccess": "Enabled"}, "keyVault.publicNetworkAccess"),
    (
        "dev",
        {"cluster.network.egressFirewall": True, "cluster.network.firewallSubnetCidr": "10.20.8.0/27"},
        "cluster.network.firewallSubnetCidr",
    ),
    (
        "dev",
        {"cluster.network.egressFirewall": True, "cluster.network.firewallSubnetCidr": "10.20.0.0/26"},
        "cluster.network.firewallSubnetCidr",
    ),
    (
        "dev",
        {"cluster.network.egressFirewall": True, "cluster.network.ingressPrivateIp": "10.20.4.10"},
        "cluster.network.ingressPrivateIp",
    ),
    (
        "dev",
        {"keyVault.publicNetworkAccess": "Disabled", "cluster.network.privateEndpointSubnetCidr": "10.30.0.0/27"},
        "cluster.network.privateEndpointSubnetCidr",
    ),
    ("dev", {"cluster.network.existingFirewallFqdns": ["api.github.com"]}, "cluster.network.existingFirewallFqdns"),
    ("prod", {"cluster.apiServerAuthorizedIpRanges": ["0.0.0.0/0"]}, "cluster.apiServerAuthorizedIpRanges[0]"),
    ("prod", {"cluster.skuTier": "Free"}, "cluster.skuTier"),
    ("prod", {"cluster.runCommandEnabled": True}, "cluster.runCommandEnabled"),
    ("prod", {"ingress.hosts": ["*", "api.example.com"]}, "ingress.hosts[0]"),
    ("prod", {"sealedSecrets.keyMode": "sharedReference"}, "sealedSecrets.keyMode"),
    ("prod", {"istio.workloadCertTtlHours": 48}, "istio.workloadCertTtlHours"),
    ("dev", {"sealedSecrets.keyMode": "dedicated"}, "sealedSecrets.keyMode"),
    ("dev", {"istio.mtlsExceptions": [{"namespace": "legacy"}]}, "istio.mtlsExceptions[0].namespace"),
    # rules between keys
    ("dev", {"cluster.network.dnsServiceIp": "10.0.0.10"}, "cluster.network.dnsServiceIp"),
    ("dev", {"cluster.userPool.minCount": 5, "cluster.userPool.maxCount": 2}, "cluster.userPool.minCount"),
    ("dev", {"ingress.minTlsVersion": "TLSV1_3", "ingress.maxTlsVersion": "TLSV1_2"}, "ingress.minTlsVersion"),
    ("dev", {"istio.maxWorkloadCertTtlHours": 6, "istio.workloadCertTtlHours": 12}, "istio.workloadCertTtlHours"),
    (
        "dev",
        {
            "ingress.jwtIssuers": [
                {
                    "issuer": "https://idp.example.com",
                    "jwksUri": "https://idp.example.com/k",
                    "audiences": ["api"],
                    "hosts": ["other.example.com"],
                }
            ]
        },
        "ingress.jwtIssuers[0].hosts[0]",
    ),
    (
        "dev",
        {
            "ingress.jwtIssuers": [
                {
                    "issuer": "https://idp.example.com",
                    "jwksUri": "https://idp.example.com/k",
                    "audiences": ["api"],
                    "requiredClaims": {"roles": []},
                }
            ]
        },
        "ingress.jwtIssuers[0].requiredClaims.roles",
    ),
    ("dev", {"egress.hosts": ["api.github.com", {"host": "api.github.com"}]}, "egress.hosts[1]"),
    ("dev", {"egress.hosts": [None]}, "egress.hosts[0].host"),
    ("dev", {"appNamespaces": [{"name": "shop"}, {"name": "shop"}]}, "appNamespaces[1].name"),
    ("prod", {"observability.alertEmails": []}, "observability.alertEmails"),
    ("prod", {"observability.auditReads": False}, "observability.auditReads"),
    ("prod", {"observability.securityLogRetentionDays": 200}, "observability.securityLogRetentionDays"),
    (
        "dev",
        {"observability.securityLogRetentionDays": 30, "cluster.logRetentionDays": 60},
        "observability.securityLogRetentionDays",
    ),
    ("dev", {"observability.collectionInterval": "90s"}, "observability.collectionInterval"),
    ("dev", {"observability.siemEventHubNamespaceId": "/subscriptions/x/eh"}, "observability.siemEventHubNamespaceId"),
    # a bad value is reported once: its default standing in does not trip the rules that read it
    (
        "dev",
        {"cluster.network.serviceCidr": "10.0.0.0/33", "cluster.network.dnsServiceIp": "10.0.0.10"},
        "cluster.network.serviceCidr",
    ),
    (
        "dev",
        {"appNamespaces": [{"name": "shop", "allowedCallers": ["Bad Caller"]}]},
        "appNamespaces[0].allowedCallers[0]",
    ),
    # tenancy: owning team, quotas, the hosts a namespace owns or may reach
    (
        "dev",
        {"appNamespaces": [{"name": "shop", "writerGroupObjectId": "team-shop"}]},
        "appNamespaces[0].writerGroupObjectId",
    ),
    ("prod", {"appNamespaces": [{"name": "shop"}]}, "appNamespaces[0].writerGroupObjectId"),
    ("dev", {"appNamespaces": [{"name": "shop", "quota": {"memory": "lots"}}]}, "appNamespaces[0].quota.memory"),
    ("dev", {"appNamespaces": [{"name": "shop", "quota": {"cpus": "4"}}]}, "appNamespaces[0].quota.cpus"),
    (
        "dev",
        {"appNamespaces": [{"name": "shop", "containerLimits": {"defaultMemory": "8Gi", "maxMemory": "4Gi"}}]},
        "appNamespaces[0].containerLimits.defaultMemory",
    ),
    (
        "dev",
        {
            "appNamespaces": [
                {"name": "shop", "allowFromIngress": True, "publicHosts": ["shop.dev.apps.example.com"]},
                {"name": "payments", "allowFromIngress": True, "publicHosts": ["shop.dev.apps.example.com"]},
            ]
        },
        "appNamespaces[1].publicHosts[0]",
    ),
    (
        "dev",
        {"appNamespaces": [{"name": "shop", "allowFromIngress": True, "publicHosts": ["shop.example.org"]}]},
        "appNamespaces[0].publicHosts[0]",
    ),
    (
        "dev",
        {"appNamespaces": [{"name": "shop", "publicHosts": ["shop.dev.apps.example.com"]}]},
        "appNamespaces[0].allowFromIngress",
    ),
    (
        "dev",
        {"appNamespaces": [{"name": "shop", "egressHosts": ["evil.example.com"]}]},
        "appNamespaces[0].egressHosts[0]",
    ),
    (
        "dev",
        {"appNamespaces": [{"name": "shop", "egressHosts": ["api.github.com"], "egress": False}]},
        "appNamespaces[0].egress",
    ),
]


@pytest.mark.parametrize("stack,changes,key", REJECTED, ids=[f"{r[0]}:{r[2]}" for r in REJECTED])
def test_each_bad_value_yields_one_problem_naming_the_key(stack, changes, key):
    problems = problems_for(stack, changes)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{key}:"), problems[0]


@pytest.mark.parametrize("key", ["cluster.adminGroupObjectIds", "ingress.hosts", "sealedSecrets.sharedKeyStack"])
def test_a_required_key_set_to_null_is_missing(key):
    raw = with_changes("dev", {})
    section, name = key.split(".")
    raw[section][name] = None  # `hosts:` with nothing after it in YAML
    with pytest.raises(ConfigError) as err:
        parse_config(raw)
    assert [p.split(":")[0] for p in err.value.problems] == [key]
    assert "required" in err.value.problems[0]


def test_problem_names_value_and_what_is_allowed():
    [problem] = problems_for("dev", {"cluster.upgradeChannel": "rapid"})
    assert problem == "cluster.upgradeChannel: got 'rapid'; allowed: patch, stable"


def test_required_list_messages():
    [missing] = problems_for("dev", {"cluster.adminGroupObjectIds": None})
    assert missing == (
        "cluster.adminGroupObjectIds: required; at least one Entra ID group object ID (local accounts are disabled)"
    )
    [empty] = problems_for("dev", {"ingress.hosts": []})
    assert empty == "ingress.hosts: got []; at least one host name the ingress gateway serves, e.g. *.apps.example.com"


def test_key_owner_stack_needs_no_environment_keys():
    raw = with_changes("nonprod-keys", {"cluster": None, "ingress": None})
    assert parse_config(raw).ingress.hosts == ()


def test_typo_gets_a_suggestion():
    [problem] = problems_for("dev", {"cluster.nodeOSUpgradeChannel": "NodeImage"})
    assert "did you mean 'nodeOsUpgradeChannel'?" in problem


def test_every_problem_is_reported_at_once():
    problems = problems_for(
        "prod",
        {
            "istio.outboundTrafficPolicy": "ALLOW_ANY",
            "cluster.skuTier": "Free",
            "location": None,
            "ingress.hosts": ["*", "api.example.com"],
        },
    )
    assert [p.split(":")[0] for p in problems] == sorted(
        ["location", "cluster.skuTier", "istio.outboundTrafficPolicy", "ingress.hosts[0]"],
        key=[p.split(":")[0] for p in problems].index,
    )
    assert len(problems) == 4


ACCEPTED: list[tuple[str, dict[str, Any]]] = [
    ("dev", {"istio.mtlsExceptions": [{"namespace": "shop", "mode": "PERMISSIVE", "port": 8080}]}),
    ("dev", {"istio.outboundTrafficPolicy": "ALLOW_ANY"}),
    ("dev", {"ingress.hosts": ["*"]}),
    ("dev", {"cluster.nodeOsUpgradeChannel": "SecurityPatch", "cluster.upgradeChannel": "stable"}),
    ("dev", {"egress.hosts": [{"host": "api.github.com", "port": 443, "protocol": "HTTPS"}]}),
    ("prod", {"cluster.apiServerAuthorizedIpRanges": [], "cluster.privateCluster": True}),
    ("prod", {"cluster.skuTier": "Premium"}),
    ("prod", {"cluster.maintenance.nodeOs.durationHours": 4}),
    ("prod", {"istio.workloadCertTtlHours": 1}),
]


@pytest.mark.parametrize("stack,changes", ACCEPTED, ids=[f"{s}:{','.join(c)}" for s, c in ACCEPTED])
def test_allowed_variations_are_accepted(stack, changes):
    cfg = parse_config(with_changes(stack, changes))
    assert isinstance(cfg, PlatformConfig) and cfg.environment == stack


def test_mtls_exception_is_kept_in_nonprod():
    cfg = parse_config(with_changes("dev", {"istio.mtlsExceptions": [{"namespace": "shop", "port": 8080}]}))
    assert cfg.istio.mtls_exceptions[0].namespace == "shop"
    assert cfg.istio.mtls_exceptions[0].mode == "PERMISSIVE"
    assert cfg.istio.mtls_exceptions[0].port == 8080


def test_ingress_tls_from_config_needs_secret_values():
    problems = problems_for("dev", {"ingress.tlsSource": "config"})
    assert [p.split(":")[0] for p in problems] == ["ingressTlsCertificate", "ingressTlsPrivateKey"]
    assert "pulumi config set --secret ingressTlsCertificate" in problems[0]
    raw = with_changes(
        "dev", {"ingress.tlsSource": "config", "ingressTlsCertificate": "[secret]", "ingressTlsPrivateKey": "[secret]"}
    )
    assert parse_config(raw, ("ingressTlsCertificate", "ingressTlsPrivateKey")).ingress.tls_source == "config"


def test_plaintext_secret_config_is_rejected():
    raw = with_changes(
        "dev", {"ingress.tlsSource": "config", "ingressTlsCertificate": "cert", "ingressTlsPrivateKey": "key"}
    )
    with pytest.raises(ConfigError) as err:
        parse_config(raw, ("ingressTlsCertificate",))
    assert err.value.problems == [
        "ingressTlsPrivateKey: must be a secret; "
        "set it with `pulumi config set --secret ingressTlsPrivateKey < file.pem`"
    ]


def test_allowed_callers_must_name_a_listed_namespace():
    problems = problems_for("dev", {"appNamespaces": [{"name": "shop", "allowedCallers": ["billing/api"]}]})
    assert problems == [
        "appNamespaces[0].allowedCallers[0]: got 'billing/api'; must name a namespace listed in appNamespaces"
    ]


def test_key_owner_stack_needs_no_cluster_settings():
    cfg = parse_config(stack_raw_config("nonprod-keys"))
    assert cfg.stack_role == "sealingKeyOwner" and cfg.sealed_secrets.key_mode == "sharedOwner"
    [problem] = problems_for("nonprod-keys", {"environmentClass": "prod", "sealedSecrets.keyMode": None})
    assert problem.startswith("stackRole:")


# --------------------------------------------------------------------------- JWT issuers: one token per request

ISSUER = {"issuer": "https://idp.example.com", "jwksUri": "https://idp.example.com/keys", "audiences": ["api"]}


def _issuers(*scopes: dict[str, Any]) -> dict[str, Any]:
    return {
        "ingress.hosts": ["*.apps.example.com", "api.example.com"],
        "ingress.tlsCertificateDnsNames": ["*.apps.example.com", "api.example.com"],
        "ingress.jwtIssuers": [
            {**ISSUER, "issuer": f"https://idp{i}.example.com", **scope} for i, scope in enumerate(scopes)
        ],
    }


def test_overlapping_issuers_are_refused_naming_the_later_one():
    # Both protect api.example.com on every path: a request carries one token, so one of them always denies it.
    [problem] = problems_for("dev", _issuers({"hosts": ["api.example.com"]}, {}))
    assert problem == (
        "ingress.jwtIssuers[1]: protects ['api.example.com'] like ingress.jwtIssuers[0]; a request "
        "carries one token, so give each issuer distinct hosts or paths"
    )


def test_overlap_is_reported_with_every_other_problem():
    problems = problems_for(
        "prod", {**_issuers({"paths": ["/admin/*"]}, {"paths": ["/admin/*", "/x"]}), "cluster.skuTier": "Free"}
    )
    assert [p.split(":")[0] for p in problems] == ["cluster.skuTier", "ingress.jwtIssuers[1]"]


def test_overlap_index_is_the_configured_position():
    # The first entry is invalid and left out: the overlap still names the entries as written.
    problems = problems_for("dev", _issuers({"jwksUri": "http://x"}, {}, {}))
    assert [p.split(":")[0] for p in problems] == ["ingress.jwtIssuers[0].jwksUri", "ingress.jwtIssuers[2]"]
    assert "like ingress.jwtIssuers[1];" in problems[1]


@pytest.mark.parametrize(
    "scopes",
    [
        ({"hosts": ["api.example.com"]}, {"hosts": ["*.apps.example.com"]}),
        ({"paths": ["/admin/*"]}, {"paths": ["/partner/*"]}),
        ({"hosts": ["api.example.com"], "paths": ["/a"]}, {"hosts": ["api.example.com"], "paths": ["/b"]}),
    ],
)
def test_issuers_on_distinct_hosts_or_paths_are_accepted(scopes):
    assert len(parse_config(with_changes("dev", _issuers(*scopes))).ingress.jwt_issuers) == 2


# --------------------------------------------------------------------------- through the program
# A corpus of bad configurations run through the real __main__.py: one clear error, no resource.
PROGRAM_CORPUS = [
    ("dev", {"cluster": {"systemPool": {"count": "3"}, "adminGroupObjectIds": "abc"}}, "cluster.adminGroupObjectIds"),
    (
        "dev",
        {"cluster": {"upgradeChannel": "node-image", "adminGroupObjectIds": ["6f1c2a7e-3b4d-4e5f-9a8b-1c2d3e4f5a6b"]}},
        "cluster.upgradeChannel",
    ),
    ("dev", {"egress": {"hosts": [{"host": "example.com", "port": 80}]}}, "egress.hosts[0].port"),
    ("dev", {"ingress": {"hosts": ["bad host"], "tlsCertificateDnsNames": ["*.example.com"]}}, "ingress.hosts[0]"),
    ("dev", {"istio": {"outboundTrafficPolicy": "ALLOW_ALL"}}, "istio.outboundTrafficPolicy"),
    ("dev", {"location": None}, "location"),
    ("dev", {"keyVualt": {}}, "keyVualt"),
    ("prod", {"istio": {"mtlsExceptions": [{"namespace": "legacy"}]}}, "istio.mtlsExceptions[0]"),
    (
        "prod",
        {"egress": {"hosts": [{"host": "example.com", "protocol": "HTTP", "port": 443}]}},
        "egress.hosts[0].protocol",
    ),
    (
        "prod",
        {"ingress": {"hosts": ["*"], "tlsKeyVaultCertificateName": "wildcard", "tlsCertificateDnsNames": ["*.a.com"]}},
        "ingress.hosts[0]",
    ),
    ("prod", {"sealedSecrets": {"keyMode": "sharedOwner"}}, "sealedSecrets.keyMode"),
    ("prod", {"keyVault": {"allowedCidrs": ["0.0.0.0/0"]}}, "keyVault.allowedCidrs[0]"),
    ("prod", {"keyVault": {"softDeleteRetentionDays": 3}}, "keyVault.softDeleteRetentionDays"),
    ("prod", {"environmentClass": "production"}, "environmentClass"),
    (
        "prod",
        {"appNamespaces": [{"name": "istio-system", "writerGroupObjectId": "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"}]},
        "appNamespaces[0].name",
    ),
    ("prod", {"tags": {"owner": 42}}, "tags.owner"),
]


@pytest.mark.parametrize("stack,overrides,key", PROGRAM_CORPUS, ids=[f"{r[0]}:{r[2]}" for r in PROGRAM_CORPUS])
def test_program_rejects_bad_config_before_registering_anything(stack, overrides, key):
    recorded: list = []
    with pytest.raises(ConfigError) as err:
        run_program(stack, overrides=overrides, recorded=recorded)
    assert len(err.value.problems) == 1, err.value.problems
    assert err.value.problems[0].startswith(f"{key}:")
    assert f"{key}:" in str(err.value)
    assert recorded == [], [r.urn for r in recorded]


# --------------------------------------------------------------------------- sealing-key generations


def test_retiring_a_generation_sealed_secrets_may_still_use_is_refused():
    changes = {"sealedSecrets.keyGeneration": 3, "sealedSecrets.oldestGenerationInUse": 2}
    [problem] = problems_for("prod", {**changes, "sealedSecrets.retiredThrough": 2})
    assert problem.startswith("sealedSecrets.retiredThrough: got 2;")
    assert "SealedSecrets may still use generation(s) 2..2" in problem and "make reseal" in problem
    cfg = parse_config(with_changes("prod", {**changes, "sealedSecrets.retiredThrough": 1}))
    assert (cfg.sealed_secrets.retired_through, cfg.sealed_secrets.oldest_generation_in_use) == (1, 2)


def test_oldest_generation_in_use_cannot_pass_the_newest():
    [problem] = problems_for("prod", {"sealedSecrets.oldestGenerationInUse": 2})
    assert problem.startswith("sealedSecrets.oldestGenerationInUse: got 2;") and "at most keyGeneration (1)" in problem


def test_sealing_certificate_validity_is_capped_well_under_ten_years():
    assert parse_config(stack_raw_config("prod")).sealed_secrets.cert_validity_days == 365
    [problem] = problems_for("prod", {"sealedSecrets.certValidityDays": 3650})
    assert problem.startswith("sealedSecrets.certValidityDays: got 3650") and "from 30 to 1095" in problem


# --------------------------------------------------------------------------- network: one allow-list, closed in prod
HUB_SUBNET = "/subscriptions/x/resourceGroups/hub/providers/Microsoft.Network/virtualNetworks/hub/subnets/aks"
HUB_API_SERVER_SUBNET = HUB_SUBNET.replace("/subnets/aks", "/subnets/aks-api-server")


def test_existing_firewall_must_admit_exactly_the_mesh_allow_list():
    problems = problems_for(
        "prod",
        {
            "cluster.network.existingSubnetId": HUB_SUBNET,
            "cluster.network.existingApiServerSubnetId": HUB_API_SERVER_SUBNET,
            "cluster.network.existingFirewallFqdns": ["graph.microsoft.com", "paste.example.com"],
        },
    )
    assert [p.split(":")[0] for p in problems] == ["egress.hosts", "cluster.network.existingFirewallFqdns"]
    assert "login.microsoftonline.com in the mesh allow-list but not in" in problems[0]
    assert "paste.example.com admitted by the firewall but not in egress.hosts" in problems[1]


def test_existing_firewall_with_the_same_hosts_is_accepted():
    cfg = parse_config(
        with_changes(
            "prod",
            {
                "cluster.network.existingSubnetId": HUB_SUBNET,
                "cluster.network.existingApiServerSubnetId": HUB_API_SERVER_SUBNET,
                "cluster.network.existingFirewallFqdns": ["graph.microsoft.com", "login.microsoftonline.com"],
            },
        )
    )
    assert cfg.cluster.network.egress_firewall is True


def test_prod_network_defaults_close_the_path():
    cfg = parse_config(stack_raw_config("prod"))
    net = cfg.cluster.network
    assert net.egress_firewall is True and cfg.cluster.private_cluster is True
    assert cfg.key_vault.public_network_access == "Disabled"
    # Carved from vnetCidr 10.40.0.0/16, clear of the /22 node subnet.
    assert (net.firewall_subnet_cidr, net.private_endpoint_subnet_cidr) == ("10.40.8.0/26", "10.40.8.64/27")
    assert net.api_server_subnet_cidr == "10.40.8.96/27"
    assert net.ingress_private_ip == "10.40.3.254"
    dev = parse_config(stack_raw_config("dev"))
    assert dev.cluster.network.egress_firewall is False and dev.key_vault.public_network_access == "Enabled"


# Azure Firewall's public IPs: "a minimum of 20 frontend IPs" in production against SNAT port exhaustion.


def test_firewall_public_ips_default_by_environment_class():
    assert parse_config(stack_raw_config("prod")).cluster.network.firewall_public_ips == 20
    assert parse_config(stack_raw_config("dev")).cluster.network.firewall_public_ips == 1
    # Private: a public API server would also authorize the 248 addresses, past AKS's 200 ranges (network.py).
    fw_on = {
        "cluster.network.egressFirewall": True,
        "cluster.network.firewallPublicIps": 248,
        "cluster.privateCluster": True,
    }
    assert parse_config(with_changes("dev", fw_on)).cluster.network.firewall_public_ips == 248


@pytest.mark.parametrize("value", [0, -1, 249, 250, "twenty", 2.5, True])
def test_firewall_public_ips_outside_the_range_is_one_problem_naming_the_key_and_the_range(value):
    [problem] = problems_for("prod", {"cluster.network.firewallPublicIps": value})
    assert problem.startswith("cluster.network.firewallPublicIps: got ")
    assert "integer from 1 to 248" in problem


@pytest.mark.parametrize(
    ("stack", "changes", "expected"),
    [
        # dev builds no firewall by default: the count would mean nothing.
        ("dev", {}, "only with cluster.network.egressFirewall: true"),
        # With existingSubnetId the firewall is someone else's (a hub's): the program gives it no addresses.
        (
            "prod",
            {
                "cluster.network.existingSubnetId": HUB_SUBNET,
                "cluster.network.existingApiServerSubnetId": HUB_API_SERVER_SUBNET,
                "cluster.network.existingFirewallFqdns": ["graph.microsoft.com", "login.microsoftonline.com"],
            },
            "not with cluster.network.existingSubnetId",
        ),
    ],
)
def test_firewall_public_ips_is_refused_without_the_programs_own_firewall(stack, changes, expected):
    [problem] = problems_for(stack, {**changes, "cluster.network.firewallPublicIps": 20})
    assert problem.startswith(f"cluster.network.firewallPublicIps: {expected}")


# API Server VNet Integration: KMS runs in Private mode, which needs it ("Konnectivity isn't supported").


def test_api_server_subnet_defaults_to_the_free_27_after_the_private_endpoints():
    net = parse_config(with_changes("dev", {"cluster.etcdEncryption": True})).cluster.network
    assert net.api_server_subnet_cidr == "10.20.8.96/27"


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        # "The minimum supported API server subnet size is a /28."
        ({"cluster.network.apiServerSubnetCidr": "10.40.8.96/29"}, "got '10.40.8.96/29'; allowed: a /28 or larger"),
        ({"cluster.network.apiServerSubnetCidr": "10.41.0.0/27"}, "must be inside vnetCidr 10.40.0.0/16"),
        (
            {"cluster.network.apiServerSubnetCidr": "10.40.8.64/28"},
            "must not overlap privateEndpointSubnetCidr 10.40.8.64/27",
        ),
        ({"cluster.network.apiServerSubnetCidr": "10.40.8.0/27"}, "must not overlap firewallSubnetCidr 10.40.8.0/26"),
        ({"cluster.network.apiServerSubnetCidr": "10.40.1.0/28"}, "must not overlap nodeSubnetCidr 10.40.0.0/22"),
    ],
)
def test_api_server_subnet_must_fit_the_vnet(changes, expected):
    problems = problems_for("prod", changes)
    assert [p for p in problems if p.startswith("cluster.network.apiServerSubnetCidr:")], problems
    assert any(expected in p for p in problems), problems


def test_a_brought_node_subnet_needs_a_brought_api_server_subnet_in_its_vnet():
    brought = {
        "cluster.network.existingSubnetId": HUB_SUBNET,
        "cluster.network.existingFirewallFqdns": ["graph.microsoft.com", "login.microsoftonline.com"],
    }
    [missing] = problems_for("prod", brought)
    assert missing.startswith(
        "cluster.network.existingApiServerSubnetId: required with cluster.network.existingSubnetId"
    )
    elsewhere = HUB_API_SERVER_SUBNET.replace("virtualNetworks/hub/", "virtualNetworks/other/")
    [other_vnet] = problems_for("prod", {**brought, "cluster.network.existingApiServerSubnetId": elsewhere})
    assert other_vnet.startswith("cluster.network.existingApiServerSubnetId: got ")
    assert "must be in the VNet" in other_vnet


@pytest.mark.parametrize(
    ("stack", "changes"),
    [
        ("dev", {"cluster.network.existingApiServerSubnetId": HUB_API_SERVER_SUBNET}),  # dev: no KMS
        ("prod", {"cluster.network.existingApiServerSubnetId": HUB_API_SERVER_SUBNET}),  # no existingSubnetId
    ],
)
def test_a_brought_api_server_subnet_only_with_kms_and_a_brought_node_subnet(stack, changes):
    [problem] = problems_for(stack, changes)
    assert problem.startswith("cluster.network.existingApiServerSubnetId: only with ")


def test_private_vault_needs_an_environment_stack():
    problems = problems_for("nonprod-keys", {"keyVault.publicNetworkAccess": "Disabled"})
    assert problems[0].startswith("keyVault.publicNetworkAccess: got 'Disabled'; allowed on environment stacks only")


# --------------------------------------------------------------------------- mesh CA


def test_mesh_ca_modes_follow_the_stack():
    assert parse_config(stack_raw_config("prod")).mesh_ca.mode == "dedicated"
    assert parse_config(stack_raw_config("dev")).mesh_ca.mode == "sharedReference"
    owner = parse_config(stack_raw_config("nonprod-keys")).mesh_ca
    assert owner.mode == "sharedOwner" and [c.environment for c in owner.clusters] == ["dev"]


def test_prod_refuses_a_shared_mesh_root():
    changes = {"meshCa.mode": "sharedReference", "meshCa.ownerStack": "contoso/platform/nonprod-keys"}
    [problem] = problems_for("prod", changes)
    assert problem.startswith("meshCa.mode: got 'sharedReference'") and "prod allows: dedicated" in problem


def test_mesh_ca_owner_and_reference_need_their_partner():
    assert problems_for("dev", {"meshCa.ownerStack": None}) == [
        "meshCa.ownerStack: required when mode is sharedReference; the owner stack as <organization>/platform/<stack>"
    ]
    [problem] = problems_for("nonprod-keys", {"meshCa.clusters": []})
    assert problem.startswith("meshCa.clusters:") and "list at least one" in problem
    [problem] = problems_for("nonprod-keys", {"meshCa.clusters": ["dev", {"environment": "dev", "generation": 2}]})
    assert problem.startswith("meshCa.clusters[1].environment: got 'dev'")
