"""MeshCa + IstioMesh: each cluster's istiod gets an intermediate CA in ``cacerts`` that chains to a root kept
outside the cluster (the owner stack's for non-prod, the prod stack's own for prod), before istiod starts.

The mocks sign for real (``tools/mocks.py``), so the chain is verified with ``cryptography``."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from components.key_material import CA_CERT_KEY, CA_KEY_KEY, CERT_CHAIN_KEY, ROOT_CERT_KEY
from components.mesh_ca import MeshCaError, select_intermediate
from stack_config import load_config
from tests.components import wiring
from tests.components.key_owner import OWNER_ENVIRONMENT, owner_and_dev, reading
from tests.components.wiring import KEY_OWNER_STACK
from tests.resource_types import Azure, K8s, Tls
from tools.program_runner import ProgramRun, RecordedResource, run_program


def build() -> None:
    """The vault, the mesh CA and (for a cluster) the mesh with its plug-in CA, as __main__.py wires them."""
    cfg = load_config()
    ca = wiring.mesh_ca(cfg, wiring.key_vault(cfg))
    if ca.plugin_ca is not None:
        wiring.istio_mesh(cfg, wiring.in_cluster(), plugin_ca=ca.plugin_ca)
    pulumi.export("meshRootCertificatePem", ca.root_certificate_pem)
    pulumi.export("meshIntermediates", ca.intermediates)


def run(stack: str, **kwargs: Any) -> ProgramRun:
    return run_program(stack, program=build, **kwargs)


owner, dev = owner_and_dev(build)


def cacerts(r: ProgramRun) -> RecordedResource:
    [secret] = [s for s in r.of_type(K8s.SECRET) if s.get("metadata.name") == "cacerts"]
    return secret


def cert(pem: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem.encode())


def assert_chains_to(data: dict[str, str], root_pem: str) -> x509.Certificate:
    """The four files istiod reads: the intermediate is a path-length-0 CA signed by ``root_pem``."""
    assert set(data) == {CA_CERT_KEY, CA_KEY_KEY, ROOT_CERT_KEY, CERT_CHAIN_KEY}
    root, intermediate = cert(root_pem), cert(data[CA_CERT_KEY])
    assert data[ROOT_CERT_KEY] == root_pem
    intermediate.verify_directly_issued_by(root)  # raises if the signature or issuer does not match
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    constraints = intermediate.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert (constraints.ca, constraints.path_length) == (True, 0)
    assert intermediate.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign
    san = intermediate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["istiod.istio-system.svc"]
    # cert-chain.pem is the intermediate then the root; ca-key.pem is the intermediate's own key.
    assert data[CERT_CHAIN_KEY] == data[CA_CERT_KEY] + root_pem
    key = serialization.load_pem_private_key(data[CA_KEY_KEY].encode(), password=None)
    assert key.public_key() == intermediate.public_key()
    return intermediate


# --------------------------------------------------------------------------- prod: its own root


def test_prod_cacerts_chain_to_its_own_root(prod):
    secret = cacerts(prod)
    assert secret.get("metadata.namespace") == "istio-system" and secret.get("type") == "Opaque"
    assert_chains_to(secret.get("stringData"), prod.outputs["meshRootCertificatePem"])


def test_istiod_starts_after_cacerts(prod):
    secret = cacerts(prod)
    istiod = [r for r in prod.of_type(K8s.HELM_RELEASE) if r.get("chart") == "istiod"]
    assert istiod and all(secret.urn in r.dependencies for r in istiod)


def test_intermediate_key_is_secret_and_root_key_stays_out_of_the_cluster(prod):
    secret = cacerts(prod)
    assert secret.is_secret(f"stringData.{CA_KEY_KEY}")
    root_key = prod.one(Tls.PRIVATE_KEY, "mesh-ca-root-key").outputs["privateKeyPem"]
    for res in prod.resources:
        if res.type.startswith("kubernetes:"):
            assert root_key not in str(res.inputs), f"{res.type} {res.name} carries the root key"
    # The root's only copy outside Pulumi state: the vault, with an expiry and a content type.
    vault_copy = prod.one(Azure.VAULT_SECRET, "mesh-ca-root-vault-secret")
    assert vault_copy.get("secretName") == "mesh-root-ca" and vault_copy.is_secret("properties.value")
    assert vault_copy.get("properties.contentType") == "application/x-pem-file"
    root = cert(prod.outputs["meshRootCertificatePem"])
    assert vault_copy.get("properties.attributes.expires") == int(root.not_valid_after_utc.timestamp())
    for name in ("mesh-ca-root-key", "mesh-ca-root-cert", "mesh-ca-root-vault-secret"):
        assert any(r.name == name and r.protect for r in prod.resources), f"{name} must be protected"


def test_prod_intermediate_rotation_is_a_config_change(prod):
    rotated = run("prod", overrides={"meshCa": {"intermediateGeneration": 2}})
    before, after = cacerts(prod).get("stringData"), cacerts(rotated).get("stringData")
    assert after[CA_CERT_KEY] != before[CA_CERT_KEY] and after[CA_KEY_KEY] != before[CA_KEY_KEY]
    # Same root: workloads holding certificates from the old intermediate keep verifying.
    assert rotated.outputs["meshRootCertificatePem"] == prod.outputs["meshRootCertificatePem"]
    assert_chains_to(after, prod.outputs["meshRootCertificatePem"])
    keys = {r.name for r in rotated.of_type(Tls.PRIVATE_KEY)}
    assert "mesh-ca-prod-intermediate-key-2" in keys and "mesh-ca-prod-intermediate-key-1" not in keys
    # Same Secret resource: updated in place, and istiod reloads it (AUTO_RELOAD_PLUGIN_CERTS).
    assert cacerts(rotated).name == cacerts(prod).name


# --------------------------------------------------------------------------- non-prod: the owner's root


def test_owner_signs_an_intermediate_per_listed_environment(owner):
    entries = owner.outputs["meshIntermediates"]
    assert [e["environment"] for e in entries] == ["dev"]
    assert "meshIntermediates" in owner.secret_outputs and "meshRootCertificatePem" not in owner.secret_outputs
    root = owner.outputs["meshRootCertificatePem"]
    cert(entries[0]["certificatePem"]).verify_directly_issued_by(cert(root))
    assert not owner.of_type(K8s.SECRET)  # the owner has no cluster


def test_dev_cacerts_chain_to_the_owner_root_without_its_key(owner, dev):
    root = owner.outputs["meshRootCertificatePem"]
    assert_chains_to(cacerts(dev).get("stringData"), root)
    assert dev.outputs["meshRootCertificatePem"] == root
    # The dev stack reads its intermediate; it generates no CA key and never holds the root's.
    assert not [k for k in dev.of_type(Tls.PRIVATE_KEY) if k.name.startswith("mesh-ca")]
    root_key = owner.one(Tls.PRIVATE_KEY, "mesh-ca-root-key").outputs["privateKeyPem"]
    assert all(root_key not in str(r.inputs) + str(r.outputs) for r in dev.resources)


def test_owner_rotation_reaches_the_cluster(owner, dev):
    owner2 = run(OWNER_ENVIRONMENT, overrides={"meshCa": {"clusters": [{"environment": "dev", "generation": 2}]}})
    dev2 = run("dev", stack_references=reading(owner2))
    after = cacerts(dev2).get("stringData")
    assert after[CA_CERT_KEY] != cacerts(dev).get("stringData")[CA_CERT_KEY]
    assert_chains_to(after, owner.outputs["meshRootCertificatePem"])
    assert {k.name for k in owner2.of_type(Tls.PRIVATE_KEY) if "intermediate" in k.name} == {
        "mesh-ca-dev-intermediate-key-2"
    }


def test_environment_missing_on_the_owner_is_a_clear_error():
    with pytest.raises(MeshCaError, match="has no intermediate for environment 'qa'"):
        select_intermediate(
            [{"environment": "dev", "certificatePem": "c", "privateKeyPem": "k"}], KEY_OWNER_STACK, "qa"
        )
    with pytest.raises(MeshCaError, match="is missing or empty: run `pulumi up` on the mesh CA owner"):
        select_intermediate(None, KEY_OWNER_STACK, "dev")
