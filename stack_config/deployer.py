"""Who runs ``pulumi up``: the deploying identity's principal type, detected from the provider's credentials.

The program grants the deploying identity Key Vault Secrets Officer on the vault (it writes the sealing
keys). A role assignment's ``principalType`` must match the principal: ARM refuses a mismatch with
``UnmatchedPrincipalType`` ("The PrincipalId '<id>' has type 'ServicePrincipal', which is different from
specified PrincipalType 'User'", e.g. Azure/modern-web-app-pattern-dotnet#129; the property is described at
https://aka.ms/docs-principaltype, learn.microsoft.com role-assignments-template "principalType"). Every
assignment states it: omitted, ARM looks the principal up, which fails right after the principal is created
(``PrincipalNotFound``, replication delay, same page).
So the type is decided here, from how the azure-native provider authenticates
(pulumi.com/registry/packages/azure-native/installation-configuration): a client ID with OIDC, a client
secret or certificate, or a managed identity is a service principal (a managed identity is a service
principal to ARM); no credentials at all means the Azure CLI's signed-in user. ``deployerPrincipalType``
in config overrides the detection (e.g. ``az login --service-principal``, which the provider cannot tell
apart from a user) and must agree with it when the credentials are unambiguous.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

DEPLOYER_PRINCIPAL_TYPES = ("User", "ServicePrincipal")
PROVIDER = "azure-native"

_TRUE = ("1", "true", "True", "TRUE")


@dataclass(frozen=True)
class DeployerAuth:
    """How the azure-native provider will authenticate: the detected principal type and the evidence for it.

    ``principal_type`` None: the credentials do not say (``useDefaultAzureCredential`` tries several kinds).
    """

    principal_type: str | None
    evidence: str
    certain: bool  # the evidence decides the type (a config value that disagrees is an error)


AZURE_CLI_USER = DeployerAuth("User", "no service-principal or managed-identity credentials: the Azure CLI", False)


def _flag(env: Mapping[str, str], provider: Mapping[str, str], env_name: str, key: str) -> bool:
    return env.get(env_name, "") in _TRUE or str(provider.get(f"{PROVIDER}:{key}", "")) in _TRUE


def _set(env: Mapping[str, str], provider: Mapping[str, str], env_name: str, key: str) -> bool:
    return bool(env.get(env_name)) or bool(provider.get(f"{PROVIDER}:{key}"))


def detect_deployer(env: Mapping[str, str], provider_config: Mapping[str, str]) -> DeployerAuth:
    """The deploying identity's principal type, from the ``ARM_*`` environment and ``azure-native:*`` config."""
    if _flag(env, provider_config, "ARM_USE_MSI", "useMsi"):
        return DeployerAuth("ServicePrincipal", "a managed identity (ARM_USE_MSI / azure-native:useMsi)", True)
    client_id = _set(env, provider_config, "ARM_CLIENT_ID", "clientId")
    if client_id and _flag(env, provider_config, "ARM_USE_OIDC", "useOidc"):
        return DeployerAuth("ServicePrincipal", "OIDC with a client ID (ARM_USE_OIDC + ARM_CLIENT_ID)", True)
    for env_name, key in (
        ("ARM_CLIENT_SECRET", "clientSecret"),
        ("ARM_CLIENT_CERTIFICATE_PATH", "clientCertificatePath"),
    ):
        if client_id and _set(env, provider_config, env_name, key):
            return DeployerAuth("ServicePrincipal", f"a client ID with {env_name} / azure-native:{key}", True)
    if str(provider_config.get(f"{PROVIDER}:useDefaultAzureCredential", "")) in _TRUE:
        return DeployerAuth(None, "DefaultAzureCredential (azure-native:useDefaultAzureCredential)", False)
    return AZURE_CLI_USER


def detect_running_deployer() -> DeployerAuth:
    """``detect_deployer`` for the running program: its environment and the stack's provider config."""
    from pulumi.runtime import config as runtime_config

    merged = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    provider = {k: str(v) for k, v in merged.items() if k.startswith(f"{PROVIDER}:")}
    return detect_deployer(os.environ, provider)
