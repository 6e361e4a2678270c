"""sealing.py does what kubeseal does: proven by unsealing with a real RSA key generated here (never stored)."""

from __future__ import annotations

import base64
import datetime
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sealing import (
    CERT_FINGERPRINT_ANNOTATION,
    SealingError,
    certificate_fingerprint,
    load_sealed_secret,
    seal,
    sealed_secret_manifest,
)
from tools.mocks import self_signed_certificate

EXAMPLE = Path(__file__).resolve().parent.parent


def make_cert(key, days: int = 30, start_days_ago: int = 0) -> bytes:
    start = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=start_days_ago)
    return self_signed_certificate(key, "sealed-secret", days=days, start=start).encode()


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    # 2048 bits keeps the suite fast; the controller's real key is 4096 (same code path).
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def cert(key) -> bytes:
    return make_cert(key)


def unseal(key: rsa.RSAPrivateKey, sealed_b64: str, label: bytes) -> bytes:
    """The controller's HybridDecrypt, written independently from the spec (pkg/crypto/crypto.go)."""
    blob = base64.b64decode(sealed_b64)
    rsa_len = int.from_bytes(blob[:2], "big")
    session_key = key.decrypt(
        blob[2 : 2 + rsa_len],
        padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=label),
    )
    return AESGCM(session_key).decrypt(b"\x00" * 12, blob[2 + rsa_len :], None)


def test_round_trip_with_strict_scope_label(key, cert):
    sealed = seal(cert.decode(), "shop", "db-password", "password", "s3cr3t-value")
    assert unseal(key, sealed, b"shop/db-password") == b"s3cr3t-value"


def test_wire_format(key, cert):
    blob = base64.b64decode(seal(cert, "shop", "db-password", "password", b"x" * 10))
    assert int.from_bytes(blob[:2], "big") == 256  # RSA-2048 ciphertext length
    assert len(blob) == 2 + 256 + 10 + 16  # AES-GCM: same length as the plaintext, plus a 16-byte tag


def test_strict_scope_binds_namespace_and_name(key, cert):
    sealed = seal(cert, "shop", "db-password", "password", "v")
    for label in (b"payments/db-password", b"shop/other", b"shop", b""):
        with pytest.raises(ValueError):  # OAEP label mismatch: the controller refuses to unseal
            unseal(key, sealed, label)


def test_tampering_is_detected(key, cert):
    blob = bytearray(base64.b64decode(seal(cert, "shop", "db-password", "password", "v")))
    blob[-1] ^= 1
    with pytest.raises(InvalidTag):
        unseal(key, base64.b64encode(bytes(blob)).decode(), b"shop/db-password")


def test_every_seal_uses_a_fresh_session_key(cert):
    assert seal(cert, "shop", "a", "k", "same") != seal(cert, "shop", "a", "k", "same")


def test_rejects_unusable_certificates(key):
    with pytest.raises(SealingError, match="expired"):
        seal(make_cert(key, days=1, start_days_ago=10), "shop", "a", "k", "v")
    with pytest.raises(SealingError, match="must hold an RSA key, not"):
        seal(make_cert(ec.generate_private_key(ec.SECP256R1())), "shop", "a", "k", "v")
    with pytest.raises(SealingError, match="1024 bits; at least 2048"):
        seal(make_cert(rsa.generate_private_key(public_exponent=65537, key_size=1024)), "shop", "a", "k", "v")
    with pytest.raises(SealingError, match="cannot read the sealing certificate"):
        seal("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "shop", "a", "k", "v")


def test_rejects_invalid_targets(cert):
    with pytest.raises(SealingError) as err:
        seal(cert, "Shop", "db_password", "pass word", "v")
    assert (
        "namespace 'Shop'" in str(err.value)
        and "name 'db_password'" in str(err.value)
        and "key 'pass word'" in str(err.value)
    )


def test_manifest_unseals_and_loads(key, cert, tmp_path):
    manifest = sealed_secret_manifest(cert, "shop", "db-password", {"password": "p", "user": "u"})
    assert manifest["metadata"]["annotations"][CERT_FINGERPRINT_ANNOTATION] == certificate_fingerprint(cert)
    assert manifest["spec"]["template"] == {"metadata": {"name": "db-password", "namespace": "shop"}, "type": "Opaque"}
    data = manifest["spec"]["encryptedData"]
    assert {k: unseal(key, v, b"shop/db-password") for k, v in data.items()} == {"password": b"p", "user": b"u"}
    path = tmp_path / "db-password.yaml"
    path.write_text(yaml.safe_dump(manifest))
    assert load_sealed_secret(path, "shop") == manifest
    with pytest.raises(SealingError, match="this program deploys to 'payments'"):
        load_sealed_secret(path, "payments")


def test_load_rejects_wider_scopes_and_garbage(cert, tmp_path):
    manifest = sealed_secret_manifest(cert, "shop", "db-password", {"password": "p"})
    manifest["metadata"]["annotations"]["sealedsecrets.bitnami.com/cluster-wide"] = "true"
    manifest["spec"]["encryptedData"]["other"] = "bm90IHNlYWxlZA=="
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(manifest))
    with pytest.raises(SealingError) as err:
        load_sealed_secret(path, "shop")
    assert "only strict scope" in str(err.value) and "encryptedData.other is not a sealed value" in str(err.value)


def test_certificate_fingerprint_matches_der_sha256(cert):
    import hashlib

    der = x509.load_pem_x509_certificate(cert).public_bytes(serialization.Encoding.DER)
    assert certificate_fingerprint(cert) == hashlib.sha256(der).hexdigest()


def test_committed_example_is_a_well_formed_4096_bit_seal():
    path = EXAMPLE / "sealed" / "db-password.yaml"
    obj = load_sealed_secret(path, "shop")
    blob = base64.b64decode(obj["spec"]["encryptedData"]["password"])
    assert int.from_bytes(blob[:2], "big") == 512  # sealed to an RSA-4096 certificate, as the platform's
    assert "PRIVATE KEY" not in path.read_text()
