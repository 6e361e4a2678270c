"""Typed access to a platform stack's outputs, for app teams.

    platform = PlatformStack("contoso/platform/dev", min_contract="1.0")
    provider = k8s.Provider("platform", kubeconfig=platform.kubeconfig)

Every property is a ``pulumi.Output`` that first checks the stack's ``contractVersion`` (same
MAJOR, MINOR >= ``min_contract``), then that the output exists and has its declared type. A
failed check raises ``PlatformOutputError`` inside the Output, which fails ``pulumi preview`` /
``pulumi up`` with a message naming the stack, the output and both versions.

There is deliberately no property for ``sealingKeys``: private keys are for platform stacks only.
Depends only on ``pulumi`` and ``components/platform_outputs.py`` (vendor the two files if you
do not consume this repository as a package).
"""

from __future__ import annotations

from typing import Any

import pulumi

from components.platform_outputs import (
    CONTRACT_VERSION,
    ROLE_ENVIRONMENT,
    is_compatible,
    parse_version,
    spec_for,
    type_problem,
)


class PlatformOutputError(RuntimeError):
    """A platform stack does not provide what this program needs (missing output, wrong version or type)."""


class PlatformStack:
    """A platform environment stack read through ``pulumi.StackReference``, with typed outputs."""

    def __init__(
        self,
        stack_name: str,
        min_contract: str = CONTRACT_VERSION,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        try:
            parse_version(min_contract)
        except ValueError as err:
            raise PlatformOutputError(f"min_contract: {err}") from None
        self.stack_name = stack_name
        self.min_contract = min_contract
        self._ref = pulumi.StackReference(stack_name, opts=opts)
        self._cache: dict[str, pulumi.Output[Any]] = {}
        self.contract_version: pulumi.Output[str] = self._ref.get_output("contractVersion").apply(self._check_version)

    # ----------------------------------------------------------------- checks

    def _check_version(self, version: Any) -> str:
        if version is None:
            raise PlatformOutputError(
                f"stack {self.stack_name} has no output 'contractVersion' (this program needs contract "
                f"{self.min_contract}): is it a platform stack, and has it been deployed?"
            )
        try:
            compatible = is_compatible(version, self.min_contract)
        except ValueError as err:
            raise PlatformOutputError(f"stack {self.stack_name}: {err}") from None
        if not compatible:
            major, minor = parse_version(self.min_contract)
            raise PlatformOutputError(
                f"stack {self.stack_name} exports contract {version}, incompatible with the {self.min_contract} "
                f"this program needs (accepted: {major}.x with x >= {minor}); see docs/outputs.md"
            )
        return version

    def output(self, name: str) -> pulumi.Output[Any]:
        """Any contract output of an environment stack by its wire name, checked."""
        if name in self._cache:
            return self._cache[name]
        spec = spec_for(name)
        if ROLE_ENVIRONMENT not in spec.roles:
            raise PlatformOutputError(f"'{name}' is not an output of environment stacks (contract {CONTRACT_VERSION})")

        def check(args: list[Any]) -> Any:
            version, value = args
            if value is None:
                raise PlatformOutputError(f"stack {self.stack_name} has no output '{name}' (contract {version})")
            problem = type_problem(spec.type, value)
            if problem:
                raise PlatformOutputError(
                    f"stack {self.stack_name} output '{name}' does not match contract {version}: {problem}"
                )
            return value

        out = pulumi.Output.all(self.contract_version, self._ref.get_output(name)).apply(check)
        # Defence in depth: a secret stays secret here even if the producer forgot to mark it.
        self._cache[name] = pulumi.Output.secret(out) if spec.secret else out
        return self._cache[name]

    def require_app_namespace(self, namespace: str) -> pulumi.Output[str]:
        """``namespace`` if the platform created it as an app namespace; otherwise a clear error.

        Use the result as ``metadata.namespace`` so nothing is deployed before the check passes.
        """

        def check(names: list[str]) -> str:
            if namespace not in names:
                raise PlatformOutputError(
                    f"namespace '{namespace}' is not an app namespace of stack {self.stack_name} "
                    f"(appNamespaces: {', '.join(names) or 'none'}); ask the platform team to add it to "
                    f"platform:appNamespaces"
                )
            return namespace

        return self.app_namespaces.apply(check)

    # ----------------------------------------------------------------- typed properties

    @property
    def environment(self) -> pulumi.Output[str]:
        return self.output("environment")

    @property
    def environment_class(self) -> pulumi.Output[str]:
        return self.output("environmentClass")

    @property
    def location(self) -> pulumi.Output[str]:
        return self.output("location")

    @property
    def resource_group_name(self) -> pulumi.Output[str]:
        return self.output("resourceGroupName")

    @property
    def cluster_name(self) -> pulumi.Output[str]:
        return self.output("clusterName")

    @property
    def cluster_id(self) -> pulumi.Output[str]:
        return self.output("clusterId")

    @property
    def kubeconfig(self) -> pulumi.Output[str]:
        """Secret."""
        return self.output("kubeconfig")

    @property
    def oidc_issuer_url(self) -> pulumi.Output[str]:
        return self.output("oidcIssuerUrl")

    @property
    def kubelet_identity_object_id(self) -> pulumi.Output[str]:
        return self.output("kubeletIdentityObjectId")

    @property
    def kubelet_identity_client_id(self) -> pulumi.Output[str]:
        return self.output("kubeletIdentityClientId")

    @property
    def node_resource_group(self) -> pulumi.Output[str]:
        return self.output("nodeResourceGroup")

    @property
    def key_vault_name(self) -> pulumi.Output[str]:
        return self.output("keyVaultName")

    @property
    def key_vault_uri(self) -> pulumi.Output[str]:
        return self.output("keyVaultUri")

    @property
    def sealing_certificate_pem(self) -> pulumi.Output[str]:
        return self.output("sealingCertificatePem")

    @property
    def sealed_secrets_namespace(self) -> pulumi.Output[str]:
        return self.output("sealedSecretsNamespace")

    @property
    def sealed_secrets_controller_name(self) -> pulumi.Output[str]:
        return self.output("sealedSecretsControllerName")

    @property
    def ingress_public_ip(self) -> pulumi.Output[str]:
        return self.output("ingressPublicIp")

    @property
    def ingress_hostnames(self) -> pulumi.Output[list[str]]:
        return self.output("ingressHostnames")

    @property
    def mesh_trust_domain(self) -> pulumi.Output[str]:
        return self.output("meshTrustDomain")

    @property
    def istio_revision(self) -> pulumi.Output[str]:
        return self.output("istioRevision")

    @property
    def injection_label(self) -> pulumi.Output[dict[str, str]]:
        return self.output("injectionLabel")

    @property
    def egress_allow_list(self) -> pulumi.Output[list[str]]:
        return self.output("egressAllowList")

    @property
    def app_namespaces(self) -> pulumi.Output[list[str]]:
        return self.output("appNamespaces")
