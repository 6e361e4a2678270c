"""Shared fixtures: run the program (or a component) under Pulumi mocks and look at what it registered.

A new test is a few lines:

    def test_something(run_stack):
        run = run_stack("prod", overrides={"cluster": {...}})
        cluster = run.one(Azure.MANAGED_CLUSTER)  # the type tokens: tests/resource_types.py
        assert cluster.get("disableLocalAccounts") is True

The mock layer (``tools/mocks.py``, run by ``tools/program_runner.py``) answers with realistic values:
cluster credentials and OIDC issuer, Key Vault URI, ``getClientConfig``, ``pulumi-tls`` keys and certificates, and
StackReference outputs (the non-prod key-owner stack by default; pass ``stack_references``).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import pytest
import yaml

from components.azure_roles import NETWORK_CONTRIBUTOR
from tests.resource_types import Azure
from tools.program_runner import ROOT, ProgramRun, RecordedResource, run_program

_CACHE: dict[str, ProgramRun] = {}


def stack_raw_config(stack: str) -> dict[str, Any]:
    """The ``platform:`` keys of ``Pulumi.<stack>.yaml`` as decoded Python values (no prefix)."""
    data = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    return {k.split(":", 1)[1]: copy.deepcopy(v) for k, v in data.items() if k.startswith("platform:")}


# A node subnet in a spoke VNet whose egress a hub's firewall (managed elsewhere) controls.
HUB_NODE_SUBNET = (
    "/subscriptions/8c3f5d2a-1b4e-4f6a-9d7c-2e5b8a1c4f90/resourceGroups/hub-network/providers/"
    "Microsoft.Network/virtualNetworks/spoke-weu/subnets/aks-nodes"
)


def prod_behind_a_hub_config() -> dict[str, Any]:
    """Prod's raw config with its cluster in the hub's spoke subnet (``cluster.network.existingSubnetId``)."""
    raw = stack_raw_config("prod")
    network = raw["cluster"]["network"]
    network["existingSubnetId"] = HUB_NODE_SUBNET
    # Behind a firewall managed elsewhere: config declares what it admits (the mesh allow-list).
    network["existingFirewallFqdns"] = list(raw["egress"]["hosts"])
    # KMS (prod) needs API Server VNet Integration: its subnet is brought along with the node subnet.
    network["existingApiServerSubnetId"] = HUB_NODE_SUBNET.replace("/subnets/aks-nodes", "/subnets/aks-api-server")
    return raw


@pytest.fixture
def raw_config() -> Callable[[str], dict[str, Any]]:
    return stack_raw_config


@pytest.fixture
def run_stack() -> Callable[..., ProgramRun]:
    """Run ``__main__.py`` for a stack with optional config overrides (``None`` deletes a key)."""

    def run(stack: str = "dev", overrides: Mapping[str, Any] | None = None, **kwargs: Any) -> ProgramRun:
        return run_program(stack, overrides=overrides, **kwargs)

    return run


def cached_stack_run(stack: str) -> ProgramRun:
    """The unmodified stack's run, computed once per test session (treat it as read-only)."""
    if stack not in _CACHE:
        _CACHE[stack] = run_program(stack)
    return _CACHE[stack]


@pytest.fixture
def stack_run() -> Callable[[str], ProgramRun]:
    """The unmodified stack's run, computed once per test session (treat it as read-only)."""
    return cached_stack_run


@pytest.fixture
def run_component() -> Callable[..., ProgramRun]:
    """Run any function that builds resources (a component under test) under the same mocks."""

    def run(build: Callable[[], Any], stack: str = "dev", **kwargs: Any) -> ProgramRun:
        return run_program(stack, program=build, **kwargs)

    return run


def k8s_manifest(resource: RecordedResource) -> dict[str, Any]:
    """A recorded Kubernetes resource as the object that would reach the API server."""
    return {
        k: v
        for k, v in resource.inputs.items()
        if k in ("apiVersion", "kind", "metadata", "spec", "data", "stringData", "type", "immutable")
    }


def _held(run: ProgramRun, principal: str) -> Iterator[RecordedResource]:
    return (r for r in run.of_type(Azure.ROLE_ASSIGNMENT) if r.get("principalId") == principal)


def _by_scope(grants: Iterable[RecordedResource]) -> dict[str, RecordedResource]:
    by_scope: dict[str, RecordedResource] = {}
    for grant in grants:
        scope = grant.get("scope")
        assert scope not in by_scope, f"two grants on {scope}: keyed by scope, one would hide the other"
        by_scope[scope] = grant
    return by_scope


def role_grants(run: ProgramRun, principal: str) -> dict[str, RecordedResource]:
    """Every role assignment ``principal`` holds in ``run``, by scope (one per scope, or the test fails)."""
    return _by_scope(_held(run, principal))


def is_network_contributor(grant: RecordedResource) -> bool:
    return grant.get("roleDefinitionId").endswith(f"/roleDefinitions/{NETWORK_CONTRIBUTOR}")


def network_contributor_grants(run: ProgramRun, principal: str) -> dict[str, RecordedResource]:
    """The principal's Network Contributor assignments, by scope (filtered before keying: no other role hides one)."""
    return _by_scope(g for g in _held(run, principal) if is_network_contributor(g))


def istio_objects(run: ProgramRun) -> list[dict[str, Any]]:
    return [k8s_manifest(r) for r in run.resources if r.type.startswith("kubernetes:") and "istio.io/" in r.type]


@pytest.fixture
def assert_istio_valid() -> Callable[[ProgramRun], None]:
    """Validate every Istio object of a run strictly against the reference CRDs (skip if absent)."""
    from tools import istio_schema

    def check(run: ProgramRun) -> None:
        if not istio_schema.available():
            pytest.skip("Istio CRD reference (../shared/reference/istio-crds-1.30.3.yaml) is not present")
        objects = istio_objects(run)
        assert objects, "the run emitted no Istio objects to validate"
        problems = istio_schema.validate_all(objects)
        assert not problems, "\n".join(problems)

    return check
