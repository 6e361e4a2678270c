"""The KQL of the platform's log alerts and workbook, as plain functions (no resources).

Tables and columns: ``AKSAudit`` (diagnostic category ``kube-audit``, resource-specific mode),
``AZKVAuditLogs`` (Key Vault ``AuditEvent``, resource-specific mode), ``ContainerLogV2`` (Container Insights,
``LogMessage`` is dynamic: the mesh's JSON access-log fields are addressable without ``parse_json``) and
``KubePodInventory`` / ``KubeNodeInventory`` (Container Insights inventory). The access-log field names are
the mesh's ``ACCESS_LOG_FIELDS`` (components/istio_specs.py). Each query returns one row per offending
event, so the rules alert on ``count > 0``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime

# Key Vault audit: the caller's object id claim (Key Vault logging: identity.claim.<oid claim URI>).
_OID_CLAIM = "http://schemas.microsoft.com/identity/claims/objectidentifier"


def _kql_list(values: Sequence[str]) -> str:
    """A KQL dynamic array literal; JSON string escaping is valid KQL string escaping."""
    return f"dynamic({json.dumps(sorted(set(values)))})"


def sealing_key_read(namespace: str, key_secret_prefix: str, controller_username: str) -> str:
    """Anyone but the controller reading the sealing key: a get by name, or a list/watch of its namespace.

    A list or watch carries no object name but returns every key, so nameless requests count too.
    """
    return "\n".join(
        [
            "AKSAudit",
            f'| where ObjectRef.resource == "secrets" and ObjectRef.namespace == {json.dumps(namespace)}',
            '| where Verb in ("get", "list", "watch")',
            "| extend Name = tostring(ObjectRef.name), Caller = tostring(User.username)",
            f"| where isempty(Name) or Name startswith {json.dumps(key_secret_prefix)}",
            f"| where Caller != {json.dumps(controller_username)}",
            "| project TimeGenerated, Caller, Groups = User.groups, Verb, Name,"
            " Code = toint(ResponseStatus.code), SourceIps, UserAgent",
        ]
    )


def certificate_expiry(expiries: Mapping[str, datetime], warning_days: int) -> str:
    """The certificates the platform knows (name -> notAfter) that expire within ``warning_days``.

    The dates are facts of this deployment (the sealing certificates, a config-provided ingress
    certificate): the query carries them, so the rule needs no table and fires every evaluation until
    the certificate is rotated and ``pulumi up`` writes the new date.
    """
    rows = ", ".join(
        f"{json.dumps(name)}, datetime({expires.strftime('%Y-%m-%dT%H:%M:%SZ')})"
        for name, expires in sorted(expiries.items())
    )
    return "\n".join(
        [
            f"datatable(Certificate: string, NotAfter: datetime) [{rows}]",
            f"| where NotAfter < now() + {warning_days}d",
            "| extend DaysLeft = datetime_diff('day', NotAfter, now())",
        ]
    )


def egress_denied(egress_namespace: str) -> str:
    """Traffic the mesh refused to let out: the sidecar's REGISTRY_ONLY black hole, an authorization
    deny (HTTP 403 or a TCP/TLS connection closed by RBAC), or no route at the egress gateway."""
    ns = json.dumps(egress_namespace)
    return "\n".join(
        [
            "ContainerLogV2",
            f'| where ContainerName == "istio-proxy" or PodNamespace == {ns}',
            "| extend L = LogMessage",
            '| where tostring(L.destination_service) == "BlackHoleCluster"',
            f'    or (PodNamespace == {ns} and tostring(L.response_code) == "403")',
            '    or tostring(L.response_code_details) startswith "rbac_access_denied"',
            '    or tostring(L.connection_termination_details) startswith "rbac_access_denied"',
            f'    or (PodNamespace == {ns} and tostring(L.response_flags) has "NR")',
            "| project TimeGenerated, PodNamespace, PodName, Source = tostring(L.source_principal),"
            " Sni = tostring(L.requested_server_name), Destination = tostring(L.destination_service),"
            " Code = tostring(L.response_code), Flags = tostring(L.response_flags),"
            " Details = tostring(L.response_code_details)",
        ]
    )


def mtls_handshake_failures() -> str:
    """TLS handshakes between proxies that failed, on either side (a peer without a valid mesh certificate)."""
    return "\n".join(
        [
            "ContainerLogV2",
            # Sidecars and the gateway charts' Envoy containers are both named istio-proxy.
            '| where ContainerName == "istio-proxy"',
            "| extend L = LogMessage",
            "| extend Upstream = tostring(L.upstream_transport_failure_reason),"
            " Downstream = tostring(L.downstream_transport_failure_reason)",
            '| where Upstream has_any ("TLS_error", "CERTIFICATE_VERIFY_FAILED", "SSLV3_ALERT")'
            ' or Downstream has_any ("TLS_error", "CERTIFICATE_VERIFY_FAILED", "SSLV3_ALERT")',
            "| project TimeGenerated, PodNamespace, PodName, Source = tostring(L.source_principal),"
            " Destination = tostring(L.destination_service), Upstream, Downstream",
        ]
    )


def istiod_unavailable(istiod_namespace: str) -> str:
    """Five-minute buckets in which no istiod pod ran: no new certificates, no config pushes."""
    return "\n".join(
        [
            "KubePodInventory",
            f'| where Namespace == {json.dumps(istiod_namespace)} and ControllerName startswith "istiod"',
            '| summarize Running = dcountif(Name, PodStatus == "Running") by bin(TimeGenerated, 5m)',
            "| where Running < 1",
        ]
    )


def key_vault_unexpected_reader(allowed_object_ids: Sequence[str]) -> str:
    """A secret read from the vault by an identity that is not on the allow-list."""
    return "\n".join(
        [
            f"let allowed = {_kql_list(allowed_object_ids)};",
            "AZKVAuditLogs",
            '| where OperationName in ("SecretGet", "SecretList", "SecretListVersions")',
            f'| extend Oid = tostring(Identity.claim["{_OID_CLAIM}"]), AppId = tostring(Identity.claim.appid)',
            "| where Oid !in (allowed)",
            "| project TimeGenerated, OperationName, Oid, AppId, Id, CallerIpAddress, HttpStatusCode, ResultSignature",
        ]
    )
