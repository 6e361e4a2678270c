"""The Bitnami Sealed Secrets controller, running with the key(s) this platform owns.

The controller never generates its own key here: its key renewal is off (``keyrenewperiod: "0"``)
and it finds the platform's keys as ``kubernetes.io/tls`` Secrets labelled
``sealedsecrets.bitnami.com/sealed-secrets-key: active`` in its namespace, created before it starts.
Key Vault is the source of truth (see components/sealing_key.py), so losing the cluster loses nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.mesh_names import platform_label
from components.registered_outputs import register_attributes
from components.sealing_key import SealingKeyPair
from stack_config import SealedSecretsConfig

CHART = "sealed-secrets"
# The project moved from bitnami-labs to bitnami on 2026-06-15; the old Pages URL
# (https://bitnami-labs.github.io/sealed-secrets) now answers 404 (bitnami/sealed-secrets#1982).
CHART_REPO = "https://bitnami.github.io/sealed-secrets"
CONTROLLER_NAME = "sealed-secrets-controller"  # kubeseal's default --controller-name
KEY_PREFIX = "sealed-secrets-key"  # chart value secretName: the controller's key name prefix
KEY_LABEL = "sealedsecrets.bitnami.com/sealed-secrets-key"
KEY_LABEL_VALUE = "active"
GENERATION_LABEL = platform_label("sealing-key-generation")


def key_secret_name(generation: int) -> str:
    # Never exactly KEY_PREFIX: the controller also reads a Secret of that exact name (legacy lookup).
    return f"{KEY_PREFIX}-gen{generation}"


KEYS_CHECKSUM_ANNOTATION = platform_label("sealing-keys-sha256")


def keys_checksum(certificates: Sequence[str]) -> str:
    return hashlib.sha256("".join(certificates).encode()).hexdigest()


def controller_values(namespace: str, keys_sha256: pulumi.Input[str] = "") -> dict[str, Any]:
    """Helm values for the controller (chart ``sealed-secrets`` 2.x)."""
    return {
        "fullnameOverride": CONTROLLER_NAME,
        # The controller loads keys only at start: a new key generation rolls the pod.
        "podAnnotations": {KEYS_CHECKSUM_ANNOTATION: keys_sha256},
        "namespace": namespace,
        "secretName": KEY_PREFIX,
        # "0" (a string: the chart skips the flag for a falsy value) turns the 30-day self-rotation off;
        # a key the controller made itself would exist only in the cluster, not in Key Vault.
        "keyrenewperiod": "0",
        "resources": {
            "requests": {"cpu": "50m", "memory": "64Mi"},
            "limits": {"cpu": "500m", "memory": "256Mi"},
        },
        # Restricted pod security: non-root, no privilege escalation, no capabilities, default seccomp.
        "podSecurityContext": {
            "enabled": True,
            "fsGroup": 65534,
            "runAsNonRoot": True,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containerSecurityContext": {
            "enabled": True,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "runAsUser": 1001,
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        # The chart's NetworkPolicy admits only the controller's HTTP port (8080) and its metrics port (8081),
        # from any pod (its template opens service.port and metrics.service.port with no `from`).
        "networkPolicy": {"enabled": True},
        # The chart binds its service proxier role to system:authenticated by default, exposing
        # /v1/verify and /v1/rotate to every cluster user; app teams seal offline with the published cert.
        "rbac": {"serviceProxier": {"create": True, "bind": False}},
    }


@dataclass(frozen=True)
class SealedSecretsArgs:
    """Inputs of :class:`SealedSecrets`: the ``sealedSecrets`` config section and the keys to load."""

    config: SealedSecretsConfig
    keys: Sequence[SealingKeyPair]  # SealingKey.key_pairs, oldest first; retired ones are not loaded


class SealedSecrets(pulumi.ComponentResource):
    """``platform:sealedsecrets:Controller``: namespace, key Secrets, then the controller chart.

    Pass the cluster's provider: ``opts=pulumi.ResourceOptions(providers=[k8s_provider])``.
    """

    namespace: pulumi.Output[str]
    namespace_resource: k8s.core.v1.Namespace
    controller_name: str
    key_secret_prefix: str  # every key Secret's name starts with it (the audit alert watches reads of them)
    key_secrets: list[k8s.core.v1.Secret]
    release: k8s.helm.v3.Release

    def __init__(self, name: str, args: SealedSecretsArgs, opts: pulumi.ResourceOptions | None = None):
        loaded = [pair for pair in args.keys if not pair.retired]
        if not loaded:
            raise ValueError("SealedSecretsArgs.keys: at least one sealing key that is not retired is required")
        super().__init__("platform:sealedsecrets:Controller", name, None, opts)
        cfg = args.config
        self.namespace_resource = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=cfg.namespace,
                labels={
                    # The API server rejects any pod in here that is not "restricted".
                    "pod-security.kubernetes.io/enforce": "restricted",
                    "pod-security.kubernetes.io/enforce-version": "latest",
                    "pod-security.kubernetes.io/audit": "restricted",
                    "pod-security.kubernetes.io/warn": "restricted",
                    "app.kubernetes.io/managed-by": "pulumi",
                },
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        # A retired generation's Secret is deleted: the controller forgets the key when it restarts (the
        # checksum below changes), so SealedSecrets still encrypted with it stop decrypting (hence the config check).
        self.key_secrets = self._key_secrets(name, loaded)
        self.release = k8s.helm.v3.Release(
            f"{name}-controller",
            name=CONTROLLER_NAME,
            chart=CHART,
            version=cfg.chart_version,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=CHART_REPO),
            namespace=self.namespace_resource.metadata.name,
            create_namespace=False,
            values=controller_values(
                cfg.namespace,
                pulumi.Output.all(*[p.certificate_pem for p in loaded]).apply(keys_checksum),
            ),
            atomic=True,
            cleanup_on_fail=True,
            max_history=10,
            # The controller must find the platform's keys at start, or it would generate its own.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.namespace_resource, *self.key_secrets]),
        )

        self.namespace = self.namespace_resource.metadata.name
        self.controller_name = CONTROLLER_NAME
        self.key_secret_prefix = KEY_PREFIX
        register_attributes(self, "namespace", "controller_name", "key_secret_prefix")

    def _key_secrets(self, name: str, keys: Sequence[SealingKeyPair]) -> list[k8s.core.v1.Secret]:
        """One ``kubernetes.io/tls`` Secret a generation, oldest first.

        The newest Secret (and certificate) is what the controller seals with.
        """
        secrets: list[k8s.core.v1.Secret] = []
        for pair in keys:
            private_key: pulumi.Output[str] = pulumi.Output.secret(pair.private_key_pem)
            secrets.append(
                k8s.core.v1.Secret(
                    f"{name}-key-{pair.generation}",
                    metadata=k8s.meta.v1.ObjectMetaArgs(
                        name=key_secret_name(pair.generation),
                        namespace=self.namespace_resource.metadata.name,
                        labels={
                            KEY_LABEL: KEY_LABEL_VALUE,
                            GENERATION_LABEL: str(pair.generation),
                            "app.kubernetes.io/managed-by": "pulumi",
                        },
                    ),
                    type="kubernetes.io/tls",
                    string_data={
                        "tls.crt": pair.certificate_pem,
                        "tls.key": private_key,
                    },
                    # The key is in Key Vault before any cluster uses it, so nothing sealed can become undecryptable.
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[pair.vault_secret, *secrets[-1:]]),
                )
            )
        return secrets
