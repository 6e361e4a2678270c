"""The outputs contract table, its producer (export_outputs), its docs and the typed consumer (PlatformStack)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pulumi
import pytest

from components import outputs_docs
from components import platform_outputs as po
from components.outputs_export import export_outputs
from components.platform_consumer import PlatformOutputError, PlatformStack
from components.platform_outputs import (
    CONTRACT_VERSION,
    OUTPUTS,
    OutputContractError,
    example_outputs,
    is_compatible,
    outputs_for,
    parse_version,
    type_problem,
)
from tools.program_runner import ProgramRun, run_program

# The names COMMON.md fixes; the table must match them exactly. Every stack role exports the first ones.
EVERY_ROLE_NAMES = {
    "contractVersion",
    "environment",
    "environmentClass",
    "location",
    "stackSettings",
    "resourceGroupName",
    "keyVaultName",
    "keyVaultUri",
    "sealingCertificatePem",
}
ENVIRONMENT_NAMES = EVERY_ROLE_NAMES | {
    "clusterName",
    "clusterId",
    "kubeconfig",
    "oidcIssuerUrl",
    "kubeletIdentityObjectId",
    "kubeletIdentityClientId",
    "nodeResourceGroup",
    "sealedSecretsNamespace",
    "sealedSecretsControllerName",
    "ingressPublicIp",
    "ingressHostnames",
    "meshTrustDomain",
    "istioRevision",
    "injectionLabel",
    "egressAllowList",
    "appNamespaces",
}
KEY_OWNER_NAMES = EVERY_ROLE_NAMES | {
    "sealingKeys",
    "meshRootCertificatePem",
    "meshIntermediates",
}
SECRET_LOOKING = re.compile(
    r"kubeconfig|sealingkeys|intermediates|privatekey|password|token|credential|clientsecret", re.I
)
STACK = "contoso/platform/dev"


# --------------------------------------------------------------------------- the table


def test_names_are_unique_and_camel_case():
    names = [spec.name for spec in OUTPUTS]
    assert len(names) == len(set(names))
    assert all(re.fullmatch(r"[a-z][A-Za-z0-9]*", n) for n in names)


def test_roles_match_the_fixed_contract_names():
    assert {s.name for s in outputs_for("environment")} == ENVIRONMENT_NAMES
    assert {s.name for s in outputs_for("sealingKeyOwner")} == KEY_OWNER_NAMES
    assert all(set(s.roles) <= set(po.ROLES) and s.roles for s in OUTPUTS)


def test_secret_looking_names_are_secret_and_only_those():
    for spec in OUTPUTS:
        if SECRET_LOOKING.search(spec.name):
            assert spec.secret, f"{spec.name} looks secret but is declared public"
    assert {s.name for s in OUTPUTS if s.secret} == {"kubeconfig", "sealingKeys", "meshIntermediates"}
    # Public on purpose: `kubeseal --cert` needs it without --show-secrets.
    assert po.spec_for("sealingCertificatePem").secret is False


@pytest.mark.parametrize("spec", OUTPUTS, ids=lambda s: s.name)
def test_examples_match_declared_types(spec):
    assert spec.type in po.TYPES
    assert type_problem(spec.type, spec.example) is None
    assert spec.description.strip()


def test_examples_carry_no_key_material():
    text = repr([s.example for s in OUTPUTS])
    assert "PRIVATE KEY-----" not in text


@pytest.mark.parametrize(
    "type_name,value,fragment",
    [
        ("str", None, "expected str, got None"),
        ("str", 3, "expected str, got int"),
        ("list[str]", "a.example.com", "expected list[str], got str"),
        ("list[str]", ["a", 1], "item 1 is int"),
        ("dict[str, str]", ["istio.io/rev"], "expected dict[str, str], got list"),
        ("dict[str, str]", {"istio.io/rev": 1}, "entry 'istio.io/rev'"),
        ("list[SealingKey]", [{"generation": 1, "certificatePem": "c"}], "expected keys generation"),
        ("list[SealingKey]", [{"generation": "1", "privateKeyPem": "k", "certificatePem": "c"}], "generation must be"),
    ],
)
def test_type_checks_reject_wrong_shapes(type_name, value, fragment):
    assert fragment in (type_problem(type_name, value) or "")


def test_sealing_key_generation_read_back_as_float_is_accepted():
    # A StackReference returns numbers as floats (protobuf Struct).
    assert type_problem("list[SealingKey]", [{"generation": 2.0, "privateKeyPem": "k", "certificatePem": "c"}]) is None


# --------------------------------------------------------------------------- versions


@pytest.mark.parametrize(
    "actual,minimum,ok",
    [
        ("1.0", "1.0", True),
        ("1.3", "1.1", True),
        ("1.0", "1.1", False),
        ("2.0", "1.0", False),
        ("1.9", "2.0", False),
        ("1.10", "1.9", True),
    ],
)
def test_compatibility_is_same_major_and_minor_at_least(actual, minimum, ok):
    assert is_compatible(actual, minimum) is ok


@pytest.mark.parametrize("bad", ["1", "1.0.0", "v1.0", "01.0", "", None, 1.0])
def test_versions_must_be_major_minor(bad):
    with pytest.raises(ValueError, match="not MAJOR.MINOR"):
        parse_version(bad)


def test_contract_version_is_valid():
    assert parse_version(CONTRACT_VERSION) == (1, 2)  # 1.1 added stackSettings; 1.2 the owner stack's mesh CA


# --------------------------------------------------------------------------- docs


def test_docs_table_is_generated_from_the_contract():
    text = outputs_docs.DOCS_PATH.read_text()
    section = outputs_docs.generated_section(text)
    assert section is not None, "docs/outputs.md lost its generated-table markers"
    assert section == outputs_docs.render_tables(), (
        "docs/outputs.md is out of date: run `venv/bin/python -m components.outputs_docs --write-docs`"
    )
    assert "MAJOR.MINOR" in text and "same MAJOR" in text.replace("**", "")


# --------------------------------------------------------------------------- producer


def _values(role: str = "environment") -> dict[str, Any]:
    values = example_outputs(role)
    del values["contractVersion"]
    return values


@pytest.fixture(scope="module")
def exported() -> ProgramRun:
    def build() -> None:
        values = _values()
        # Outputs and plain values mix as they will in __main__.py; the kubeconfig arrives NOT secret here.
        values["clusterName"] = pulumi.Output.from_input(values["clusterName"])
        values["ingressHostnames"] = [pulumi.Output.from_input("*.dev.apps.example.com")]
        export_outputs("environment", values)

    return run_program("dev", program=build)


def test_export_outputs_exports_the_whole_contract(exported):
    assert exported.outputs == example_outputs("environment")
    assert exported.outputs["contractVersion"] == CONTRACT_VERSION


def test_export_outputs_makes_secret_outputs_secret(exported):
    assert exported.secret_outputs == {"kubeconfig"}


def test_export_outputs_for_the_key_owner_role():
    run = run_program("nonprod-keys", program=lambda: export_outputs("sealingKeyOwner", _values("sealingKeyOwner")))
    assert set(run.outputs) == KEY_OWNER_NAMES
    assert run.secret_outputs == {"sealingKeys", "meshIntermediates"}


def _export_error(role: str, values: dict[str, Any]) -> str:
    with pytest.raises(OutputContractError) as err:
        run_program("dev", program=lambda: export_outputs(role, values))
    return str(err.value)


def test_export_outputs_rejects_a_missing_name():
    values = _values()
    del values["oidcIssuerUrl"], values["appNamespaces"]
    msg = _export_error("environment", values)
    assert "missing: oidcIssuerUrl, appNamespaces" in msg and "'environment'" in msg


def test_export_outputs_rejects_an_unexpected_name():
    values = {**_values(), "oidcIssuerURL": "https://x.example.com/"}
    assert "not in the contract for this role: oidcIssuerURL" in _export_error("environment", values)


def test_export_outputs_rejects_an_output_of_the_other_role():
    values = {**_values("sealingKeyOwner"), "kubeconfig": "x"}
    assert "not in the contract for this role: kubeconfig" in _export_error("sealingKeyOwner", values)


def test_export_outputs_adds_contract_version_itself():
    values = {**_values(), "contractVersion": "1.0"}
    assert "contractVersion is added by export_outputs" in _export_error("environment", values)


def test_export_outputs_rejects_an_unknown_role():
    assert "unknown stack role 'app'" in _export_error("app", _values())


def test_export_outputs_checks_plain_values_at_once():
    values = {**_values(), "ingressHostnames": "*.dev.apps.example.com"}
    msg = _export_error("environment", values)
    assert "stack output 'ingressHostnames' breaks contract 1.2: expected list[str], got str" in msg


def test_export_outputs_checks_outputs_when_they_resolve():
    values = {**_values(), "ingressPublicIp": pulumi.Output.from_input(None)}
    msg = _export_error("environment", values)
    assert "stack output 'ingressPublicIp' breaks contract 1.2: expected str, got None" in msg


# --------------------------------------------------------------------------- consumer


def _consume(outputs: dict[str, Any], use: Callable[[PlatformStack], object], min_contract: str = "1.0") -> ProgramRun:
    def build() -> None:
        use(PlatformStack(STACK, min_contract=min_contract))

    return run_program("dev", program=build, stack_references={STACK: outputs})


PROPERTIES = {
    "environment": "environment",
    "environment_class": "environmentClass",
    "location": "location",
    "resource_group_name": "resourceGroupName",
    "cluster_name": "clusterName",
    "cluster_id": "clusterId",
    "kubeconfig": "kubeconfig",
    "oidc_issuer_url": "oidcIssuerUrl",
    "kubelet_identity_object_id": "kubeletIdentityObjectId",
    "kubelet_identity_client_id": "kubeletIdentityClientId",
    "node_resource_group": "nodeResourceGroup",
    "key_vault_name": "keyVaultName",
    "key_vault_uri": "keyVaultUri",
    "sealing_certificate_pem": "sealingCertificatePem",
    "sealed_secrets_namespace": "sealedSecretsNamespace",
    "sealed_secrets_controller_name": "sealedSecretsControllerName",
    "ingress_public_ip": "ingressPublicIp",
    "ingress_hostnames": "ingressHostnames",
    "mesh_trust_domain": "meshTrustDomain",
    "istio_revision": "istioRevision",
    "injection_label": "injectionLabel",
    "egress_allow_list": "egressAllowList",
    "app_namespaces": "appNamespaces",
}


def test_every_environment_output_has_a_typed_property():
    # stackSettings is the platform's own bookkeeping (its next update reads it back), not for app teams.
    assert set(PROPERTIES.values()) == ENVIRONMENT_NAMES - {"contractVersion", "stackSettings"}
    assert not hasattr(PlatformStack, "sealing_keys"), "app teams must never get the private sealing keys"


@pytest.fixture(scope="module")
def consumed() -> ProgramRun:
    def use(p: PlatformStack) -> None:
        for attr, name in PROPERTIES.items():
            pulumi.export(name, getattr(p, attr))
        pulumi.export("contractVersion", p.contract_version)

    return _consume(example_outputs(), use)


def test_properties_return_the_stack_outputs(consumed):
    expected = example_outputs()
    del expected["stackSettings"]  # no app-team property (see above)
    assert consumed.outputs == expected


def test_kubeconfig_is_secret_and_nothing_else(consumed):
    assert consumed.secret_outputs == {"kubeconfig"}


def test_kubeconfig_stays_secret_even_if_the_producer_forgot():
    class PlainReference:
        """A stack whose producer exported the kubeconfig in plaintext (the mock would flag it by name)."""

        def get_output(self, name: str) -> pulumi.Output[Any]:
            return pulumi.Output.from_input(example_outputs().get(name))

    def build() -> None:
        p = PlatformStack(STACK)
        p._ref = PlainReference()  # type: ignore[assignment]
        p.contract_version = p._ref.get_output("contractVersion").apply(p._check_version)
        pulumi.export("kubeconfig", p.kubeconfig)
        pulumi.export("clusterName", p.cluster_name)

    run = run_program("dev", program=build, stack_references={STACK: example_outputs()})
    assert run.secret_outputs == {"kubeconfig"}


def test_a_missing_output_fails_the_run_naming_it_and_the_stack():
    outputs = example_outputs()
    del outputs["oidcIssuerUrl"]
    with pytest.raises(PlatformOutputError) as err:
        _consume(outputs, lambda p: pulumi.export("issuer", p.oidc_issuer_url))
    assert str(err.value) == "stack contoso/platform/dev has no output 'oidcIssuerUrl' (contract 1.2)"


def test_a_missing_output_fails_when_used_as_a_resource_input():
    import pulumi_kubernetes as k8s

    outputs = example_outputs()
    del outputs["kubeconfig"]
    with pytest.raises(PlatformOutputError, match="has no output 'kubeconfig'"):
        _consume(outputs, lambda p: k8s.Provider("k8s", kubeconfig=p.kubeconfig))


@pytest.mark.parametrize("actual,minimum", [("2.0", "1.0"), ("1.0", "1.1"), ("1.4", "2.0")])
def test_an_incompatible_contract_fails_naming_both_versions(actual, minimum):
    outputs = {**example_outputs(), "contractVersion": actual}
    with pytest.raises(PlatformOutputError) as err:
        _consume(outputs, lambda p: pulumi.export("rev", p.istio_revision), min_contract=minimum)
    msg = str(err.value)
    assert f"stack contoso/platform/dev exports contract {actual}, incompatible with the {minimum}" in msg


def test_the_version_check_runs_even_if_no_output_is_read():
    outputs = {**example_outputs(), "contractVersion": "2.0"}
    with pytest.raises(PlatformOutputError, match="exports contract 2.0"):
        _consume(outputs, lambda p: None)


def test_a_newer_minor_is_accepted():
    outputs = {**example_outputs(), "contractVersion": "1.7", "someFutureOutput": "x"}
    run = _consume(outputs, lambda p: pulumi.export("rev", p.istio_revision), min_contract="1.0")
    assert run.outputs == {"rev": "1-30-3"}


def test_a_stack_without_contract_version_is_rejected():
    outputs = example_outputs()
    del outputs["contractVersion"]
    with pytest.raises(PlatformOutputError, match="has no output 'contractVersion'.*is it a platform stack"):
        _consume(outputs, lambda p: pulumi.export("rev", p.istio_revision))


def test_a_wrongly_typed_output_is_rejected():
    outputs = {**example_outputs(), "ingressHostnames": "*.dev.apps.example.com"}
    with pytest.raises(PlatformOutputError) as err:
        _consume(outputs, lambda p: pulumi.export("hosts", p.ingress_hostnames))
    assert "output 'ingressHostnames' does not match contract 1.2: expected list[str], got str" in str(err.value)


def test_require_app_namespace():
    run = _consume(example_outputs(), lambda p: pulumi.export("ns", p.require_app_namespace("shop")))
    assert run.outputs == {"ns": "shop"}
    with pytest.raises(PlatformOutputError) as err:
        _consume(example_outputs(), lambda p: pulumi.export("ns", p.require_app_namespace("billing")))
    assert (
        "namespace 'billing' is not an app namespace of stack contoso/platform/dev (appNamespaces: shop, payments)"
        in str(err.value)
    )


def test_non_contract_names_fail_at_once():
    with pytest.raises(OutputContractError, match="'oidcIssuerURL' is not in the outputs contract"):
        _consume(example_outputs(), lambda p: p.output("oidcIssuerURL"))
    with pytest.raises(PlatformOutputError, match="'sealingKeys' is not an output of environment stacks"):
        _consume(example_outputs(), lambda p: p.output("sealingKeys"))


def test_an_invalid_min_contract_fails_at_once():
    with pytest.raises(PlatformOutputError, match="min_contract: contract version '1' is not MAJOR.MINOR"):
        _consume(example_outputs(), lambda p: None, min_contract="1")
