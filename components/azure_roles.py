"""Azure identifiers in one place: built-in role definitions, ARM IDs, and the names this platform derives.

The GUIDs are the same in every tenant. Each is checked against Microsoft's list of built-in roles
(https://learn.microsoft.com/azure/role-based-access-control/built-in-roles, source
MicrosoftDocs/azure-docs ``articles/role-based-access-control/built-in-roles/networking.md``,
``security.md`` and ``containers.md``: the ``id``/``name`` of each role's JSON definition).
"""

from __future__ import annotations

import re

# "Lets you manage networks, but not access to them." (networking.md)
NETWORK_CONTRIBUTOR = "4d97b98b-1d4f-4787-a291-c67834d212e7"
# "Perform any action on the secrets of a key vault, except manage permissions." (security.md)
KEY_VAULT_SECRETS_OFFICER = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"
# "Read secret contents." (security.md)
KEY_VAULT_SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
# "Read certificate contents." (security.md)
KEY_VAULT_CERTIFICATE_USER = "db79e9a7-68ee-4b58-9aeb-b90e7c24fcba"
# "Perform cryptographic operations using keys." (security.md; the AKS KMS page grants it for encrypt/decrypt)
KEY_VAULT_CRYPTO_USER = "12338af0-0e69-4776-bea7-57ae8d297424"
# "Manage key vaults, but does not allow you to assign roles in Azure RBAC" (security.md); AKS KMS needs it to
# create the private link to a private vault.
KEY_VAULT_CONTRIBUTOR = "f25e0fa2-a7c8-4377-a976-54943a77a395"
# "Allows read/write access to most objects in a namespace", no Roles or RoleBindings (containers.md).
AKS_RBAC_WRITER = "a7ffa36f-339b-4b5c-8bdf-e2c188b2c0eb"
# "Allows read-only access to see most objects in a namespace", no Secrets (containers.md).
AKS_RBAC_READER = "7f6c6a51-bcf8-42ba-9220-52d62157d7db"


def _parts(scope: str) -> list[str]:
    parts = scope.split("/") if isinstance(scope, str) else []
    if len(parts) < 3 or parts[0] or parts[1].lower() != "subscriptions" or not parts[2]:
        raise ValueError(f"not an ARM scope (/subscriptions/<id>[/...]): {scope!r}")
    return parts


def role_definition_id(scope: str, role_guid: str) -> str:
    """A built-in role's definition ID in the subscription of ``scope`` (any ARM ID at or below a subscription).

    A scope that is not an ARM ID is an error, never a ``/subscriptions//...`` ID that Azure would
    reject only at deployment time.
    """
    return f"/subscriptions/{_parts(scope)[2]}/providers/Microsoft.Authorization/roleDefinitions/{role_guid}"


def cluster_namespace_scope(cluster_id: str, namespace: str) -> str:
    """The ARM scope of one Kubernetes namespace of an AKS cluster: ``<clusterId>/namespaces/<namespace>``.

    Azure RBAC for Kubernetes authorization honours AKS RBAC roles assigned at this scope for that namespace
    only (learn.microsoft.com/azure/aks/entra-id-authorization, "namespace-name").
    """
    parts = _parts(cluster_id)
    if len(parts) != 9 or parts[5:8] != ["providers", "Microsoft.ContainerService", "managedClusters"]:
        raise ValueError(f"not an AKS cluster ID: {cluster_id!r}")
    return f"{cluster_id}/namespaces/{namespace}"


def resource_group_id(resource_id: str) -> str:
    """``/subscriptions/<s>/resourceGroups/<rg>`` of an ARM resource ID."""
    parts = _parts(resource_id)
    if len(parts) < 5 or parts[3].lower() != "resourcegroups" or not parts[4]:
        raise ValueError(f"not a resource-group-scoped ARM resource ID: {resource_id!r}")
    return "/".join(parts[:5])


def derived_name(component: str, name: str, prefix: str, max_length: int, what: str = "Azure names") -> str:
    """``<prefix>-<name>``, checked against Azure's rule before anything is registered.

    Lowercase letters, digits and '-', starting and ending alphanumeric, at most ``max_length`` long: the
    rule every Azure name derived from a component name here must meet (resource groups, VNets,
    workspaces, the cluster and its DNS prefix).
    """
    derived = f"{prefix}-{name}"
    if not re.fullmatch(rf"[a-z0-9][a-z0-9-]{{0,{max_length - 2}}}[a-z0-9]", derived):
        raise ValueError(
            f"{component} name {name!r}: {what} derived from it ({derived!r}) must be 2-{max_length} lowercase "
            "letters, digits or '-'"
        )
    return derived
