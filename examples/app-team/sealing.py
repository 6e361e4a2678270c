"""Seal a Secret value offline with the platform's public certificate, exactly as ``kubeseal --cert`` does.

The sealed-secrets hybrid scheme (bitnami-labs/sealed-secrets ``pkg/crypto``): a random 32-byte
AES-256-GCM session key encrypts the value (zero nonce: the key is used once), RSA-OAEP with
SHA-256 encrypts the session key, with the scope label ``<namespace>/<name>`` (strict scope: the
ciphertext only unseals as that Secret in that namespace). Output:
``uint16 big-endian len(rsa ciphertext) || rsa ciphertext || aes-gcm ciphertext+tag``, base64.

CLI (the value comes from stdin, never from the command line, so it stays out of shell history):

    python sealing.py --cert <(pulumi stack output -s contoso/platform/dev sealingCertificatePem) \\
        --namespace shop --name db-password --key password < password.txt > sealed/db-password.yaml
"""

from __future__ import annotations

import argparse
import base64
import datetime
import hashlib
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SESSION_KEY_BYTES = 32
GCM_NONCE_BYTES = 12
MIN_RSA_BITS = 2048
API_VERSION = "bitnami.com/v1alpha1"
KIND = "SealedSecret"
# Not a kubeseal field: lets the program warn when the platform's key has rotated since sealing.
CERT_FINGERPRINT_ANNOTATION = "platform.contoso.com/sealed-with-cert-sha256"

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")


class SealingError(ValueError):
    """The certificate, the target or a sealed file is not usable."""


def _pem_bytes(cert_pem: str | bytes) -> bytes:
    return cert_pem.encode() if isinstance(cert_pem, str) else cert_pem


def certificate_fingerprint(cert_pem: str | bytes) -> str:
    """SHA-256 of the certificate's DER bytes, hex (as ``openssl x509 -fingerprint -sha256``, without colons)."""
    text = _pem_bytes(cert_pem).decode("ascii", errors="replace")
    body = re.search(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", text, re.S)
    if body is None:
        raise SealingError("not a PEM certificate (no BEGIN/END CERTIFICATE block)")
    return hashlib.sha256(base64.b64decode("".join(body.group(1).split()))).hexdigest()


def _public_key(cert_pem: str | bytes) -> rsa.RSAPublicKey:
    try:
        cert = x509.load_pem_x509_certificate(_pem_bytes(cert_pem))
    except ValueError as err:
        raise SealingError(f"cannot read the sealing certificate: {err}") from None
    key = cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise SealingError(f"the sealing certificate must hold an RSA key, not {type(key).__name__}")
    if key.key_size < MIN_RSA_BITS:
        raise SealingError(f"the sealing key has {key.key_size} bits; at least {MIN_RSA_BITS} are required")
    # Sealing to an expired certificate usually means a stale copy: the controller has moved on.
    if cert.not_valid_after_utc < datetime.datetime.now(datetime.UTC):
        raise SealingError(f"the sealing certificate expired on {cert.not_valid_after_utc:%Y-%m-%d}; fetch it again")
    return key


def _check_target(namespace: str, name: str, key: str) -> None:
    problems = []
    if not _DNS_LABEL.match(namespace or "") or len(namespace) > 63:
        problems.append(f"namespace {namespace!r} is not a DNS-1123 label")
    if not _DNS_SUBDOMAIN.match(name or "") or len(name) > 253:
        problems.append(f"name {name!r} is not a DNS-1123 subdomain")
    if not _SECRET_KEY.match(key or ""):
        problems.append(f"key {key!r} may only contain letters, digits, '-', '_' and '.'")
    if problems:
        raise SealingError("; ".join(problems))


def seal(cert_pem: str | bytes, namespace: str, name: str, key: str, value: str | bytes) -> str:
    """The ``spec.encryptedData[key]`` value for Secret ``namespace/name`` (strict scope), base64."""
    _check_target(namespace, name, key)
    public_key = _public_key(cert_pem)
    plaintext = value.encode() if isinstance(value, str) else value
    label = f"{namespace}/{name}".encode()
    session_key = os.urandom(SESSION_KEY_BYTES)
    rsa_ciphertext = public_key.encrypt(
        session_key, padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=label)
    )
    # The session key encrypts exactly one value, so a zero nonce never repeats under it (as kubeseal).
    aes_ciphertext = AESGCM(session_key).encrypt(bytes(GCM_NONCE_BYTES), plaintext, None)
    blob = len(rsa_ciphertext).to_bytes(2, "big") + rsa_ciphertext + aes_ciphertext
    return base64.b64encode(blob).decode("ascii")


def sealed_secret_manifest(
    cert_pem: str | bytes,
    namespace: str,
    name: str,
    data: Mapping[str, str | bytes],
    secret_type: str = "Opaque",
) -> dict[str, Any]:
    """A whole ``SealedSecret`` object, as ``kubeseal -o yaml`` writes it (plus the certificate fingerprint)."""
    if not data:
        raise SealingError("nothing to seal: data is empty")
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {
            "name": name,
            "namespace": namespace,
            "annotations": {CERT_FINGERPRINT_ANNOTATION: certificate_fingerprint(cert_pem)},
        },
        "spec": {
            "encryptedData": {k: seal(cert_pem, namespace, name, k, v) for k, v in sorted(data.items())},
            "template": {"metadata": {"name": name, "namespace": namespace}, "type": secret_type},
        },
    }


def load_sealed_secret(path: Path, namespace: str) -> dict[str, Any]:
    """Read a committed ``SealedSecret`` file and check that it targets ``namespace`` with strict scope."""
    try:
        obj = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as err:
        raise SealingError(f"{path}: cannot read a SealedSecret: {err}") from None
    if not isinstance(obj, dict) or obj.get("apiVersion") != API_VERSION or obj.get("kind") != KIND:
        raise SealingError(f"{path}: expected apiVersion {API_VERSION}, kind {KIND}")
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    name = meta.get("name")
    problems = []
    if meta.get("namespace") != namespace:
        problems.append(
            f"metadata.namespace is {meta.get('namespace')!r}, this program deploys to {namespace!r} "
            "(strict scope: it would never unseal there; seal it again for this namespace)"
        )
    annotations = meta.get("annotations") or {}
    if any(annotations.get(f"sealedsecrets.bitnami.com/{s}") == "true" for s in ("cluster-wide", "namespace-wide")):
        problems.append("only strict scope is accepted (a wider scope lets the value be renamed or moved)")
    encrypted = spec.get("encryptedData")
    sealed: dict[str, Any] = encrypted if isinstance(encrypted, dict) else {}
    if not sealed:
        problems.append("spec.encryptedData is empty")
    for k, v in sealed.items():
        try:
            raw = base64.b64decode(v, validate=True)
        except (ValueError, TypeError):
            raw = b""
        if len(raw) < 2 + int.from_bytes(raw[:2] or b"\xff\xff", "big"):
            problems.append(f"spec.encryptedData.{k} is not a sealed value")
    if problems:
        raise SealingError(f"{path}: " + "; ".join(problems))
    for key in sealed:
        _check_target(namespace, name or "", key)
    return obj


def main(argv: list[str] | None = None) -> int:  # pragma: no cover - thin CLI over seal()
    parser = argparse.ArgumentParser(description="Seal a value from stdin into a SealedSecret (strict scope).")
    parser.add_argument("--cert", required=True, help="PEM file: pulumi stack output sealingCertificatePem")
    parser.add_argument("--namespace", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--key", required=True, help="the key inside the Secret, e.g. password")
    parser.add_argument("--type", default="Opaque")
    args = parser.parse_args(argv)
    value = sys.stdin.buffer.read().rstrip(b"\r\n")
    manifest = sealed_secret_manifest(
        Path(args.cert).read_bytes(), args.namespace, args.name, {args.key: value}, args.type
    )
    sys.stdout.write(yaml.safe_dump(manifest, sort_keys=False))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
