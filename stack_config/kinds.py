"""The kinds of value several sections take: an IPv4 range, a host name, an Entra ID group, a Kubernetes name.

Declared once, so two keys that take the same kind of value accept the same values and a bad one is refused
in the same words, wherever it is set.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from stack_config.reader import (
    DNS_LABEL,
    ENVIRONMENT_NAME,
    GUID,
    SEMVER,
    is_cidr,
    is_explicit_host,
    is_host_or_wildcard,
    is_host_pattern,
    non_public_reason,
)
from stack_config.spec import Integer, Read, Text, Texts

CIDR = Text(check=is_cidr, describe="allowed: an IPv4 CIDR such as 10.20.0.0/16 (network address, no host bits)")
CIDRS = Texts(check=is_cidr, describe=CIDR.describe)


@dataclass(frozen=True)
class PublicCidrs(Texts):
    """IPv4 CIDRs that must be public ranges: the Key Vault firewall matches public addresses only.

    A private range would be refused by Azure ("any IP range inside 10.0.0.0-10.255.255.255 (private IP
    addresses) cannot be used to add network rules", learn.microsoft.com Add-AzKeyVaultNetworkRule): private
    networks reach the vault through ``keyVault.allowedSubnetIds`` instead.
    """

    check: Callable[[str], bool] | None = is_cidr
    describe: str = "allowed: a public IPv4 CIDR such as 203.0.113.0/24"

    def read(self, s: Read, path: str, value: Any, default: Any) -> tuple[Any, bool]:
        cidrs, ok = super().read(s, path, value, default)
        for i, cidr in enumerate(value if ok else []):
            reason = non_public_reason(cidr) if isinstance(cidr, str) and is_cidr(cidr) else None
            if reason is not None:
                s.r.problem(
                    f"{path}[{i}]",
                    cidr,
                    f"{reason}; allowed: public address ranges only (the Key Vault firewall admits public "
                    "addresses; private networks reach it through allowedSubnetIds)",
                )
        return cidrs, ok


EXPLICIT_HOST = Text(
    check=is_explicit_host,
    describe="allowed: an explicit DNS name such as api.github.com (no wildcards, no IPs, no scheme)",
)
EXPLICIT_HOSTS = Texts(check=is_explicit_host, describe=EXPLICIT_HOST.describe)
# What a gateway may serve: a host, a *.domain wildcard, or (outside prod) '*'.
HOST_PATTERNS = Texts(
    check=is_host_pattern,
    describe="allowed: a DNS name such as app.example.com or a wildcard such as *.apps.example.com",
)
# What a certificate names (its subjectAltName) and what one namespace may claim: a host or a *.domain wildcard.
HOSTS_OR_WILDCARDS = Texts(check=is_host_or_wildcard, describe="allowed: a DNS name or a *.domain wildcard, never '*'")

GROUP_ID = Text(pattern=GUID, describe="allowed: an Entra ID group object ID (a GUID)")
GROUP_IDS = Texts(pattern=GUID, describe=GROUP_ID.describe)

# An environment's name (platform:environment), wherever a stack names one: its own, or one whose mesh CA it signs.
ENVIRONMENT = Text(
    pattern=ENVIRONMENT_NAME,
    describe="allowed: an environment name, 2-16 lowercase letters, digits or '-', e.g. dev, prod-weu",
)

# A namespace, a release revision: names Kubernetes takes as DNS-1123 labels.
K8S_NAME = Text(pattern=DNS_LABEL, describe="allowed: a DNS-1123 label (lowercase letters, digits, '-')")
# A revision tag a namespace or the mesh's default names: one of istio.tags (the rules check it is one).
REVISION_TAG = Text(pattern=DNS_LABEL, describe="allowed: a tag of istio.tags")

# A key generation (the sealing key's, a mesh intermediate's): numbered from 1, bumped to rotate.
MAX_GENERATION = 100
GENERATION = Integer(1, MAX_GENERATION)


def pinned_version(example: str) -> Text:
    """An exact release (a chart version): a range would let the next install pick another one."""
    return Text(pattern=SEMVER, describe=f"allowed: an exact version such as {example} (pinned, never a range)")
