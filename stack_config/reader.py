"""Reading raw config values: the one error type, the problem collector and the shared validators.

Every reader converts one value and, when it is wrong, records a problem naming the key path, the bad
value and what is allowed, then carries on with the default, so one run reports every problem at once.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

PROJECT = "platform"

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_HOST_LABEL = r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"
_HOSTNAME = re.compile(rf"^{_HOST_LABEL}(\.{_HOST_LABEL})+$")
_WILDCARD_HOSTNAME = re.compile(rf"^\*\.{_HOST_LABEL}(\.{_HOST_LABEL})+$")
# An environment name (platform:environment): part of every Azure name, so short and DNS-safe.
ENVIRONMENT_NAME = re.compile(r"^[a-z][a-z0-9-]{0,14}[a-z0-9]$")
SEMVER = re.compile(r"^\d+\.\d+\.\d+$")
GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
# A Kubernetes resource quantity as quotas and limits take it: 500m, 2, 1.5, 512Mi, 4Gi.
QUANTITY = re.compile(r"^(\d+(\.\d+)?)(m|k|M|G|T|Ki|Mi|Gi|Ti)?$")
ARM_SUBNET_ID = re.compile(
    r"^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.Network/virtualNetworks/[^/]+/subnets/[^/]+$",
    re.IGNORECASE,
)
ARM_VNET_ID = re.compile(
    r"^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.Network/virtualNetworks/[^/]+$",
    re.IGNORECASE,
)
_INTEGER_TEXT = re.compile(r"-?\d+")


class ConfigError(ValueError):
    """The stack configuration is invalid; ``problems`` lists every problem found."""

    def __init__(self, problems: Sequence[str]):
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(
            f"Invalid stack configuration, keys in the '{PROJECT}:' namespace ({len(self.problems)} problem"
            f"{'' if len(self.problems) == 1 else 's'}):\n{lines}"
        )


def show(value: Any) -> str:
    """A value as a problem message quotes it: strings in quotes, the rest as JSON, long ones cut."""
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def join(parent: str, key: str) -> str:
    return f"{parent}.{key}" if parent else key


class Reader:
    """Collects every problem, each starting with its key path."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self._paths: list[str] = []

    def report(self, path: str, message: str) -> None:
        """A problem in free form: ``<path>: <message>``."""
        self.problems.append(f"{path}: {message}")
        self._paths.append(path)

    def problem(self, path: str, value: Any, allowed: str) -> None:
        """The usual problem: the bad value and what is allowed."""
        self.report(path, f"got {show(value)}; {allowed}")

    def listed_once(self, entries: Iterable[tuple[str, Any]], what: str) -> bool:
        """Each value once in a list: a repeat is reported at its (path, value); whether every value was distinct."""
        seen: set[Any] = set()
        distinct = True
        for path, value in entries:
            if value in seen:
                self.problem(path, value, f"each {what} may be listed once")
                distinct = False
            seen.add(value)
        return distinct

    def failed(self, path: str) -> bool:
        """Whether a problem was reported at ``path`` or below it."""
        return any(p == path or p.startswith((f"{path}.", f"{path}[")) for p in self._paths)

    def section(self, raw: Any, path: str, known: Sequence[str]) -> dict:
        """A mapping whose keys must all be known (a typo must not silently fall back to a default)."""
        if raw is None:
            return {}
        if not isinstance(raw, Mapping):
            self.problem(path, raw, "expected an object (a YAML map)")
            return {}
        for key in raw:
            if key not in known:
                hint = difflib.get_close_matches(str(key), known, n=1)
                did_you_mean = f"did you mean '{hint[0]}'? " if hint else ""
                self.report(join(path, str(key)), f"unknown key; {did_you_mean}allowed keys: {', '.join(known)}")
        return dict(raw)

    # Each converter gets a value that is present (not missing, not null) and returns (value, ok).

    def text(
        self,
        path: str,
        value: Any,
        *,
        choices: Sequence[str] = (),
        why: str = "",
        pattern: re.Pattern | None = None,
        check: Callable[[str], bool] | None = None,
        describe: str = "",
    ) -> tuple[Any, bool]:
        if not isinstance(value, str):
            self.problem(path, value, f"expected a string{'; ' + describe if describe else ''}")
            return None, False
        if choices and value not in choices:
            self.problem(path, value, f"allowed: {', '.join(choices)}{f' ({why})' if why else ''}")
            return None, False
        if (pattern is not None and not pattern.match(value)) or (check is not None and not check(value)):
            self.problem(path, value, describe or f"must match {pattern.pattern if pattern else 'the format'}")
            return None, False
        return value, True

    def integer(
        self,
        path: str,
        value: Any,
        lo: int,
        hi: int,
        *,
        check: Callable[[int], bool] | None = None,
        describe: str = "",
    ) -> tuple[Any, bool]:
        if isinstance(value, bool) or not isinstance(value, int):
            # Pulumi config set without --path stores numbers as strings.
            if isinstance(value, str) and _INTEGER_TEXT.fullmatch(value.strip()):
                value = int(value)
            else:
                self.problem(path, value, f"expected an integer from {lo} to {hi}")
                return None, False
        if not lo <= value <= hi:
            self.problem(path, value, f"allowed: an integer from {lo} to {hi}")
            return None, False
        if check is not None and not check(value):
            self.problem(path, value, describe)
            return None, False
        return value, True

    def boolean(self, path: str, value: Any) -> tuple[Any, bool]:
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true", True
        if not isinstance(value, bool):
            self.problem(path, value, "expected true or false")
            return None, False
        return value, True

    def texts(
        self,
        path: str,
        value: Any,
        *,
        pattern: re.Pattern | None = None,
        check: Callable[[str], bool] | None = None,
        describe: str = "",
    ) -> tuple[Any, bool]:
        """A list of strings; the good items are kept, each bad one is reported with its index."""
        if not isinstance(value, list):
            self.problem(path, value, "expected a list")
            return None, False
        good: list[str] = []
        for i, item in enumerate(value):
            if not isinstance(item, str):
                self.problem(f"{path}[{i}]", item, f"expected a string{'; ' + describe if describe else ''}")
            elif (pattern is not None and not pattern.match(item)) or (check is not None and not check(item)):
                self.problem(f"{path}[{i}]", item, describe)
            else:
                good.append(item)
        return tuple(good), True


# --------------------------------------------------------------------------- shared validators


def is_cidr(value: str) -> bool:
    try:
        net = ipaddress.ip_network(value, strict=True)
    except ValueError:
        return False
    return "/" in value and net.version == 4


def is_ipv4(value: str) -> bool:
    try:
        return ipaddress.ip_address(value).version == 4
    except ValueError:
        return False


def is_explicit_host(value: str) -> bool:
    """A DNS name naming one host (no wildcard): what an allow-list or a firewall rule admits."""
    return len(value) <= 253 and bool(_HOSTNAME.match(value))


def is_host_or_wildcard(value: str) -> bool:
    """A DNS name or a ``*.domain`` wildcard (never ``*``): what a certificate names, what a namespace may claim."""
    return is_explicit_host(value) or (len(value) <= 253 and bool(_WILDCARD_HOSTNAME.match(value)))


def is_host_pattern(value: str) -> bool:
    """A DNS name, a ``*.domain`` wildcard or ``*``: what a gateway may serve."""
    return value == "*" or is_host_or_wildcard(value)


def is_whole_internet(cidr: str) -> bool:
    return ipaddress.ip_network(cidr).prefixlen == 0


# Ranges that are not public internet addresses (IANA IPv4 Special-Purpose Address Registry, RFC 6890): a
# firewall rule for them never matches a caller on the internet. The Key Vault firewall refuses private
# ranges outright ("any IP range inside 10.0.0.0-10.255.255.255 (private IP addresses) cannot be used to add
# network rules", learn.microsoft.com Add-AzKeyVaultNetworkRule). Documentation ranges (TEST-NET, RFC 5737)
# stay allowed: the example stacks use them as placeholders.
NON_PUBLIC_RANGES: tuple[tuple[str, str], ...] = (
    ("0.0.0.0/8", "'this network' (RFC 791)"),
    ("10.0.0.0/8", "private (RFC 1918)"),
    ("100.64.0.0/10", "carrier-grade NAT shared space (RFC 6598)"),
    ("127.0.0.0/8", "loopback (RFC 1122)"),
    ("169.254.0.0/16", "link-local (RFC 3927)"),
    ("172.16.0.0/12", "private (RFC 1918)"),
    ("192.0.0.0/24", "IETF protocol assignments (RFC 6890)"),
    ("192.168.0.0/16", "private (RFC 1918)"),
    ("198.18.0.0/15", "benchmarking (RFC 2544)"),
    ("224.0.0.0/4", "multicast (RFC 5771)"),
    ("240.0.0.0/4", "reserved (RFC 1112)"),
)


def non_public_reason(cidr: str) -> str | None:
    """Why a valid IPv4 CIDR is not a public address range, or None when it is one."""
    net = ipaddress.ip_network(cidr)
    if net.prefixlen == 0:
        return "the whole internet"
    for special, what in NON_PUBLIC_RANGES:
        if net.overlaps(ipaddress.ip_network(special)):
            return f"overlaps {special}, {what}"
    return None
