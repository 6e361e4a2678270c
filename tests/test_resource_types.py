"""The type tokens tests look resources up by (``tests/resource_types.py``) are the ones the installed SDKs register.

A token no resource carries makes ``run.of_type(...)`` empty and an ``assert not run.of_type(...)`` vacuous.
"""

from __future__ import annotations

import importlib

import pytest

from tests.resource_types import Azure, Istio, K8s, Tls
from tools import istio_schema

TOKENS = {
    f"{group.__name__}.{name}": token
    for group in (Azure, Tls, K8s, Istio)
    for name, token in vars(group).items()
    if name.isupper()
}


def sdk_class(token: str) -> type:
    """The SDK class a ``<package>:<module>:<Name>`` token names, found by the SDKs' module layout."""
    package, module, name = token.split(":")
    if package == "azure-native":
        path = f"pulumi_azure_native.{module}"
    elif package == "tls":
        path = "pulumi_tls"
    else:  # kubernetes:<group>/<version>: the SDK's subpackage is the group's first label (networking.k8s.io)
        group, version = module.split("/")
        path = f"pulumi_kubernetes.{group.split('.')[0]}.{version}"
    return getattr(importlib.import_module(path), name)


@pytest.mark.parametrize("name", sorted(TOKENS))
def test_token_is_what_the_sdk_or_the_istio_crds_register(name):
    token = TOKENS[name]
    package, module, kind = token.split(":")
    if package == "kubernetes" and istio_schema.is_istio(module):
        # Istio objects are CustomResources: the token is kubernetes:<apiVersion>:<kind> of a CRD Istio ships.
        if not istio_schema.available():
            pytest.skip("the Istio CRD reference (shared/reference/) is not beside the repository")
        assert (module, kind) in istio_schema.known_kinds(), token
    else:
        assert getattr(sdk_class(token), "pulumi_type", None) == token
