"""The platform-security rules, one module per domain; importing this package registers them all."""

from __future__ import annotations

from . import (  # noqa: F401 - registration side effects
    aks,
    istio,
    istio_revisions,
    keyvault,
    kubernetes,
    monitoring,
    network,
    sealed_secrets,
)
from .common import POLICIES, RULES, RuleMeta

PACK_NAME = "platform-security"
# Every rule is mandatory unless a config file relaxes it: a forgotten config must fail closed.
PACK_ENFORCEMENT_LEVEL = "mandatory"
PACK_DESCRIPTION = (
    "Secure-by-default guardrails for the AKS platform: cluster hardening, Key Vault, sealed-secrets keys, "
    "Istio mTLS/authorization/egress, the network path (firewall, private endpoints, NSGs) and Kubernetes "
    "workload least privilege."
)

__all__ = ["PACK_NAME", "PACK_ENFORCEMENT_LEVEL", "PACK_DESCRIPTION", "POLICIES", "RULES", "RuleMeta", "all_policies"]


def all_policies() -> list:
    """Every policy object, in registration order (domain modules imported above)."""
    return list(POLICIES)


# Where dev deliberately relaxes a rule to advisory (config/dev.json), and why. Everything else is
# mandatory in dev too; prod relaxes nothing. The docs and a test keep config/dev.json in line with this.
DEV_RELAXED = {
    "aks-sku-tier": "dev runs the Free tier: no uptime SLA is needed for a cluster that can be rebuilt.",
    "aks-system-pool-redundancy": "dev runs one system node without zones to halve its cost.",
    "aks-run-command-disabled": "dev keeps `az aks command invoke` for debugging from outside the authorized IP ranges.",
    "aks-kms-etcd-encryption": "dev keeps Secrets under platform-managed etcd encryption: KMS needs a private vault reached through API Server VNet Integration, which dev does not run; prod requires it.",
    "keyvault-protected": "dev vaults may be destroyed with the stack; purge protection still keeps them recoverable.",
    "istio-gateway-no-wildcard-hosts": "short-lived test gateways in dev may accept any host; the platform's own gateway names its hosts.",
    "network-aks-outbound-firewall": "dev may leave through the load balancer: the firewall costs about $900 a month (docs/network.md); the mesh's REGISTRY_ONLY still applies.",
    "network-keyvault-private": "dev's vault keeps a public endpoint behind its deny-by-default firewall, so it can be deployed without runners inside the network.",
    "aks-audit-reads-collected": "dev collects kube-audit-admin only (observability.auditReads: false): get/list audit volume costs more than a rebuildable cluster's reads are worth.",
    "monitor-sealing-key-read-alert": "without kube-audit in dev the alert could never fire, so dev does not create it; dev's sealing key is the shared non-production key, watched where it is read.",
    "aks-kubernetes-version-supported": "a dev cluster may stay on a minor past its support while an upgrade is tried out there first; AKS itself still refuses to create one.",
    "istio-peer-authentication-strict": "dev may carry namespace mtlsExceptions (PERMISSIVE) while a workload migrates into the mesh; the mesh-wide default stays STRICT and mandatory.",
}
__all__.append("DEV_RELAXED")

# Advisory everywhere, prod included (config/dev.json and config/prod.json), and why: a finding that means
# "this cannot be checked", not "this is insecure".
ALWAYS_ADVISORY = {
    "aks-kubernetes-version-known": "a minor the versions data file does not list (newer than the file, or unset) "
    "has unknown support dates: a prompt to refresh the file, not proof of an unsupported cluster; "
    "aks-kubernetes-version-supported stays mandatory in prod for every minor the file knows.",
}
__all__.append("ALWAYS_ADVISORY")
