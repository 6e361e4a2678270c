"""The stack outputs contract: what app teams read through ``StackReference``, as one table.

The outputs are an API. This module is their single source of truth: the producer side
(``components/outputs_export.py``, called once from ``__main__.py``), the consumer helper
(``components/platform_consumer.py``), ``docs/outputs.md`` (generated from ``OUTPUTS`` by
``components/outputs_docs.py``) and the contract tests all read ``OUTPUTS``.

Versioning (``contractVersion``, "MAJOR.MINOR"): adding an output bumps MINOR; removing or renaming
an output, changing its type or its secrecy bumps MAJOR. A consumer that needs contract ``M.m``
accepts a stack whose version has the same MAJOR and a MINOR >= m.

Regenerate the docs table with ``python -m components.outputs_docs --write-docs``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

CONTRACT_VERSION = "1.2"

ROLE_ENVIRONMENT = "environment"
ROLE_KEY_OWNER = "sealingKeyOwner"
ROLES = (ROLE_ENVIRONMENT, ROLE_KEY_OWNER)
_BOTH = (ROLE_ENVIRONMENT, ROLE_KEY_OWNER)
_ENV = (ROLE_ENVIRONMENT,)
_OWNER = (ROLE_KEY_OWNER,)

# Declared types, as a Python consumer sees the value. SealingKey is
# {generation: int, privateKeyPem: str, certificatePem: str}; MeshIntermediate is
# {environment: str, generation: int, certificatePem: str, privateKeyPem: str}.
TYPES = ("str", "list[str]", "dict[str, str]", "list[SealingKey]", "list[MeshIntermediate]")

_VERSION = re.compile(r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$")
_GUID_EXAMPLE = "5b2c9e1a-7f3d-4c8b-9a6e-1d2f3a4b5c6d"


class OutputContractError(ValueError):
    """The platform program tried to export something that breaks the outputs contract."""


@dataclass(frozen=True)
class OutputSpec:
    """One stack output: its wire name, declared type, secrecy, an example and what it is for."""

    name: str
    type: str
    secret: bool
    example: Any
    description: str
    roles: tuple[str, ...]


_CERT_EXAMPLE = "-----BEGIN CERTIFICATE-----\nMIIFazCCA1OgAwIBAgIU...\n-----END CERTIFICATE-----\n"

OUTPUTS: tuple[OutputSpec, ...] = (
    OutputSpec(
        "contractVersion",
        "str",
        False,
        CONTRACT_VERSION,
        "Version of this contract (MAJOR.MINOR). Check it before reading anything else; the typed helper does.",
        _BOTH,
    ),
    OutputSpec("environment", "str", False, "dev", "Environment name (the stack's platform:environment).", _BOTH),
    OutputSpec(
        "environmentClass",
        "str",
        False,
        "nonprod",
        "`prod` or `nonprod`: pick replica counts, alerting and data policies by class, not by name.",
        _BOTH,
    ),
    OutputSpec(
        "location",
        "str",
        False,
        "westeurope",
        "Azure region: create your own Azure resources (databases, storage) next to the cluster.",
        _BOTH,
    ),
    OutputSpec(
        "stackSettings",
        "dict[str, str]",
        False,
        {
            "namePrefix": "plat",
            "environment": "dev",
            "location": "westeurope",
            "keyVault.softDeleteRetentionDays": "90",
        },
        "Settings fixed at creation (contract 1.1). The next update reads them back and refuses a change that "
        "would replace the stack's resources unless allowRename is set.",
        _BOTH,
    ),
    OutputSpec(
        "resourceGroupName",
        "str",
        False,
        "plat-dev-core-rg",
        "The platform's resource group. Read-only for app teams: put your own resources in your own group.",
        _BOTH,
    ),
    OutputSpec(
        "clusterName",
        "str",
        False,
        "plat-dev-aks",
        "AKS cluster name, for `az aks get-credentials` and dashboards.",
        _ENV,
    ),
    OutputSpec(
        "clusterId",
        "str",
        False,
        "/subscriptions/8c3f5d2a-1b4e-4f6a-9d7c-2e5b8a1c4f90/resourceGroups/plat-dev-core-rg/providers/"
        "Microsoft.ContainerService/managedClusters/plat-dev-aks",
        "AKS cluster ARM ID: the scope of Azure RBAC role assignments on the cluster.",
        _ENV,
    ),
    OutputSpec(
        "kubeconfig",
        "str",
        True,
        "apiVersion: v1\nkind: Config\nclusters: [...]\nusers: [{name: clusterUser, user: {exec: "
        "{command: kubelogin, ...}}}]\n",
        "Kubeconfig (Entra ID via kubelogin, no static credential) for a `pulumi_kubernetes.Provider`.",
        _ENV,
    ),
    OutputSpec(
        "oidcIssuerUrl",
        "str",
        False,
        f"https://westeurope.oic.prod-aks.azure.com/72f988bf-86f1-41af-91ab-2d7cd011db47/{_GUID_EXAMPLE}/",
        "Cluster OIDC issuer: the `issuer` of a federated identity credential for workload identity.",
        _ENV,
    ),
    OutputSpec(
        "kubeletIdentityObjectId",
        "str",
        False,
        "d1e2f3a4-1111-4111-8111-5b2c9e1a7f3d",
        "Kubelet identity principal: grant it `AcrPull` on your container registry.",
        _ENV,
    ),
    OutputSpec(
        "kubeletIdentityClientId",
        "str",
        False,
        "5b2c9e1a-0000-4000-8000-1d2f3a4b5c6d",
        "Kubelet identity client ID (for tools that address the identity by client ID).",
        _ENV,
    ),
    OutputSpec(
        "nodeResourceGroup",
        "str",
        False,
        "plat-dev-aks-nodes-rg",
        "AKS-managed node resource group (load balancers, disks). Never modify it.",
        _ENV,
    ),
    OutputSpec(
        "keyVaultName",
        "str",
        False,
        "plat-dev-kv-30165a",
        "The environment's Key Vault name (RBAC authorization; ask the platform team for a role).",
        _BOTH,
    ),
    OutputSpec(
        "keyVaultUri",
        "str",
        False,
        "https://plat-dev-kv-30165a.vault.azure.net/",
        "The environment's Key Vault URI, for SDKs and the Secrets Store CSI driver.",
        _BOTH,
    ),
    OutputSpec(
        "sealingCertificatePem",
        "str",
        False,
        _CERT_EXAMPLE,
        "Public certificate of the sealed-secrets key: `kubeseal --cert` to seal secrets offline. Public by design.",
        _BOTH,
    ),
    OutputSpec(
        "sealedSecretsNamespace",
        "str",
        False,
        "sealed-secrets",
        "Namespace of the sealed-secrets controller (`kubeseal --controller-namespace`).",
        _ENV,
    ),
    OutputSpec(
        "sealedSecretsControllerName",
        "str",
        False,
        "sealed-secrets-controller",
        "Name of the sealed-secrets controller (`kubeseal --controller-name`).",
        _ENV,
    ),
    OutputSpec(
        "ingressPublicIp",
        "str",
        False,
        "20.73.12.34",
        "Static public IP of the ingress: point your DNS records at it (behind the egress firewall, the firewall's).",
        _ENV,
    ),
    OutputSpec(
        "ingressHostnames",
        "list[str]",
        False,
        ["*.dev.apps.example.com"],
        "Host names the ingress gateway may serve (TLS terminated there); it serves the ones app namespaces own "
        "(publicHosts), and only the owner's VirtualServices bind them.",
        _ENV,
    ),
    OutputSpec(
        "meshTrustDomain",
        "str",
        False,
        "cluster.local",
        "Istio trust domain: SPIFFE principals are `<trustDomain>/ns/<namespace>/sa/<serviceaccount>` in "
        "AuthorizationPolicies.",
        _ENV,
    ),
    OutputSpec(
        "istioRevision",
        "str",
        False,
        "1-30-3",
        "Istio control-plane revision the default revision tag points to (your sidecars run it after a restart).",
        _ENV,
    ),
    OutputSpec(
        "injectionLabel",
        "dict[str, str]",
        False,
        {"istio.io/rev": "stable"},
        "Label that enables sidecar injection through the default revision tag (already set on app "
        "namespaces; use it on namespaces you are allowed to create yourself). A tag, not a version: "
        "upgrades move the tag, the label stays.",
        _ENV,
    ),
    OutputSpec(
        "egressAllowList",
        "list[str]",
        False,
        ["login.microsoftonline.com", "graph.microsoft.com", "api.github.com"],
        "External hosts reachable on 443 through the egress gateway; everything else is blocked "
        "(REGISTRY_ONLY). Ask the platform team to add a host.",
        _ENV,
    ),
    OutputSpec(
        "appNamespaces",
        "list[str]",
        False,
        ["shop", "payments"],
        "App namespaces the platform created (injection label, default-deny policies). Deploy only into yours.",
        _ENV,
    ),
    OutputSpec(
        "sealingKeys",
        "list[SealingKey]",
        True,
        [{"generation": 1, "privateKeyPem": "<PKCS#1 RSA private key, PEM>", "certificatePem": _CERT_EXAMPLE}],
        "Every generation of the shared non-prod sealing key (newest last). Read only by the non-prod "
        "platform stacks; never by app teams.",
        _OWNER,
    ),
    OutputSpec(
        "meshRootCertificatePem",
        "str",
        False,
        _CERT_EXAMPLE,
        "The non-prod mesh root CA certificate (public): every non-prod workload certificate chains to it. Since 1.2.",
        _OWNER,
    ),
    OutputSpec(
        "meshIntermediates",
        "list[MeshIntermediate]",
        True,
        [
            {
                "environment": "dev",
                "generation": 1,
                "certificatePem": _CERT_EXAMPLE,
                "privateKeyPem": "<PKCS#1 RSA private key, PEM>",
            }
        ],
        "Each listed environment's intermediate CA, signed by the root (istiod's cacerts). Read only by the "
        "non-prod platform stacks; never by app teams. Since 1.2.",
        _OWNER,
    ),
)

_BY_NAME = {spec.name: spec for spec in OUTPUTS}


# --------------------------------------------------------------------------- table queries


def outputs_for(role: str) -> tuple[OutputSpec, ...]:
    """The contract of a stack role, in table order."""
    if role not in ROLES:
        raise OutputContractError(f"unknown stack role {role!r}; allowed: {', '.join(ROLES)}")
    return tuple(spec for spec in OUTPUTS if role in spec.roles)


def spec_for(name: str) -> OutputSpec:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise OutputContractError(
            f"{name!r} is not in the outputs contract {CONTRACT_VERSION}; known outputs: {', '.join(_BY_NAME)}"
        ) from None


def secret_names(role: str) -> frozenset[str]:
    return frozenset(spec.name for spec in outputs_for(role) if spec.secret)


def example_outputs(role: str = ROLE_ENVIRONMENT) -> dict[str, Any]:
    """A complete, valid set of outputs for ``role`` (what a StackReference to such a stack reads); for tests."""
    import copy

    return {spec.name: copy.deepcopy(spec.example) for spec in outputs_for(role)}


# --------------------------------------------------------------------------- versions


def parse_version(version: Any) -> tuple[int, int]:
    """``"1.2"`` -> ``(1, 2)``; anything else is a ``ValueError`` naming the value."""
    if not isinstance(version, str) or not _VERSION.match(version):
        raise ValueError(f'contract version {version!r} is not MAJOR.MINOR (e.g. "1.0")')
    major, minor = version.split(".")
    return int(major), int(minor)


def is_compatible(actual: str, minimum: str) -> bool:
    """A consumer needing ``minimum`` accepts ``actual`` with the same MAJOR and a MINOR at least as high."""
    a_major, a_minor = parse_version(actual)
    m_major, m_minor = parse_version(minimum)
    return a_major == m_major and a_minor >= m_minor


# --------------------------------------------------------------------------- types


def type_problem(type_name: str, value: Any) -> str | None:
    """Why ``value`` does not have the declared type, or ``None`` when it does."""
    if type_name == "str":
        return None if isinstance(value, str) else f"expected str, got {_kind(value)}"
    if type_name == "list[str]":
        if not isinstance(value, (list, tuple)):
            return f"expected list[str], got {_kind(value)}"
        bad = [i for i, item in enumerate(value) if not isinstance(item, str)]
        return f"expected list[str], item {bad[0]} is {_kind(value[bad[0]])}" if bad else None
    if type_name == "dict[str, str]":
        if not isinstance(value, Mapping):
            return f"expected dict[str, str], got {_kind(value)}"
        bad_items = [k for k, v in value.items() if not isinstance(k, str) or not isinstance(v, str)]
        return f"expected dict[str, str], entry {bad_items[0]!r} is not str: str" if bad_items else None
    if type_name in RECORD_KEYS:
        return _records_problem(type_name, value)
    raise OutputContractError(f"unknown contract type {type_name!r}; allowed: {', '.join(TYPES)}")


# The record types: their keys, and the keys whose values are strings (``generation`` is an integer).
RECORD_KEYS = {
    "list[SealingKey]": (("generation", "privateKeyPem", "certificatePem"), ("privateKeyPem", "certificatePem")),
    "list[MeshIntermediate]": (
        ("certificatePem", "environment", "generation", "privateKeyPem"),
        ("environment", "certificatePem", "privateKeyPem"),
    ),
}


def _records_problem(type_name: str, value: Any) -> str | None:
    if not isinstance(value, (list, tuple)):
        return f"expected {type_name}, got {_kind(value)}"
    keys, texts = RECORD_KEYS[type_name]
    for i, item in enumerate(value):
        if not isinstance(item, Mapping) or set(item) != set(keys):
            got = sorted(item) if isinstance(item, Mapping) else _kind(item)
            return f"item {i}: expected keys {', '.join(keys)}; got {got}"
        gen = item["generation"]
        # Numbers read back through a StackReference arrive as floats.
        if isinstance(gen, bool) or not (isinstance(gen, int) or (isinstance(gen, float) and gen.is_integer())):
            return f"item {i}: generation must be an integer, got {_kind(gen)}"
        if not all(isinstance(item[k], str) for k in texts):
            return f"item {i}: {', '.join(texts[:-1])} and {texts[-1]} must be str"
    return None


def _kind(value: Any) -> str:
    return "None" if value is None else type(value).__name__
