"""``ingress`` and ``egress``: the TLS edge with JWT, the HTTPS-only egress allow-list, the ingress TLS secrets."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from stack_config.kinds import EXPLICIT_HOST, HOST_PATTERNS, HOSTS_OR_WILDCARDS, K8S_NAME
from stack_config.reader import ConfigError
from stack_config.spec import (
    Boolean,
    ByClass,
    Integer,
    MapOf,
    Objects,
    Read,
    Required,
    Text,
    Texts,
    key,
    on_environment_stacks,
    rules,
)

if TYPE_CHECKING:
    import pulumi

TLS_VERSIONS = ("TLSV1_2", "TLSV1_3")
INGRESS_TLS_SOURCES = ("keyVault", "config")
EGRESS_PROTOCOLS = ("TLS", "HTTPS")

# Secret config keys (set with `pulumi config set --secret`): their values never pass through parse_config.
INGRESS_TLS_CERT_KEY = "ingressTlsCertificate"
INGRESS_TLS_KEY_KEY = "ingressTlsPrivateKey"
SECRET_KEYS = (INGRESS_TLS_CERT_KEY, INGRESS_TLS_KEY_KEY)


@dataclass(frozen=True)
class SecretKey:
    name: str
    doc: str


SECRETS = (
    SecretKey(
        INGRESS_TLS_CERT_KEY,
        "PEM certificate chain of the ingress hosts; required when ingress.tlsSource is "
        "config (`pulumi config set --secret ingressTlsCertificate < cert.pem`)",
    ),
    SecretKey(INGRESS_TLS_KEY_KEY, "PEM private key of that certificate; required when ingress.tlsSource is config"),
)

_HTTPS_URL = re.compile(r"^https://[A-Za-z0-9.-]+(:\d+)?(/[^\s]*)?$")


def _claim(s: Read, path: str, name: Any, values: Any) -> tuple[str, tuple[str, ...]] | None:
    # An empty allowed value admits a token whose claim is "": it says nothing about the caller.
    if not isinstance(values, list) or not values or not all(isinstance(v, str) and v for v in values):
        s.r.problem(f"{path}.{name}", values, "expected a non-empty list of non-empty strings")
    elif not str(name):
        s.r.problem(path, name, "a claim name must not be empty")
    else:
        return str(name), tuple(values)
    return None


# Claim name to the values a token's claim may take.
CLAIMS = MapOf("claim name to a list of allowed values", "claim name to a non-empty list of non-empty strings", _claim)


@dataclass(frozen=True)
class JwtIssuerConfig:
    issuer: str = key(
        "issuer",
        Text(check=lambda v: bool(v.strip()), describe="allowed: the token issuer (iss claim), not empty"),
        "the token issuer (iss claim)",
        required=Required(),
    )
    jwks_uri: str = key(
        "jwksUri",
        Text(pattern=_HTTPS_URL, describe="allowed: an https:// URL of the issuer's JSON Web Key Set"),
        "where the issuer publishes its signing keys",
        required=Required(),
    )
    # Without an audience check a token minted for any other application would be accepted.
    audiences: tuple[str, ...] = key(
        "audiences",
        Texts(check=lambda v: bool(v.strip()), describe="allowed: an audience (aud claim), not empty"),
        "accepted aud claims",
        default=(),
        required=Required("at least one accepted audience (aud claim)"),
    )
    hosts: tuple[str, ...] = key(
        "hosts", Texts(describe="allowed: one of ingress.hosts"), "protected hosts (unset: every host)", default=()
    )
    paths: tuple[str, ...] = key(
        "paths",
        Texts(check=lambda v: v.startswith("/"), describe="allowed: a path starting with /"),
        "protected paths (unset: every path)",
        default=(),
    )
    required_claims: tuple[tuple[str, tuple[str, ...]], ...] = key(
        "requiredClaims",
        CLAIMS,
        "claims a token must carry, with their allowed values",
        default=(),
    )
    forward_original_token: bool = key("forwardOriginalToken", Boolean(), "pass the token on to the app", default=False)


@rules(JwtIssuerConfig)
def _jwt_issuer(s: Read) -> None:
    ingress_hosts = s.parent.values["hosts"] if s.parent is not None else ()
    hosts = s.raw.get("hosts")
    for i, host in enumerate(hosts if isinstance(hosts, list) else []):
        if isinstance(host, str) and host not in ingress_hosts:
            s.r.problem(
                f"{s.at('hosts')}[{i}]",
                host,
                f"allowed: one of ingress.hosts ({', '.join(ingress_hosts) or 'none set'})",
            )
    s.values["hosts"] = tuple(h for h in s.values["hosts"] if h in ingress_hosts)


@dataclass(frozen=True)
class IngressConfig:
    hosts: tuple[str, ...] = key(
        "hosts",
        HOST_PATTERNS,
        "host names the ingress gateway serves; `*` only outside prod",
        default=(),
        required=on_environment_stacks("at least one host name the ingress gateway serves, e.g. *.apps.example.com"),
    )
    tls_source: str = key(
        "tlsSource",
        Text(choices=INGRESS_TLS_SOURCES),
        "keyVault: the operator imports the certificate into the vault; config: the secret keys below",
        default="keyVault",
    )
    # Key Vault source: the program cannot read the certificate before the operator imports it, so its names
    # are declared and every host is checked against them (a host the certificate does not cover fails TLS).
    tls_certificate_dns_names: tuple[str, ...] = key(
        "tlsCertificateDnsNames",
        HOSTS_OR_WILDCARDS,
        "the DNS names (SANs) of the Key Vault certificate; every host must be covered by one",
        default=(),
    )
    tls_key_vault_certificate_name: str = key(
        "tlsKeyVaultCertificateName",
        Text(pattern=re.compile(r"^[A-Za-z0-9-]{1,127}$"), describe="allowed: a Key Vault certificate name"),
        "certificate name in the environment's Key Vault",
        default="ingress-wildcard",
    )
    min_tls_version: str = key(
        "minTlsVersion", Text(choices=TLS_VERSIONS), "lowest TLS version, at most maxTlsVersion", default="TLSV1_2"
    )
    max_tls_version: str = key("maxTlsVersion", Text(choices=TLS_VERSIONS), "highest TLS version", default="TLSV1_3")
    jwt_issuers: tuple[JwtIssuerConfig, ...] = key(
        "jwtIssuers",
        Objects(JwtIssuerConfig),
        "token issuers; each protects distinct hosts or paths",
        default=(),
    )
    namespace: str = key("namespace", K8S_NAME, "ingress gateway namespace", default="istio-ingress")
    replicas: int = key("replicas", Integer(1, 20), "ingress gateway pods", default=ByClass(prod=3, nonprod=1))
    # The secret values, read as Outputs by load_config when tlsSource is config (never plain config data).
    tls_certificate_pem: pulumi.Output[str] | None = field(default=None, repr=False, compare=False)
    tls_private_key_pem: pulumi.Output[str] | None = field(default=None, repr=False, compare=False)


@rules(IngressConfig)
def _ingress(s: Read) -> None:
    v, ctx = s.values, s.ctx
    if ctx.prod:
        for i, host in enumerate(v["hosts"]):
            if host == "*":
                s.r.problem(f"{s.at('hosts')}[{i}]", host, "prod allows explicit or *.domain hosts, never '*'")
    if v["tls_source"] == "config" and ctx.full_environment:
        for name in SECRET_KEYS:
            if name not in ctx.present_secrets:
                s.r.report(
                    name,
                    f"required when ingress.tlsSource is config; set it with "
                    f"`pulumi config set --secret {name} < file.pem`",
                )
    if v["tls_source"] == "keyVault" and ctx.full_environment and not v["tls_certificate_dns_names"]:
        s.report(
            "tlsCertificateDnsNames",
            "required when tlsSource is keyVault: the DNS names of the certificate in the vault, e.g. "
            "['*.apps.example.com'], so every host is checked against them",
        )
    elif v["tls_source"] == "keyVault" and ctx.full_environment and not s.failed("tlsCertificateDnsNames"):
        for i, host in enumerate(v["hosts"]):
            # '*' (dev only) takes any name: no certificate covers it, and none is expected to.
            if host != "*" and not host_covered(host, v["tls_certificate_dns_names"]):
                s.r.problem(
                    f"{s.at('hosts')}[{i}]",
                    host,
                    f"not covered by ingress.tlsCertificateDnsNames ({', '.join(v['tls_certificate_dns_names'])}): "
                    "clients would get a certificate name mismatch; add the name to the certificate (and the list) "
                    "or serve the host from another certificate",
                )
    if TLS_VERSIONS.index(v["min_tls_version"]) > TLS_VERSIONS.index(v["max_tls_version"]):
        s.problem("minTlsVersion", v["min_tls_version"], f"must not be above maxTlsVersion ({v['max_tls_version']})")
    _check_jwt_scopes(s, v["jwt_issuers"], s.item_paths.get(s.at("jwtIssuers"), []), v["hosts"])


def certificate_dns_names(pem: str) -> list[str] | None:
    """The DNS names in the subjectAltName of the first certificate of a PEM chain (the leaf); None if unreadable."""
    from cryptography import x509

    try:
        leaf = x509.load_pem_x509_certificates(pem.encode())[0]
    except (ValueError, IndexError):
        return None
    try:
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return san.get_values_for_type(x509.DNSName)


def check_certificate_covers(pem: str, hosts: Sequence[str]) -> str:
    """``pem`` unchanged when its leaf's DNS names cover every host; else a ConfigError naming each host.

    A value that is no PEM certificate cannot be checked: a warning, not an error, because the offline preview
    stands placeholders in for secret config it cannot decrypt (the gateway would refuse a real bad value).
    """
    names = certificate_dns_names(pem)
    if names is None:
        import pulumi

        pulumi.log.warn(f"{INGRESS_TLS_CERT_KEY}: not a PEM certificate chain; its names were not checked")
        return pem
    problems = [
        f"ingress.hosts: {host!r} is not covered by the certificate in {INGRESS_TLS_CERT_KEY} (its DNS names: "
        f"{', '.join(names) or 'none'}); clients would get a name mismatch"
        for host in hosts
        if host != "*" and not host_covered(host, names)
    ]
    if problems:
        raise ConfigError(problems)
    return pem


def host_covered(host: str, names: Sequence[str]) -> bool:
    """Whether a certificate with these DNS names serves ``host`` (RFC 6125 6.4.3: a wildcard covers one label).

    A wildcard host (``*.apps.example.com``) is covered only by the same wildcard: a name for one of its
    subdomains leaves the others uncovered.
    """
    host = host.lower()
    for name in (n.lower() for n in names):
        if host == name:
            return True
        if name.startswith("*.") and not host.startswith("*.") and "." in host and host.split(".", 1)[1] == name[2:]:
            return True
    return False


def _check_jwt_scopes(
    s: Read, issuers: Sequence[JwtIssuerConfig], paths: Sequence[str], ingress_hosts: Sequence[str]
) -> None:
    """Each issuer's hosts/paths demand *its* token; two issuers on the same host and path would deny everyone."""

    def scope(issuer: JwtIssuerConfig) -> tuple[set[str], set[str] | None]:
        return set(issuer.hosts or ingress_hosts), (set(issuer.paths) if issuer.paths else None)

    for i, a in enumerate(issuers):
        hosts_a, paths_a = scope(a)
        for j in range(i + 1, len(issuers)):
            hosts_b, paths_b = scope(issuers[j])
            if hosts_a & hosts_b and (paths_a is None or paths_b is None or paths_a & paths_b):
                s.r.report(
                    paths[j],
                    f"protects {sorted(hosts_a & hosts_b)} like {paths[i]}; a request carries "
                    "one token, so give each issuer distinct hosts or paths",
                )


@dataclass(frozen=True)
class EgressHost:
    host: str = key(
        "host",
        EXPLICIT_HOST,
        "external host workloads may reach; a bare string item is the host",
        required=Required(),
    )
    port: int = key(
        "port",
        Integer(1, 65535, check=lambda p: p == 443, describe="allowed: 443 (egress is HTTPS only)"),
        "destination port",
        default=443,
    )
    protocol: str = key(
        "protocol",
        Text(choices=EGRESS_PROTOCOLS, why="egress is HTTPS only"),
        "TLS or HTTPS, the same on the wire",
        default="TLS",
    )


@rules(EgressHost)
def _egress_host(s: Read) -> None:
    if any(s.failed(name) for name in ("host", "port", "protocol")):
        s.drop = True
    # The egress gateway routes the client's own TLS by SNI: an HTTPS host is a TLS host to the mesh.
    s.values["protocol"] = "TLS"


@dataclass(frozen=True)
class EgressConfig:
    hosts: tuple[EgressHost, ...] = key(
        "hosts",
        Objects(EgressHost, shorthand="host"),
        "the HTTPS hosts workloads may call; nothing else leaves the mesh",
        default=(),
    )
    namespace: str = key("namespace", K8S_NAME, "egress gateway namespace", default="istio-egress")
    replicas: int = key("replicas", Integer(1, 20), "egress gateway pods", default=ByClass(prod=2, nonprod=1))

    @property
    def host_names(self) -> tuple[str, ...]:
        """The allow-list: the host names of ``hosts``, in order."""
        return tuple(h.host for h in self.hosts)


def check_egress(s: Read) -> None:
    """Prod names, for every app namespace let out, the external hosts it may reach (``egressHosts``).

    Outside prod a namespace with ``egress: true`` and no ``egressHosts`` may reach every host of
    ``egress.hosts``; in prod the egress gateway's authorization must come from an explicit list.
    """
    if not s.ctx.prod or s.r.failed("appNamespaces"):
        return
    for path, ns in s.items("appNamespaces", "app_namespaces"):
        if ns.egress and not ns.egress_hosts:
            s.r.report(
                f"{path}.egressHosts",
                "required in prod with egress: true: list the hosts of egress.hosts this namespace may reach",
            )


@rules(EgressConfig)
def _egress(s: Read) -> None:
    s.r.listed_once(((path, entry.host) for path, entry in s.items("hosts", "hosts")), "host")
