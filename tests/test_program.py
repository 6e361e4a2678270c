"""The whole program under mocks, per stack: what is wired to what, and what must never leak."""

from __future__ import annotations

import contextlib
import json

import pytest

from tests.resource_types import Azure, K8s, Tls
from tools.program_runner import ProgramRun, RecordedResource

STACKS = ["dev", "prod", "nonprod-keys"]
KEY_MARKER = "PRIVATE KEY-----"


def ancestors(run: ProgramRun, resource: RecordedResource) -> list[RecordedResource]:
    chain = []
    parent = resource.parent
    while parent:
        try:
            node = run.by_urn(parent)
        except KeyError:
            break
        chain.append(node)
        parent = node.parent
    return chain


def depends_on(run: ProgramRun, resource: RecordedResource, target: RecordedResource) -> bool:
    """Whether ``resource`` waits for ``target`` (directly or through its dependencies)."""
    seen: set[str] = set()
    todo = [resource]
    while todo:
        node = todo.pop()
        deps = set(node.dependencies)
        for urns in node.property_dependencies.values():
            deps.update(urns)
        if node.parent:
            deps.add(node.parent)
        for urn in deps - seen:
            seen.add(urn)
            if urn == target.urn:
                return True
            with contextlib.suppress(KeyError):
                todo.append(run.by_urn(urn))
    return False


@pytest.mark.parametrize("stack", STACKS)
def test_stack_registers_without_error(stack_run, stack):
    run = stack_run(stack)
    assert run.resources
    assert run.outputs["environment"] == stack


def test_environment_stack_has_every_part(stack_run):
    run = stack_run("prod")
    components = {r.type for r in run.resources if not r.custom}
    assert {
        "platform:base:PlatformBase",
        "platform:aks:Cluster",
        "platform:keyvault:Vault",
        "platform:sealedsecrets:Controller",
        "platform:istio:Mesh",
        "platform:istio:IngressGateway",
        "platform:istio:EgressGateway",
        "platform:istio:AppNamespaces",
    } <= components


def test_key_owner_stack_has_no_cluster(stack_run):
    run = stack_run("nonprod-keys")
    assert not run.of_type(Azure.MANAGED_CLUSTER)
    assert not [r for r in run.resources if r.type.startswith("kubernetes:")]
    # Its vault and key material are protected: destroying it cannot lose the shared key.
    assert run.one(Azure.VAULT).protect
    # Mesh intermediates are replaced on rotation by design; the sealing keys and the mesh root are kept.
    keys = [r for r in run.of_type(Tls.PRIVATE_KEY) if "intermediate" not in r.name]
    assert keys and all(r.protect for r in keys)


def test_cluster_and_vault_are_created_in_parallel_without_kms(stack_run):
    run = stack_run("dev")
    cluster = run.one(Azure.MANAGED_CLUSTER)
    vault = run.one(Azure.VAULT)
    assert not depends_on(run, vault, cluster)
    assert not depends_on(run, cluster, vault)


def test_with_kms_the_cluster_waits_for_its_key_not_the_other_way(stack_run):
    run = stack_run("prod")
    cluster = run.one(Azure.MANAGED_CLUSTER)
    vault = run.one(Azure.VAULT)
    assert depends_on(run, cluster, run.one(Azure.VAULT_KEY))
    assert not depends_on(run, vault, cluster)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_everything_in_cluster_goes_through_the_cluster_provider(stack_run, stack):
    run = stack_run(stack)
    [provider] = run.of_type("pulumi:providers:kubernetes")
    in_cluster = [r for r in run.resources if r.type.startswith("kubernetes:")]
    assert in_cluster
    for r in in_cluster:
        assert r.provider.startswith(provider.urn + "::"), (r.urn, r.provider)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_nodes_reach_the_vault_through_its_firewall(stack_run, stack):
    run = stack_run(stack)
    subnet = run.one(Azure.SUBNET, "core-nodes-subnet")
    assert {"service": "Microsoft.KeyVault"} in subnet.get("serviceEndpoints")
    acls = run.one(Azure.VAULT).get("properties.networkAcls")
    assert acls["defaultAction"] == "Deny"
    assert any(rule["id"].endswith("/subnets/nodes") for rule in acls["virtualNetworkRules"])


@pytest.mark.parametrize("stack", STACKS)
def test_no_private_key_outside_a_secret(stack_run, stack):
    run = stack_run(stack)

    def leaks(value, path, resource):
        if isinstance(value, dict):
            return [p for k, v in value.items() for p in leaks(v, f"{path}.{k}" if path else k, resource)]
        if isinstance(value, list):
            return [p for i, v in enumerate(value) for p in leaks(v, f"{path}.{i}" if path else str(i), resource)]
        if isinstance(value, str) and KEY_MARKER in value and not resource.is_secret(path):
            return [f"{resource.type} {resource.name}: {path}"]
        return []

    found = [p for r in run.resources for p in leaks(r.inputs, "", r)]
    assert not found, found
    for name, value in run.outputs.items():
        if KEY_MARKER in json.dumps(value, default=str):
            assert name in run.secret_outputs, name


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_istio_object_of_the_program_validates_strictly(stack_run, assert_istio_valid, stack):
    assert_istio_valid(stack_run(stack))


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_istio_objects_wait_for_istiod(stack_run, stack):
    run = stack_run(stack)
    istiod = [r for r in run.of_type(K8s.HELM_RELEASE) if r.get("chart") == "istiod"]
    assert len(istiod) == 1
    for r in run.resources:
        if r.type.startswith("kubernetes:") and "istio.io/" in r.type:
            assert depends_on(run, r, istiod[0]), r.urn


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_charts_are_pinned_to_exact_versions(stack_run, stack):
    run = stack_run(stack)
    releases = run.of_type(K8s.HELM_RELEASE)
    assert {r.get("chart") for r in releases} >= {"base", "istiod", "gateway", "sealed-secrets"}
    for r in releases:
        version = r.get("version")
        assert version and version[0].isdigit() and version.count(".") == 2, (r.name, version)
        assert r.get("repositoryOpts.repo", "").startswith("https://"), r.name
