"""The example app-team program under mocks: it reads the platform stack and deploys a hardened workload.

Run with: venv/bin/python -m pytest -q examples/app-team/tests
"""

from __future__ import annotations

import pytest
from app_team_run import EXAMPLE, platform_outputs, run_example

from components.platform_consumer import PlatformOutputError
from sealing import SealingError
from tools.program_runner import ProgramRun, RecordedResource

SEALED_FILE = EXAMPLE / "sealed" / "db-password.yaml"


@pytest.fixture(scope="module")
def run() -> ProgramRun:
    return run_example()


def k8s(run: ProgramRun, kind: str) -> RecordedResource:
    found = run.k8s_objects(kind)
    assert len(found) == 1, f"expected one {kind}, found {[r.name for r in found]}"
    return found[0]


# --------------------------------------------------------------------------- the happy path


def test_provider_uses_the_platform_kubeconfig_as_a_secret(run):
    provider = run.one("pulumi:providers:kubernetes", "platform")
    assert provider.get("kubeconfig") == platform_outputs()["kubeconfig"]
    assert provider.is_secret("kubeconfig")


def test_every_object_is_in_the_namespace_through_the_platform_provider(run):
    provider = run.one("pulumi:providers:kubernetes", "platform")
    objects = [r for r in run.resources if r.type.startswith("kubernetes:") and r.custom]
    assert sorted(r.type for r in objects) == [
        "kubernetes:apps/v1:Deployment",
        "kubernetes:bitnami.com/v1alpha1:SealedSecret",
        "kubernetes:core/v1:Service",
        "kubernetes:core/v1:ServiceAccount",
    ]
    for r in objects:
        assert r.get("metadata.namespace") == "shop", r.type
        assert r.provider.startswith(provider.urn + "::"), r.type
    assert not run.k8s_objects("Namespace"), "the platform owns the namespace (injection label, default-deny)"


def test_pod_spec_is_hardened(run):
    pod = k8s(run, "Deployment").get("spec.template.spec")
    assert pod["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 101,
        "runAsGroup": 101,
        "fsGroup": 101,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert pod["automountServiceAccountToken"] is False
    assert pod["serviceAccountName"] == "storefront"
    (container,) = pod["containers"]
    assert container["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 101,
        "runAsGroup": 101,
        "readOnlyRootFilesystem": True,
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert container["resources"] == {
        "requests": {"cpu": "100m", "memory": "128Mi"},
        "limits": {"cpu": "500m", "memory": "256Mi"},
    }
    assert container["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp"}]
    assert container["env"] == [
        {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db-password", "key": "password"}}}
    ]
    assert k8s(run, "Deployment").get("spec.replicas") == 2


def test_service_account_mounts_no_token(run):
    assert k8s(run, "ServiceAccount").get("automountServiceAccountToken") is False


def test_service_is_internal_and_named_for_istio(run):
    spec = k8s(run, "Service").get("spec")
    assert spec["type"] == "ClusterIP"
    assert spec["ports"] == [{"name": "http", "port": 80, "targetPort": "http", "appProtocol": "http"}]
    assert spec["selector"] == {"app.kubernetes.io/name": "storefront", "app.kubernetes.io/part-of": "shop"}


def test_sealed_secret_comes_from_the_committed_file(run):
    import yaml

    committed = yaml.safe_load(SEALED_FILE.read_text())
    sealed = k8s(run, "SealedSecret")
    assert sealed.get("apiVersion") == "bitnami.com/v1alpha1"
    assert sealed.get("metadata.name") == "db-password"
    assert sealed.get("spec.encryptedData") == committed["spec"]["encryptedData"]
    assert sealed.get("spec.template.metadata.namespace") == "shop"
    assert sealed.get("spec.template.type") == "Opaque"
    # The workload starts only once its secret object exists.
    assert sealed.urn in k8s(run, "Deployment").dependencies


def test_outputs(run):
    assert run.outputs == {
        "namespace": "shop",
        "serviceName": "storefront",
        "platformContract": "1.2",
        "publicHostnames": ["*.dev.apps.example.com"],
    }
    assert run.secret_outputs == set()


# --------------------------------------------------------------------------- clear failures


def test_a_missing_platform_output_fails_naming_it():
    with pytest.raises(PlatformOutputError) as err:
        run_example(outputs=platform_outputs(kubeconfig=None))
    assert str(err.value) == "stack contoso/platform/dev has no output 'kubeconfig' (contract 1.2)"


def test_an_incompatible_platform_contract_fails_naming_both_versions():
    with pytest.raises(PlatformOutputError) as err:
        run_example(outputs=platform_outputs(contractVersion="2.0"))
    assert "stack contoso/platform/dev exports contract 2.0, incompatible with the 1.0 this program needs" in str(
        err.value
    )


def test_a_namespace_the_platform_did_not_create_fails_and_deploys_nothing():
    recorded: list = []
    with pytest.raises(PlatformOutputError) as err:
        run_example(outputs=platform_outputs(appNamespaces=["payments"]), recorded=recorded)
    assert "namespace 'shop' is not an app namespace of stack contoso/platform/dev (appNamespaces: payments)" in str(
        err.value
    )
    assert not [r for r in recorded if r.type.startswith("kubernetes:") and r.custom]


def test_a_sealed_file_for_another_namespace_is_rejected():
    with pytest.raises(SealingError, match="metadata.namespace is 'shop', this program deploys to 'payments'"):
        run_example(overrides={"app-team-shop:namespace": "payments"})


def test_the_platform_stack_must_be_configured():
    with pytest.raises(Exception, match="platformStack"):
        run_example(overrides={"app-team-shop:platformStack": None})
