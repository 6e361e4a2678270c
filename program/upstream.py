"""What an area reads from the components wired before it, as protocols.

The real components satisfy them (``PlatformBase``, ``KeyVault``, ``AksCluster``, ``IstioMesh``);
tests/components/wiring.py passes small stand-ins, so a component test needs no cluster or vault of its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

import pulumi


class Foundation(Protocol):
    """``PlatformBase``: where Azure resources go, where they log, how they are tagged."""

    @property
    def resource_group_name(self) -> pulumi.Input[str]: ...

    @property
    def log_analytics_workspace_id(self) -> pulumi.Input[str]: ...

    @property
    def tags(self) -> Mapping[str, str]: ...

    @property
    def node_subnet_id(self) -> pulumi.Input[str] | None: ...

    @property
    def ingress_ip_resource_group_name(self) -> pulumi.Input[str] | None: ...


class Vault(Protocol):
    """``KeyVault``: the environment's vault."""

    @property
    def vault_name(self) -> pulumi.Input[str]: ...

    @property
    def vault_id(self) -> pulumi.Input[str]: ...


class ClusterIdentities(Protocol):
    """``AksCluster``: the identities other components grant roles to or authenticate as."""

    @property
    def cluster_id(self) -> pulumi.Input[str]: ...

    @property
    def identity_principal_id(self) -> pulumi.Input[str]: ...

    @property
    def tenant_id(self) -> pulumi.Input[str] | None: ...

    @property
    def secrets_provider_client_id(self) -> pulumi.Input[str] | None: ...

    @property
    def secrets_provider_object_id(self) -> pulumi.Input[str] | None: ...


class Mesh(Protocol):
    """``IstioMesh``: the revision tag workloads are injected through, the istiods behind it, what Istio objects
    wait for."""

    @property
    def default_tag(self) -> str: ...

    @property
    def revisions(self) -> tuple[str, ...]: ...

    @property
    def root_namespace(self) -> str: ...

    @property
    def trust_domain(self) -> str: ...

    @property
    def ready(self) -> Sequence[pulumi.Resource]: ...
