"""SealedSecrets: the controller chart finds the platform's key(s) (exact label, type, namespace) before
it starts, never renews a key itself, and runs under the restricted pod security profile."""

from __future__ import annotations

import pulumi
import pytest

from components.sealed_secrets import CHART_REPO, SealedSecrets, SealedSecretsArgs
from stack_config import (
    DEFAULT_SEALED_SECRETS_CHART_VERSION,
    SealedSecretsConfig,
    load_config,
)
from tests.components import wiring
from tests.components.wiring import KEY_OWNER_STACK
from tests.conftest import k8s_manifest
from tests.resource_types import Azure, K8s, Tls
from tools.mocks import shared_key_owner_outputs
from tools.program_runner import ProgramRun, load_stack_config, run_program


def build() -> None:
    cfg = load_config()
    key = wiring.sealing_key(cfg)
    controller = SealedSecrets(
        "sealed-secrets",
        SealedSecretsArgs(config=cfg.sealed_secrets, keys=key.key_pairs),
        opts=wiring.in_cluster(),
    )
    pulumi.export("sealingCertificatePem", key.certificate_pem)
    pulumi.export("sealedSecretsNamespace", controller.namespace)
    pulumi.export("sealedSecretsControllerName", controller.controller_name)


@pytest.fixture(scope="module")
def rotated() -> ProgramRun:
    return run_program("prod", program=build, overrides={"sealedSecrets": {"keyMode": "dedicated", "keyGeneration": 2}})


def test_key_secret_is_what_the_controller_reads(prod):
    secret = prod.one(K8s.SECRET)
    manifest = k8s_manifest(secret)
    assert manifest["type"] == "kubernetes.io/tls"
    assert manifest["metadata"]["namespace"] == "sealed-secrets"
    assert manifest["metadata"]["name"] == "sealed-secrets-key-gen1"
    assert manifest["metadata"]["labels"]["sealedsecrets.bitnami.com/sealed-secrets-key"] == "active"
    assert set(manifest["stringData"]) == {"tls.crt", "tls.key"}
    assert manifest["stringData"]["tls.crt"] == prod.outputs["sealingCertificatePem"]
    assert manifest["stringData"]["tls.key"].startswith(
        "-----BEGIN RSA " + "PRIVATE KEY-----"
    )  # split: no key marker in the repo
    assert manifest["stringData"]["tls.key"] == prod.one(Tls.PRIVATE_KEY).outputs["privateKeyPem"]


def test_key_secret_is_secret_everywhere(prod, dev):
    for run in (prod, dev):
        secret = run.one(K8s.SECRET)
        assert secret.is_secret("stringData.tls.key")
        assert {"data", "stringData"} <= set(secret.additional_secret_outputs)


def test_key_is_in_the_vault_before_the_cluster_and_the_controller_after_the_key(prod):
    secret = prod.one(K8s.SECRET)
    assert prod.one(Azure.VAULT_SECRET).urn in secret.dependencies
    release = prod.one(K8s.HELM_RELEASE)
    assert secret.urn in release.dependencies
    assert prod.one(K8s.NAMESPACE).urn in release.dependencies


def test_nonprod_controller_gets_the_shared_key(dev):
    owner = shared_key_owner_outputs(KEY_OWNER_STACK)
    manifest = k8s_manifest(dev.one(K8s.SECRET))
    assert manifest["stringData"]["tls.crt"] == owner["sealingCertificatePem"]
    assert manifest["stringData"]["tls.key"] == owner["sealingKeys"][0]["privateKeyPem"]


def test_two_nonprod_clusters_decrypt_the_same_secrets(dev):
    qa = run_program("qa", config=load_stack_config("dev"), program=build)
    assert k8s_manifest(qa.one(K8s.SECRET))["stringData"] == k8s_manifest(dev.one(K8s.SECRET))["stringData"]


def test_two_prod_clusters_have_different_keys(prod):
    other = run_program("prod-neu", config=load_stack_config("prod"), program=build)
    assert (
        k8s_manifest(other.one(K8s.SECRET))["stringData"]["tls.key"]
        != k8s_manifest(prod.one(K8s.SECRET))["stringData"]["tls.key"]
    )


def test_namespace_enforces_restricted_pod_security(prod):
    ns = prod.one(K8s.NAMESPACE)
    assert ns.get("metadata.name") == "sealed-secrets"
    labels = ns.get("metadata.labels")
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    assert labels["pod-security.kubernetes.io/audit"] == "restricted"
    assert labels["pod-security.kubernetes.io/warn"] == "restricted"


def test_release_is_the_pinned_official_chart(prod):
    release = prod.one(K8s.HELM_RELEASE)
    assert release.get("chart") == "sealed-secrets"
    assert release.get("version") == DEFAULT_SEALED_SECRETS_CHART_VERSION == "2.19.1"
    assert release.get("repositoryOpts.repo") == CHART_REPO == "https://bitnami.github.io/sealed-secrets"
    assert release.get("name") == "sealed-secrets-controller"
    assert release.get("namespace") == "sealed-secrets"
    assert release.get("createNamespace") is False
    assert release.get("values.fullnameOverride") == "sealed-secrets-controller"
    assert prod.outputs["sealedSecretsControllerName"] == "sealed-secrets-controller"
    assert prod.outputs["sealedSecretsNamespace"] == "sealed-secrets"


def test_chart_version_and_namespace_follow_config():
    run = run_program(
        "prod",
        program=build,
        overrides={
            "sealedSecrets": {"keyMode": "dedicated", "chartVersion": "2.19.3", "namespace": "kubeseal"},
        },
    )
    release = run.one(K8s.HELM_RELEASE)
    assert release.get("version") == "2.19.3"
    assert release.get("namespace") == "kubeseal" == release.get("values.namespace")
    assert run.one(K8s.SECRET).get("metadata.namespace") == "kubeseal"


def test_controller_never_renews_its_key(prod):
    # A string: the chart passes --key-renew-period only for a truthy value, so 0 (int) would keep the 30-day default.
    assert prod.one(K8s.HELM_RELEASE).get("values.keyrenewperiod") == "0"
    assert prod.one(K8s.HELM_RELEASE).get("values.secretName") == "sealed-secrets-key"


def test_controller_pod_is_hardened(prod):
    values = prod.one(K8s.HELM_RELEASE).get("values")
    pod, container = values["podSecurityContext"], values["containerSecurityContext"]
    assert pod["enabled"] is True and pod["runAsNonRoot"] is True
    assert pod["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["enabled"] is True
    assert container["runAsNonRoot"] is True
    assert container["readOnlyRootFilesystem"] is True
    assert container["allowPrivilegeEscalation"] is False
    assert container["capabilities"] == {"drop": ["ALL"]}
    assert container["seccompProfile"] == {"type": "RuntimeDefault"}
    assert values["resources"]["requests"] and values["resources"]["limits"]["memory"]
    assert values["networkPolicy"]["enabled"] is True
    assert values["rbac"]["serviceProxier"]["bind"] is False


def test_everything_in_cluster_uses_the_cluster_provider(prod):
    for res in (prod.one(K8s.NAMESPACE), prod.one(K8s.SECRET), prod.one(K8s.HELM_RELEASE)):
        assert "::k8s::" in res.provider, f"{res.type} {res.name} is not on the cluster's provider"


def test_rotation_keeps_the_old_key_and_creates_the_new_one_last(prod, rotated):
    secrets = {s.get("metadata.name"): s for s in rotated.of_type(K8s.SECRET)}
    assert set(secrets) == {"sealed-secrets-key-gen1", "sealed-secrets-key-gen2"}
    old, new = secrets["sealed-secrets-key-gen1"], secrets["sealed-secrets-key-gen2"]
    assert old.name == prod.one(K8s.SECRET).name  # same resource: not replaced
    assert old.get("stringData") == prod.one(K8s.SECRET).get("stringData")
    assert old.urn in new.dependencies
    assert all(
        s.get("metadata.labels")["sealedsecrets.bitnami.com/sealed-secrets-key"] == "active" for s in secrets.values()
    )
    assert new.get("stringData")["tls.crt"] == rotated.outputs["sealingCertificatePem"]
    release = rotated.one(K8s.HELM_RELEASE)
    assert {old.urn, new.urn} <= set(release.dependencies)


def test_controller_without_keys_is_refused():
    cfg = SealedSecretsConfig(key_mode="dedicated", shared_key_stack=None)
    with pytest.raises(ValueError, match="at least one sealing key"):
        SealedSecrets("sealed-secrets", SealedSecretsArgs(config=cfg, keys=()))


@pytest.fixture(scope="module")
def retired() -> ProgramRun:
    overrides = {"keyMode": "dedicated", "keyGeneration": 2, "oldestGenerationInUse": 2, "retiredThrough": 1}
    return run_program("prod", program=build, overrides={"sealedSecrets": overrides})


def test_retired_generation_leaves_the_cluster_and_is_disabled_in_the_vault(rotated, retired):
    names = [s.get("metadata.name") for s in retired.of_type(K8s.SECRET)]
    assert names == ["sealed-secrets-key-gen2"]
    vault = {s.get("secretName"): s for s in retired.of_type(Azure.VAULT_SECRET)}
    # Kept in Key Vault (recoverable), but disabled: nothing reads a retired key back into a cluster.
    assert vault["sealed-secrets-key-1"].get("properties.attributes.enabled") is False
    assert vault["sealed-secrets-key-1"].get("tags.state") == "retired"
    assert vault["sealed-secrets-key-2"].get("properties.attributes.enabled") is True
    # Generation 2 is untouched and the controller restarts without generation 1.
    assert retired.outputs["sealingCertificatePem"] == rotated.outputs["sealingCertificatePem"]
    annotation = "platform.contoso.com/sealing-keys-sha256"
    assert (
        retired.one(K8s.HELM_RELEASE).get("values.podAnnotations")[annotation]
        != rotated.one(K8s.HELM_RELEASE).get("values.podAnnotations")[annotation]
    )


def test_new_key_generation_rolls_the_controller(prod, rotated):
    annotation = "platform.contoso.com/sealing-keys-sha256"
    before = prod.one(K8s.HELM_RELEASE).get("values.podAnnotations")[annotation]
    after = rotated.one(K8s.HELM_RELEASE).get("values.podAnnotations")[annotation]
    assert len(before) == 64 and len(after) == 64
    assert before != after
    assert not prod.one(K8s.HELM_RELEASE).is_secret("values")  # only public certificates feed the hash
