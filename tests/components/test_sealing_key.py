"""SealingKey: one shared non-prod key (owner stack + references), a dedicated key per prod stack,
rotation by generation, and private keys that only ever travel as secrets."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any

import pulumi
import pytest
from cryptography import x509

from components.azure_placement import AzurePlacement
from components.sealing_key import (
    SealingKey,
    SealingKeyArgs,
    SharedKeyError,
    select_shared_keys,
)
from stack_config import SealedSecretsConfig, load_config
from tests.components import wiring
from tests.components.key_owner import OWNER_ENVIRONMENT, owner_and_dev, reading
from tests.components.wiring import KEY_OWNER_STACK
from tests.resource_types import Azure, Tls
from tools.mocks import shared_key_owner_outputs
from tools.program_runner import ProgramRun, RecordedResource, load_stack_config, run_program

PRIVATE_MARKER = "PRIVATE KEY-----"


def build() -> None:
    """What __main__.py wires for the key: vault, key(s), and the outputs of the contract."""
    cfg = load_config()
    key = wiring.sealing_key(cfg, wiring.key_vault(cfg))
    pulumi.export("sealingCertificatePem", key.certificate_pem)
    pulumi.export("sealingKeys", key.keys)


def run(stack: str, *, like: str | None = None, **kwargs: Any) -> ProgramRun:
    """Run ``build`` as stack ``stack``, with ``like``'s config file when the stack has none."""
    if like is not None:
        kwargs["config"] = load_stack_config(like, kwargs.pop("overrides", None))
    return run_program(stack, program=build, **kwargs)


owner, dev = owner_and_dev(build)


@pytest.fixture(scope="module")
def rotated_prod() -> ProgramRun:
    return run("prod", overrides={"sealedSecrets": {"keyMode": "dedicated", "keyGeneration": 2}})


def run_failing(stack: str, **kwargs: Any) -> str:
    """Run a program that must fail; return its error message."""
    with pytest.raises(Exception) as err:
        run(stack, **kwargs) if "program" not in kwargs else run_program(stack, **kwargs)
    return str(err.value)


def strings(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from strings(v, f"{path}.{k}" if path else k)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from strings(v, f"{path}.{i}" if path else str(i))
    elif isinstance(value, str):
        yield path, value


def assert_private_keys_only_secret(run: ProgramRun) -> None:
    found = 0
    for res in run.resources:
        for path, text in strings(res.inputs):
            if PRIVATE_MARKER in text:
                found += 1
                assert res.is_secret(path), f"{res.type} {res.name}: {path} carries a private key in plaintext"
    for name, value in run.outputs.items():
        if any(PRIVATE_MARKER in text for _, text in strings(value)):
            assert name in run.secret_outputs, f"stack output {name} carries a private key in plaintext"
    assert found, "expected the private key in at least one (secret) input"


# --------------------------------------------------------------------------- scope of a key


def test_two_prod_stacks_have_different_keys(prod):
    other = run("prod-neu", like="prod")
    assert prod.outputs["sealingKeys"][0]["privateKeyPem"] != other.outputs["sealingKeys"][0]["privateKeyPem"]
    assert prod.outputs["sealingCertificatePem"] != other.outputs["sealingCertificatePem"]


def test_nonprod_stacks_share_the_owner_key(owner, dev):
    qa = run("qa", like="dev", stack_references=reading(owner))
    assert dev.outputs["sealingCertificatePem"] == owner.outputs["sealingCertificatePem"]
    assert qa.outputs["sealingCertificatePem"] == owner.outputs["sealingCertificatePem"]
    assert dev.outputs["sealingKeys"] == owner.outputs["sealingKeys"] == qa.outputs["sealingKeys"]
    # A reference stack generates nothing: it copies the owner's key into its own vault.
    assert not dev.of_type(Tls.PRIVATE_KEY) and not dev.of_type(Tls.SELF_SIGNED_CERT)
    copy = dev.one(Azure.VAULT_SECRET)
    assert copy.get("properties.value") == (
        owner.outputs["sealingKeys"][0]["privateKeyPem"] + owner.outputs["sealingKeys"][0]["certificatePem"]
    )
    assert copy.get("vaultName") == dev.one(Azure.VAULT).inputs["vaultName"]


def test_default_owner_reference_is_the_mocked_owner_stack():
    dev = run("dev")
    assert dev.outputs["sealingCertificatePem"] == shared_key_owner_outputs(KEY_OWNER_STACK)["sealingCertificatePem"]


def test_dedicated_key_is_rsa_4096_with_a_sealing_certificate(prod):
    key = prod.one(Tls.PRIVATE_KEY, "sealing-key-1")
    assert key.inputs == {"algorithm": "RSA", "rsaBits": 4096}
    cert = prod.one(Tls.SELF_SIGNED_CERT, "sealing-cert-1")
    assert cert.get("validityPeriodHours") == 365 * 24  # the default: a year, well under the 1095-day cap
    assert cert.get("subject") == {"commonName": "sealed-secret", "organization": "plat-prod"}
    assert "key_encipherment" in cert.get("allowedUses")
    assert cert.get("privateKeyPem") == prod.outputs["sealingKeys"][0]["privateKeyPem"]
    assert prod.outputs["sealingCertificatePem"] == cert.outputs["certPem"]


def test_key_material_is_protected_in_prod_and_for_the_owner(prod, owner, dev):
    for r in (prod, owner):
        for res in (
            *r.of_type(Tls.PRIVATE_KEY),
            *r.of_type(Tls.SELF_SIGNED_CERT),
            *r.of_type(Azure.VAULT_SECRET),
            r.one(Azure.VAULT),
        ):
            assert res.protect is True, f"{r.stack}: {res.type} {res.name} must be protected"
    assert dev.one(Azure.VAULT_SECRET).protect is False  # a copy: the owner's vault keeps the original


def test_vault_secret_holds_key_and_certificate(prod):
    secret = prod.one(Azure.VAULT_SECRET)
    assert secret.get("secretName") == "sealed-secrets-key-1"
    assert secret.get("properties.contentType") == "application/x-pem-file"
    assert secret.get("properties.attributes.enabled") is True
    # Expires a retention period (default 365 days) after the certificate: time to reseal and retire.
    cert = x509.load_pem_x509_certificate(prod.outputs["sealingCertificatePem"].encode())
    expected = cert.not_valid_after_utc + datetime.timedelta(days=365)
    assert secret.get("properties.attributes.expires") == int(expected.timestamp())
    keys = prod.outputs["sealingKeys"][0]
    assert secret.get("properties.value") == keys["privateKeyPem"] + keys["certificatePem"]
    assert secret.get("tags.generation") == "1"
    # Written only after the deploying identity holds Key Vault Secrets Officer.
    officer = prod.one(Azure.ROLE_ASSIGNMENT)
    assert officer.urn in secret.dependencies


# --------------------------------------------------------------------------- secrecy


@pytest.mark.parametrize("which", ["prod", "owner", "dev"])
def test_private_key_is_only_ever_secret(which, request):
    r: ProgramRun = request.getfixturevalue(which)
    assert_private_keys_only_secret(r)
    assert "sealingKeys" in r.secret_outputs
    assert "sealingCertificatePem" not in r.secret_outputs
    assert r.one(Azure.VAULT_SECRET).is_secret("properties.value")
    assert "properties" in r.one(Azure.VAULT_SECRET).additional_secret_outputs


def test_generated_key_outputs_are_secret(prod):
    assert {"privateKeyPem", "privateKeyPemPkcs8", "privateKeyOpenssh"} <= set(
        prod.one(Tls.PRIVATE_KEY).additional_secret_outputs
    )
    cert = prod.one(Tls.SELF_SIGNED_CERT)
    assert cert.is_secret("privateKeyPem") and "privateKeyPem" in cert.additional_secret_outputs


def test_owner_exports_the_contract_shape(owner):
    keys = owner.outputs["sealingKeys"]
    assert [set(k) for k in keys] == [{"generation", "privateKeyPem", "certificatePem"}]
    assert keys[0]["generation"] == 1
    assert keys[0]["certificatePem"] == owner.outputs["sealingCertificatePem"]


# --------------------------------------------------------------------------- rotation


def test_rotation_adds_a_key_and_keeps_the_first(prod, rotated_prod):
    assert sorted(k.name for k in rotated_prod.of_type(Tls.PRIVATE_KEY)) == ["sealing-key-1", "sealing-key-2"]
    keys = rotated_prod.outputs["sealingKeys"]
    assert [k["generation"] for k in keys] == [1, 2]
    # Same resource name, same key: generation 1 is untouched, so old SealedSecrets still decrypt.
    assert keys[0] == prod.outputs["sealingKeys"][0]
    assert keys[1]["privateKeyPem"] != keys[0]["privateKeyPem"]
    # The newest certificate seals.
    assert rotated_prod.outputs["sealingCertificatePem"] == keys[1]["certificatePem"]
    names = sorted(s.get("secretName") for s in rotated_prod.of_type(Azure.VAULT_SECRET))
    assert names == ["sealed-secrets-key-1", "sealed-secrets-key-2"]


def test_newer_generation_is_created_after_the_older(rotated_prod):
    def by_name(kind: str, name: str) -> RecordedResource:
        return rotated_prod.one(kind, name)

    assert (
        by_name(Tls.SELF_SIGNED_CERT, "sealing-cert-1").urn
        in by_name(Tls.SELF_SIGNED_CERT, "sealing-cert-2").dependencies
    )
    assert (
        by_name(Azure.VAULT_SECRET, "sealing-vault-secret-1").urn
        in by_name(Azure.VAULT_SECRET, "sealing-vault-secret-2").dependencies
    )


def test_reference_stack_copies_every_rotated_owner_key():
    owner2 = run(OWNER_ENVIRONMENT, overrides={"sealedSecrets": {"keyMode": "sharedOwner", "keyGeneration": 2}})
    overrides = {"sealedSecrets": {"keyMode": "sharedReference", "sharedKeyStack": KEY_OWNER_STACK, "keyGeneration": 2}}
    dev2 = run("dev", overrides=overrides, stack_references=reading(owner2))
    assert dev2.outputs["sealingKeys"] == owner2.outputs["sealingKeys"]
    assert dev2.outputs["sealingCertificatePem"] == owner2.outputs["sealingKeys"][1]["certificatePem"]


# --------------------------------------------------------------------------- errors


def test_missing_owner_output_names_the_stack_and_the_output():
    err = run_failing("dev", stack_references={KEY_OWNER_STACK: {}})
    assert f"stack '{KEY_OWNER_STACK}' output 'sealingKeys' is missing or empty" in str(err)


def test_reference_asking_for_a_generation_the_owner_lacks_fails(owner):
    overrides = {"sealedSecrets": {"keyMode": "sharedReference", "sharedKeyStack": KEY_OWNER_STACK, "keyGeneration": 2}}
    err = run_failing("dev", overrides=overrides, stack_references=reading(owner))
    assert "has generations [1] but this stack needs 1..2" in str(err)


@pytest.mark.parametrize(
    "value, message",
    [
        (None, "is missing or empty"),
        ([], "is missing or empty"),
        ("pem", "must be a list"),
        ([{"generation": 1, "certificatePem": "c"}], "[0] lacks privateKeyPem"),
        ([{"generation": "one", "privateKeyPem": "k", "certificatePem": "c"}], "[0] has no integer generation"),
    ],
)
def test_select_shared_keys_rejects_bad_owner_outputs(value, message):
    with pytest.raises(SharedKeyError) as err:
        select_shared_keys(value, KEY_OWNER_STACK, 1)
    assert f"stack '{KEY_OWNER_STACK}' output 'sealingKeys'" in str(err.value)
    assert message in str(err.value)


def test_select_shared_keys_orders_by_generation():
    keys = [
        {"generation": 2, "privateKeyPem": "k2", "certificatePem": "c2"},
        {"generation": 1, "privateKeyPem": "k1", "certificatePem": "c1"},
    ]
    assert [k["privateKeyPem"] for k in select_shared_keys(keys, KEY_OWNER_STACK, 2)] == ["k1", "k2"]


def test_reference_mode_without_owner_stack_is_rejected():
    cfg = SealedSecretsConfig(key_mode="sharedReference", shared_key_stack=None)

    def program() -> None:
        SealingKey(
            "sealing",
            SealingKeyArgs(
                config=cfg,
                placement=AzurePlacement(resource_prefix="plat-qa", location="westeurope", resource_group_name="rg"),
                vault_name="kv",
                protect=False,
            ),
        )

    err = run_failing("qa", config=load_stack_config("dev"), program=program)
    assert "sealedSecrets.sharedKeyStack: required" in str(err)


def test_a_failed_run_does_not_poison_the_next(prod):
    run_failing("dev", stack_references={KEY_OWNER_STACK: {}})
    assert run("prod").outputs["sealingKeys"] == prod.outputs["sealingKeys"]
