"""Pulumi mocks for this platform: what Azure, the providers and StackReferences would answer.

``PlatformMocks`` implements ``pulumi.runtime.Mocks``: ``new_resource`` gives each resource type the
outputs its real provider returns and the program reads back (ARM ids, cluster FQDN, OIDC issuer, kubelet
and add-on identities, vault URI, secret URIs, workspace customer id, public IP, TLS keys and
certificates), ``call`` answers the invokes (client config, cluster user credentials).

TLS resources (``tls`` provider) answer with real key material generated at run time, so tests can verify a
certificate chain with ``cryptography``: keys are cached per stack and resource name (the same run gives the
same key), RSA keys are generated at 2048 bits whatever ``rsaBits`` asks (tests assert the requested size on
the inputs; a 4096-bit key costs a second each). Nothing real is ever committed: ``fake_pem`` blobs stand in
where a test only needs something PEM-shaped.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import ipaddress
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from pulumi.runtime.mocks import MockCallArgs, MockResourceArgs, Mocks

from policies.k8s_versions import default_minor
from tools import wire

SUBSCRIPTION_ID = "8c3f5d2a-1b4e-4f6a-9d7c-2e5b8a1c4f90"
TENANT_ID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
DEPLOYER_OBJECT_ID = "3d9a7c1e-5f2b-4a8d-b6e4-9c0f1a2b3c4d"
DEPLOYER_CLIENT_ID = "a1b2c3d4-e5f6-4789-abcd-ef0123456789"


# --------------------------------------------------------------------------- fake key material


def fake_pem(label: str, seed: str, lines: int = 12) -> str:
    """A PEM-shaped blob, unique per seed; never a real key (tests must not carry real key material)."""
    body = b"".join(hashlib.sha512(f"{seed}:{i}".encode()).digest() for i in range(lines))
    text = base64.b64encode(body).decode()
    wrapped = "\n".join(text[i : i + 64] for i in range(0, len(text), 64))
    return f"-----BEGIN {label}-----\n{wrapped}\n-----END {label}-----\n"


def fake_private_key(seed: str) -> str:
    return fake_pem("RSA " + "PRIVATE KEY", seed, 48)


def fake_certificate(seed: str) -> str:
    return fake_pem("CERTIFICATE", seed, 20)


def fake_kubeconfig(cluster: str, fqdn: str) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": cluster,
                    "cluster": {
                        "server": f"https://{fqdn}:443",
                        "certificate-authority-data": base64.b64encode(fake_certificate(cluster).encode()).decode(),
                    },
                }
            ],
            "contexts": [{"name": cluster, "context": {"cluster": cluster, "user": f"clusterUser_{cluster}"}}],
            "current-context": cluster,
            "users": [
                {
                    "name": f"clusterUser_{cluster}",
                    "user": {
                        "exec": {
                            "apiVersion": "client.authentication.k8s.io/v1beta1",
                            "command": "kubelogin",
                            "args": [
                                "get-token",
                                "--login",
                                "azurecli",
                                "--server-id",
                                "6dae42f8-4368-4678-94ff-3960e28e3630",
                            ],
                        }
                    },
                }
            ],
        },
        sort_keys=False,
    )


# --------------------------------------------------------------------------- mocks


def _arm_id(rg: str, provider: str, name: str) -> str:
    return f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/{rg}/providers/{provider}/{name}"


def _placed(args: MockResourceArgs, name_input: str) -> tuple[str, str]:
    """(resource group, name) of an ARM resource: its inputs, or the Pulumi name when the program lets Azure name it."""
    return args.inputs.get("resourceGroupName", "rg"), args.inputs.get(name_input, args.name)


def _seed(m: PlatformMocks, *parts: str) -> str:
    """Stable per stack and resource: the same program gives the same ids on every run."""
    return hashlib.sha1(":".join((m.stack, *parts)).encode()).hexdigest()


def _guid(head: str, digit: str, tail: str) -> str:
    """A GUID-shaped id (version 4, variant 8) whose middle groups repeat ``digit``, to tell the ids apart."""
    return f"{head}-{digit * 4}-4{digit * 3}-8{digit * 3}-{tail}"


class PlatformMocks(Mocks):
    """Answers the engine's questions with values shaped like Azure's and the providers' real ones."""

    def __init__(self, stack: str, stack_references: Mapping[str, Mapping[str, Any]] | None = None):
        self.stack = stack
        self.stack_references = dict(stack_references or {})
        self.subnet_prefixes: dict[str, str] = {}  # subnet id -> address prefix, for the addresses Azure assigns

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict]:
        handler = _RESOURCE_OUTPUTS.get(args.typ)
        state = dict(args.inputs)
        rid = f"{args.name}-id"
        if handler is not None:
            rid, extra = handler(self, args)
            state.update(extra)
        elif args.typ.startswith("azure-native:"):
            rg = args.inputs.get("resourceGroupName", "rg")
            provider_path = args.typ.split(":")[1]
            rid = _arm_id(rg, f"Microsoft.{provider_path}", args.inputs.get("name", args.name))
            state.setdefault("name", args.name)
        return rid, state

    def call(self, args: MockCallArgs) -> tuple[dict, list[tuple[str, str]] | None]:
        handler = _CALL_OUTPUTS.get(args.token)
        if handler is None:
            return {}, []
        # No check failures: an empty list (pulumi's MockMonitor iterates it).
        return handler(self, args), []


def _resource_group(m: PlatformMocks, args: MockResourceArgs) -> tuple[str, dict]:
    name = args.inputs.get("resourceGroupName", args.name)
    return f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/{name}", {"name": name}


def _addon_identity(m: PlatformMocks, rg: str, cluster: str, addon: str) -> dict:
    seed = _seed(m, cluster, addon)
    return {
        "clientId": _guid(seed[:8], "3", seed[-12:]),
        "objectId": _guid(seed[8:16], "4", seed[:12]),
        "resourceId": _arm_id(
            f"MC_{rg}_{cluster}", "Microsoft.ManagedIdentity", f"userAssignedIdentities/{addon.lower()}-{cluster}"
        ),
    }


def _cluster_identity(identity: Mapping[str, Any], seed: str) -> dict[str, Any]:
    """A system-assigned identity gets a principal; user-assigned ones come back as a map keyed by their IDs."""
    assigned = identity.get("userAssignedIdentities")
    if isinstance(assigned, list):
        return {
            **identity,
            "userAssignedIdentities": {i: {"principalId": _guid(seed[16:24], "5", seed[4:16])} for i in assigned},
            "tenantId": TENANT_ID,
        }
    return {**identity, "principalId": _guid(seed[16:24], "2", seed[4:16]), "tenantId": TENANT_ID}


def _managed_cluster(m: PlatformMocks, args: MockResourceArgs) -> tuple[str, dict]:
    rg, name = _placed(args, "resourceName")
    fqdn = f"{args.inputs.get('dnsPrefix', name)}-a1b2c3d4.hcp.{args.inputs.get('location', 'westeurope')}.azmk8s.io"
    seed = _seed(m, name)
    kubelet_id = _arm_id(f"MC_{rg}_{name}", "Microsoft.ManagedIdentity", f"userAssignedIdentities/{name}-agentpool")
    return _arm_id(rg, "Microsoft.ContainerService", f"managedClusters/{name}"), {
        "name": name,
        "fqdn": fqdn,
        "nodeResourceGroup": args.inputs.get(
            "nodeResourceGroup", f"MC_{rg}_{name}_{args.inputs.get('location', 'westeurope')}"
        ),
        "oidcIssuerProfile": {
            **(args.inputs.get("oidcIssuerProfile") or {}),
            "issuerURL": f"https://westeurope.oic.prod-aks.azure.com/{TENANT_ID}/{seed[:8]}-{seed[8:12]}-{seed[12:16]}-{seed[16:20]}-{seed[20:32]}/",
        },
        "identityProfile": {
            "kubeletidentity": {
                "clientId": _guid(seed[:8], "0", seed[-12:]),
                "objectId": _guid(seed[8:16], "1", seed[:12]),
                "resourceId": kubelet_id,
            }
        },
        "identity": _cluster_identity(args.inputs.get("identity") or {}, seed),
        # AKS gives each enabled add-on its own managed identity in the node resource group.
        "addonProfiles": {
            addon: {**profile, "identity": _addon_identity(m, rg, name, addon)} if profile.get("enabled") else profile
            for addon, profile in (args.inputs.get("addonProfiles") or {}).items()
        },
        "provisioningState": "Succeeded",
        "powerState": {"code": "Running"},
        # AKS reports the patch it runs: the pinned minor's first patch, or the program's default minor.
        "currentKubernetesVersion": _current_version(args.inputs.get("kubernetesVersion")),
    }


def _current_version(requested: Any) -> str:
    version = requested if isinstance(requested, str) and requested else default_minor(date.today())
    return version if version.count(".") == 2 else f"{version}.0"


def _vault(m: PlatformMocks, args: MockResourceArgs) -> tuple[str, dict]:
    rg, name = _placed(args, "vaultName")
    props = dict(args.inputs.get("properties") or {})
    props["vaultUri"] = f"https://{name}.vault.azure.net/"
    return _arm_id(rg, "Microsoft.KeyVault", f"vaults/{name}"), {"name": name, "properties": props}


def _vault_secret(m: PlatformMocks, args: MockResourceArgs) -> tuple[str, dict]:
    rg, name = _placed(args, "secretName")
    vault = args.inputs.get("vaultName", "vault")
    props = args.inputs.get("properties") or {}
    if wire.is_secret(props):
        props = props.get("value") or {}  # the whole object is secret when its value is (the SDK lifts it)
    props = dict(props)
    props.pop("value", None)  # ARM never returns a secret's value
    props["secretUri"] = f"https://{vault}.vault.azure.net/secrets/{name}"
    props["secretUriWithVersion"] = f"https://{vault}.vault.azure.net/secrets/{name}/0123456789abcdef0123456789abcdef"
    return _arm_id(rg, "Microsoft.KeyVault", f"vaults/{vault}/secrets/{name}"), {"name": name, "properties": props}


def _vault_key(m: PlatformMocks, args: MockResourceArgs) -> tuple[str, dict]:
    rg, name = _placed(args, "keyName")
    vault = args.inputs.get("vaultName", "vault")
    version = hashlib.sha1(f"{m.stack}:{vault}:{name}".encode()).hexdigest()[:32]
    return _arm_id(rg, "Microsoft.KeyVault", f"vaults/{vault}/keys/{name}"), {
        "name": name,
        "keyUri": f"https://{vault}.vault.azure.net/keys/{name}",
        "keyUriWithVersion": f"https://{vault}.vault.azure.net/keys/{name}/{version}",
    }


def _workspace(m: PlatformMocks, args: MockResourceArgs) -> tuple[str, dict]:
    rg, name = _placed(args, "workspaceName")
    seed = _seed(m, name)
    return _arm_id(rg, "Microsoft.OperationalInsights", f"workspaces/{name}"), {
        "name": name,
        "customerId": f"{seed[:8]}-{seed[8:12]}-4{seed[13:16]}-8{seed[17:20]}-{seed[20:32]}",
    }


def _public_ip(m: PlatformMocks, args: MockResourceArgs) -> tuple[str, dict]:
    rg, name = _placed(args, "publicIpAddressName")
    digest = hashlib.sha1(f"{m.stack}:{name}".encode()).digest()
    ip = f"20.{50 + digest[0] % 100}.{digest[1]}.{max(digest[2], 1)}"
    state: dict[str, Any] = {"name": name, "ipAddress": ip}
    dns = args.inputs.get("dnsSettings")
    if isinstance(dns, Mapping) and dns.get("domainNameLabel"):
        state["dnsSettings"] = {
            **dns,
            "fqdn": f"{dns['domainNameLabel']}.{args.inputs.get('location', 'westeurope')}.cloudapp.azure.com",
        }
    return _arm_id(rg, "Microsoft.Network", f"publicIPAddresses/{name}"), state


def _virtual_network(m: PlatformMocks, args: MockResourceArgs) -> tuple[str, dict]:
    rg, name = _placed(args, "virtualNetworkName")
    return _arm_id(rg, "Microsoft.Network", f"virtualNetworks/{name}"), {"name": name}


def _subnet(m: PlatformMocks, args: MockResourceArgs) -> tuple[str, dict]:
    rg, name = _placed(args, "subnetName")
    vnet = args.inputs.get("virtualNetworkName", "vnet")
    subnet_id = _arm_id(rg, "Microsoft.Network", f"virtualNetworks/{vnet}/subnets/{name}")
    if args.inputs.get("addressPrefix"):
        m.subnet_prefixes[subnet_id] = args.inputs["addressPrefix"]
    return subnet_id, {"name": name}


def _azure_firewall(m: PlatformMocks, args: MockResourceArgs) -> tuple[str, dict]:
    """Azure gives the firewall the fourth address of AzureFirewallSubnet (the first usable one)."""
    rg, name = _placed(args, "azureFirewallName")
    configs = []
    for config in args.inputs.get("ipConfigurations") or []:
        prefix = m.subnet_prefixes.get(((config or {}).get("subnet") or {}).get("id", ""))
        address = str(ipaddress.IPv4Network(prefix).network_address + 4) if prefix else "10.0.0.4"
        configs.append({**config, "privateIPAddress": address})
    return _arm_id(rg, "Microsoft.Network", f"azureFirewalls/{name}"), {"name": name, "ipConfigurations": configs}


def _named(
    provider: str, collection: str, name_input: str
) -> Callable[[PlatformMocks, MockResourceArgs], tuple[str, dict]]:
    """A top-level ARM resource whose ID and ``name`` come from its name input (e.g. ``routeTableName``)."""

    def handler(m: PlatformMocks, args: MockResourceArgs) -> tuple[str, dict]:
        rg, name = _placed(args, name_input)
        return _arm_id(rg, provider, f"{collection}/{name}"), {"name": name}

    return handler


def _user_assigned_identity(m: PlatformMocks, args: MockResourceArgs) -> tuple[str, dict]:
    rg, name = _placed(args, "resourceName")
    seed = _seed(m, name)
    return _arm_id(rg, "Microsoft.ManagedIdentity", f"userAssignedIdentities/{name}"), {
        "name": name,
        "clientId": _guid(seed[:8], "a", seed[-12:]),
        "principalId": _guid(seed[8:16], "b", seed[:12]),
        "tenantId": TENANT_ID,
    }


# --------------------------------------------------------------------------- real TLS material

MOCK_VALIDITY_START = datetime.datetime(2026, 11, 26, tzinfo=datetime.UTC)
_MOCK_RSA_BITS = 2048
_KEYS: dict[tuple[str, str], Any] = {}  # (algorithm, seed) -> private key, for the life of the process

_SUBJECT_OIDS = {
    "commonName": NameOID.COMMON_NAME,
    "organization": NameOID.ORGANIZATION_NAME,
    "organizationalUnit": NameOID.ORGANIZATIONAL_UNIT_NAME,
    "locality": NameOID.LOCALITY_NAME,
    "province": NameOID.STATE_OR_PROVINCE_NAME,
    "country": NameOID.COUNTRY_NAME,
}


def real_private_key(algorithm: str, seed: str) -> Any:
    """A real private key, the same one for the same seed within a process."""
    key = _KEYS.get((algorithm, seed))
    if key is None:
        if algorithm == "ECDSA":
            key = ec.generate_private_key(ec.SECP384R1())
        else:
            key = rsa.generate_private_key(public_exponent=65537, key_size=_MOCK_RSA_BITS)
        _KEYS[algorithm, seed] = key
    return key


def self_signed_certificate(
    key: Any, common_name: str, *, days: int, start: datetime.datetime | None = None, dns_names: Sequence[str] = ()
) -> str:
    """A self-signed PEM certificate for a test's own throwaway ``key`` (valid from ``start``, default now)."""
    start = start or datetime.datetime.now(datetime.UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=days))
    )
    if dns_names:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(n) for n in dns_names]), critical=False
        )
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode()


def key_pem(key: Any) -> str:
    """A private key as the tls provider's ``privateKeyPem`` (PKCS#1 for RSA, SEC1 for ECDSA)."""
    fmt = (
        serialization.PrivateFormat.TraditionalOpenSSL
        if isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey))
        else serialization.PrivateFormat.PKCS8
    )
    return key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption()).decode()


def _text(value: Any) -> str:
    """A string input, unwrapped if the engine sent it as a secret."""
    return str(value.get("value", "") if wire.is_secret(value) else value or "")


def _load_key(pem: Any) -> Any:
    return serialization.load_pem_private_key(_text(pem).encode(), password=None)


def _name(subject: Any) -> x509.Name:
    subject = subject if isinstance(subject, Mapping) else {}
    attrs = [x509.NameAttribute(oid, str(subject[k])) for k, oid in _SUBJECT_OIDS.items() if subject.get(k)]
    return x509.Name(attrs)


def _serial(seed: str) -> int:
    return int.from_bytes(hashlib.sha256(seed.encode()).digest()[:16], "big") >> 1


def _rfc3339(when: datetime.datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _sign(
    inputs: Mapping[str, Any], subject: x509.Name, public_key: Any, issuer: x509.Name, ca_key: Any, seed: str
) -> tuple[str, dict]:
    """A certificate as the tls provider builds it from ``allowedUses``, ``isCaCertificate`` and the validity."""
    hours = int(inputs.get("validityPeriodHours") or 0)
    end = MOCK_VALIDITY_START + datetime.timedelta(hours=hours)
    uses = set(inputs.get("allowedUses") or [])
    is_ca = bool(inputs.get("isCaCertificate"))
    path_length = int(inputs["maxPathLength"]) if is_ca and inputs.get("maxPathLength") is not None else None
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(_serial(seed))
        .not_valid_before(MOCK_VALIDITY_START)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=path_length), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature="digital_signature" in uses,
                content_commitment="content_commitment" in uses,
                key_encipherment="key_encipherment" in uses,
                data_encipherment="data_encipherment" in uses,
                key_agreement="key_agreement" in uses,
                key_cert_sign="cert_signing" in uses,
                crl_sign="crl_signing" in uses,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )
    if inputs.get("setSubjectKeyId"):
        builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    if ca_key.public_key() != public_key:
        # Go's x509.CreateCertificate copies the issuer's subject key id into the authority key id.
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
    dns_names = inputs.get("dnsNames") or []
    if dns_names:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(d) for d in dns_names]), False)
    cert = builder.sign(ca_key, hashes.SHA256())
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    return hashlib.sha1(seed.encode()).hexdigest(), {
        "certPem": pem,
        "validityStartTime": _rfc3339(MOCK_VALIDITY_START),
        "validityEndTime": _rfc3339(end),
        "readyForRenewal": False,
    }


def _tls_private_key(m: PlatformMocks, args: MockResourceArgs) -> tuple[str, dict]:
    seed = f"{m.stack}:{args.name}"
    key = real_private_key(str(args.inputs.get("algorithm", "RSA")), seed)
    public = key.public_key()
    return hashlib.sha1(seed.encode()).hexdigest(), {
        "privateKeyPem": key_pem(key),
        "privateKeyPemPkcs8": key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode(),
        "privateKeyOpenssh": key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
        ).decode(),
        "publicKeyPem": public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode(),
        "publicKeyOpenssh": public.public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
        ).decode(),
        "publicKeyFingerprintSha256": "SHA256:" + base64.b64encode(hashlib.sha256(seed.encode()).digest()).decode(),
    }


def _tls_self_signed_cert(m: PlatformMocks, args: MockResourceArgs) -> tuple[str, dict]:
    key = _load_key(args.inputs.get("privateKeyPem", ""))
    subject = _name(args.inputs.get("subject"))
    return _sign(args.inputs, subject, key.public_key(), subject, key, f"{m.stack}:{args.name}")


def _tls_cert_request(m: PlatformMocks, args: MockResourceArgs) -> tuple[str, dict]:
    key = _load_key(args.inputs.get("privateKeyPem", ""))
    builder = x509.CertificateSigningRequestBuilder().subject_name(_name(args.inputs.get("subject")))
    dns_names = args.inputs.get("dnsNames") or []
    if dns_names:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(d) for d in dns_names]), False)
    csr = builder.sign(key, hashes.SHA256())
    return hashlib.sha1(f"{m.stack}:{args.name}".encode()).hexdigest(), {
        "certRequestPem": csr.public_bytes(serialization.Encoding.PEM).decode()
    }


def _tls_locally_signed_cert(m: PlatformMocks, args: MockResourceArgs) -> tuple[str, dict]:
    csr = x509.load_pem_x509_csr(_text(args.inputs.get("certRequestPem")).encode())
    ca_cert = x509.load_pem_x509_certificate(_text(args.inputs.get("caCertPem")).encode())
    ca_key = _load_key(args.inputs.get("caPrivateKeyPem", ""))
    inputs = dict(args.inputs)
    try:
        san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        inputs["dnsNames"] = san.get_values_for_type(x509.DNSName)
    except x509.ExtensionNotFound:
        pass
    return _sign(inputs, csr.subject, csr.public_key(), ca_cert.subject, ca_key, f"{m.stack}:{args.name}")


def self_signed_pair(seed: str, common_name: str, hours: int, *, ca: bool = False) -> tuple[str, str]:
    """(private key PEM, certificate PEM): a real self-signed pair, as the tls provider would make it."""
    key = real_private_key("RSA", seed)
    uses = ["cert_signing", "crl_signing", "digital_signature"] if ca else ["key_encipherment", "digital_signature"]
    inputs = {"validityPeriodHours": hours, "allowedUses": uses, "isCaCertificate": ca, "setSubjectKeyId": ca}
    subject = _name({"commonName": common_name, "organization": "plat-nonprod-keys"})
    _, out = _sign(inputs, subject, key.public_key(), subject, key, seed)
    return key_pem(key), out["certPem"]


def mesh_intermediate(root_key_pem: str, root_cert_pem: str, environment: str, seed: str) -> dict[str, Any]:
    """An intermediate CA for ``environment`` signed by the given root, as the owner stack exports it."""
    root_key, root = _load_key(root_key_pem), x509.load_pem_x509_certificate(root_cert_pem.encode())
    key = real_private_key("RSA", seed)
    inputs = {
        "validityPeriodHours": 365 * 24,
        "allowedUses": ["cert_signing", "crl_signing", "digital_signature", "key_encipherment"],
        "isCaCertificate": True,
        "maxPathLength": 0,
        "setSubjectKeyId": True,
        "dnsNames": ["istiod.istio-system.svc"],
    }
    subject = _name({"commonName": "Intermediate CA", "organization": "plat-nonprod-keys", "locality": environment})
    _, out = _sign(inputs, subject, key.public_key(), root.subject, root_key, seed)
    return {
        "environment": environment,
        "generation": 1,
        "certificatePem": out["certPem"],
        "privateKeyPem": key_pem(key),
    }


def shared_key_owner_outputs(stack_name: str, environments: tuple[str, ...] = ("dev",)) -> dict[str, Any]:
    """What the non-prod key-owner stack exports, as a StackReference reads it (mesh intermediates for
    ``environments``)."""
    key, cert = self_signed_pair(f"{stack_name}:sealing-key-1", "sealed-secret", 365 * 24)
    root_key, root = self_signed_pair(f"{stack_name}:mesh-ca-root", "Mesh Root CA", 3650 * 24, ca=True)
    return {
        "contractVersion": "1.2",
        "meshRootCertificatePem": root,
        "meshIntermediates": [
            mesh_intermediate(root_key, root, env, f"{stack_name}:mesh-ca-{env}") for env in dict.fromkeys(environments)
        ],
        "environment": stack_name.rsplit("/", 1)[-1],
        "environmentClass": "nonprod",
        "sealingCertificatePem": cert,
        "sealingKeys": [{"generation": 1, "privateKeyPem": key, "certificatePem": cert}],
        "keyVaultName": "plat-nonprod-keys-kv",
        "keyVaultUri": "https://plat-nonprod-keys-kv.vault.azure.net/",
    }


def _stack_reference(m: PlatformMocks, args: MockResourceArgs) -> tuple[str, dict]:
    name = args.inputs.get("name", args.name)
    if name in m.stack_references:
        outputs = dict(m.stack_references[name])
    elif name.endswith("/nonprod-keys"):
        outputs = shared_key_owner_outputs(name, ("dev", m.stack))
    else:
        outputs = {}
    secret_names = [k for k in ("sealingKeys", "meshIntermediates", "kubeconfig") if k in outputs]
    return name, {"name": name, "outputs": outputs, "secretOutputNames": secret_names}


_RESOURCE_OUTPUTS: dict[str, Callable[[PlatformMocks, MockResourceArgs], tuple[str, dict]]] = {
    "azure-native:resources:ResourceGroup": _resource_group,
    "azure-native:containerservice:ManagedCluster": _managed_cluster,
    "azure-native:keyvault:Vault": _vault,
    "azure-native:keyvault:Secret": _vault_secret,
    "azure-native:keyvault:Key": _vault_key,
    "azure-native:operationalinsights:Workspace": _workspace,
    "azure-native:network:PublicIPAddress": _public_ip,
    "azure-native:managedidentity:UserAssignedIdentity": _user_assigned_identity,
    "azure-native:network:VirtualNetwork": _virtual_network,
    "azure-native:network:Subnet": _subnet,
    "azure-native:network:AzureFirewall": _azure_firewall,
    "azure-native:network:FirewallPolicy": _named("Microsoft.Network", "firewallPolicies", "firewallPolicyName"),
    "azure-native:network:RouteTable": _named("Microsoft.Network", "routeTables", "routeTableName"),
    "azure-native:network:NetworkSecurityGroup": _named(
        "Microsoft.Network", "networkSecurityGroups", "networkSecurityGroupName"
    ),
    "azure-native:network:PrivateEndpoint": _named("Microsoft.Network", "privateEndpoints", "privateEndpointName"),
    "azure-native:privatedns:PrivateZone": _named("Microsoft.Network", "privateDnsZones", "privateZoneName"),
    "tls:index/privateKey:PrivateKey": _tls_private_key,
    "tls:index/selfSignedCert:SelfSignedCert": _tls_self_signed_cert,
    "tls:index/certRequest:CertRequest": _tls_cert_request,
    "tls:index/locallySignedCert:LocallySignedCert": _tls_locally_signed_cert,
    "pulumi:pulumi:StackReference": _stack_reference,
}


def _client_config(m: PlatformMocks, args: MockCallArgs) -> dict:
    return {
        "clientId": DEPLOYER_CLIENT_ID,
        "objectId": DEPLOYER_OBJECT_ID,
        "subscriptionId": SUBSCRIPTION_ID,
        "tenantId": TENANT_ID,
    }


def _user_credentials(m: PlatformMocks, args: MockCallArgs) -> dict:
    name = args.args.get("resourceName", "aks")
    fqdn = f"{name}-a1b2c3d4.hcp.westeurope.azmk8s.io"
    return {
        "kubeconfigs": [
            {"name": "clusterUser", "value": base64.b64encode(fake_kubeconfig(name, fqdn).encode()).decode()}
        ]
    }


_CALL_OUTPUTS: dict[str, Callable[[PlatformMocks, MockCallArgs], dict]] = {
    "azure-native:authorization:getClientConfig": _client_config,
    "azure-native:containerservice:listManagedClusterUserCredentials": _user_credentials,
}
