"""Every component speaks the same interface: uniform ``*Args`` names, config sections, honest outputs."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil

import pulumi
import pytest

import components
from components.registered_outputs import register_attributes
from tests.conftest import stack_raw_config
from tools.program_runner import run_program

RUNNER_VNET = "/subscriptions/x/resourceGroups/ci/providers/Microsoft.Network/virtualNetworks/runners"

# One name a concept: the left-hand spellings are the ones these interfaces do not use.
RETIRED_FIELD_NAMES = {
    "prod": "is_prod",
    "ready": "depends_on",
    "vault_dependencies": "depends_on",
    "name_prefix": "resource_prefix",  # the config's namePrefix is "plat"; Args take "plat-<environment>"
    "root_namespace": "istiod_namespace",
}


def _args_classes() -> list[type]:
    found = []
    for module_info in pkgutil.iter_modules(components.__path__):
        module = importlib.import_module(f"components.{module_info.name}")
        found += [
            cls
            for name, cls in inspect.getmembers(module, inspect.isclass)
            if name.endswith("Args") and dataclasses.is_dataclass(cls) and cls.__module__ == module.__name__
        ]
    return found


ARGS = _args_classes()


def _component_classes() -> set[type]:
    found: set[type] = set()
    for module_info in pkgutil.iter_modules(components.__path__):
        module = importlib.import_module(f"components.{module_info.name}")
        found |= {
            cls
            for _, cls in inspect.getmembers(module, inspect.isclass)
            if issubclass(cls, pulumi.ComponentResource) and cls.__module__ == module.__name__
        }
    return found


def test_every_component_has_args():
    assert {cls.__name__ for cls in ARGS} >= {
        "PlatformBaseArgs",
        "AksClusterArgs",
        "KeyVaultArgs",
        "SealingKeyArgs",
        "SealedSecretsArgs",
        "IstioMeshArgs",
        "IngressGatewayArgs",
        "EgressGatewayArgs",
        "AppNamespacesArgs",
    }


@pytest.mark.parametrize("args", ARGS, ids=lambda cls: cls.__name__)
def test_args_are_frozen_and_use_the_shared_names(args):
    assert args.__dataclass_params__.frozen
    names = {f.name for f in dataclasses.fields(args)}
    retired = {name: RETIRED_FIELD_NAMES[name] for name in names & set(RETIRED_FIELD_NAMES)}
    assert not retired, f"{args.__name__}: use {retired}"


# Where an Azure component's resources go, how they are named and tagged: one ``placement: AzurePlacement``.
LOOSE_PLACEMENT_FIELDS = {"resource_prefix", "location", "tags"}
# PlatformBase creates the resource group the others are placed in.
PLACED_BY_THEMSELVES = {"PlatformBaseArgs"}


@pytest.mark.parametrize(
    "args", [cls for cls in ARGS if cls.__name__ not in PLACED_BY_THEMSELVES], ids=lambda cls: cls.__name__
)
def test_azure_placement_is_one_field(args):
    loose = {f.name for f in dataclasses.fields(args)} & LOOSE_PLACEMENT_FIELDS
    assert not loose, f"{args.__name__}: {sorted(loose)} belong in placement: AzurePlacement"


@pytest.mark.parametrize("args", ARGS, ids=lambda cls: cls.__name__)
def test_args_take_config_sections_not_the_whole_platform_config(args):
    # Annotations are strings (``from __future__ import annotations``): the declared type as written.
    assert all("PlatformConfig" not in str(f.type) for f in dataclasses.fields(args)), args.__name__


def test_registered_outputs_are_the_components_attributes(monkeypatch):
    registered: list[tuple[pulumi.ComponentResource, dict]] = []
    register = pulumi.ComponentResource.register_outputs

    def record(self: pulumi.ComponentResource, outputs: dict) -> None:
        if type(self).__module__.startswith("components."):  # not the Stack, whose outputs are the exports
            registered.append((self, dict(outputs)))
        register(self, outputs)

    monkeypatch.setattr(pulumi.ComponentResource, "register_outputs", record)
    # The whole program, every component: dev with the prod network path switched on.
    cluster = stack_raw_config("dev")["cluster"]
    cluster["network"].update(egressFirewall=True, runnerVnetId=RUNNER_VNET)
    cluster["etcdEncryption"] = True  # prod's KMS key and identity
    run_program("dev", overrides={"cluster": cluster, "keyVault": {"publicNetworkAccess": "Disabled"}})
    # Every component the package defines is in an environment and registers its outputs.
    assert {type(component) for component, _ in registered} == _component_classes()
    # Every component registers outputs but RunnerPeering (a peering has nothing to hand on).
    assert {type(c).__name__ for c, outputs in registered if not outputs} <= {"RunnerPeering"}
    for component, outputs in registered:
        for key, value in outputs.items():
            assert getattr(component, key, None) is value, f"{type(component).__name__}: {key!r}"


class _RecordingComponent(pulumi.ComponentResource):
    """Just enough of a component to see what ``register_attributes`` registers (no Pulumi engine)."""

    def __init__(self) -> None:  # no super().__init__(): nothing is registered with an engine
        self.namespace = "istio-egress"
        self.registered: list[dict] = []

    def register_outputs(self, outputs) -> None:
        self.registered.append(dict(outputs))


def test_register_attributes_registers_each_attribute_under_its_own_name():
    component = _RecordingComponent()
    register_attributes(component, "namespace")
    assert component.registered == [{"namespace": "istio-egress"}]


def test_register_attributes_refuses_a_name_the_component_does_not_set():
    component = _RecordingComponent()
    with pytest.raises(AttributeError, match="namespce"):
        register_attributes(component, "namespce")
    assert component.registered == []
