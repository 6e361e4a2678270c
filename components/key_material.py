"""Key material shared by the key components: PEM content type, vault expiry, the Istio plug-in CA bundle.

Neutral ground: ``SealingKey`` and ``MeshCa`` store key pairs in Key Vault the same way, and ``IstioMesh``
receives the plug-in CA without importing the component that made it.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import pulumi
from cryptography import x509

PEM_CONTENT_TYPE = "application/x-pem-file"

# The istiod ``cacerts`` Secret (istio.io "Plug in CA Certificates"): these four keys in istio-system.
CACERTS_SECRET = "cacerts"
CA_CERT_KEY = "ca-cert.pem"
CA_KEY_KEY = "ca-key.pem"
ROOT_CERT_KEY = "root-cert.pem"
CERT_CHAIN_KEY = "cert-chain.pem"


def vault_expiry(certificate_pem: str, extra_days: int = 0) -> int:
    """A vault secret's ``attributes.expires`` (epoch seconds): the certificate's end plus ``extra_days``."""
    not_after = x509.load_pem_x509_certificate(certificate_pem.encode()).not_valid_after_utc
    return int((not_after + datetime.timedelta(days=extra_days)).timestamp())


@dataclass(frozen=True)
class PluginCa:
    """One cluster's intermediate CA, as istiod's ``cacerts`` Secret carries it."""

    ca_cert_pem: pulumi.Output[str]  # the intermediate's certificate
    ca_key_pem: pulumi.Output[str]  # the intermediate's private key (always secret)
    root_cert_pem: pulumi.Output[str]  # the root every cluster of the organization trusts
    cert_chain_pem: pulumi.Output[str]  # intermediate, then root

    def secret_data(self) -> dict[str, pulumi.Output[str]]:
        return {
            CA_CERT_KEY: self.ca_cert_pem,
            CA_KEY_KEY: pulumi.Output.secret(self.ca_key_pem),
            ROOT_CERT_KEY: self.root_cert_pem,
            CERT_CHAIN_KEY: self.cert_chain_pem,
        }


@dataclass(frozen=True)
class ClusterKms:
    """What a cluster needs for KMS etcd encryption (``EtcdEncryption.settings``)."""

    identity_id: pulumi.Output[str]  # the control plane's user-assigned identity (KMS refuses system-assigned)
    identity_principal_id: pulumi.Output[str]
    key_id: pulumi.Output[str]  # versioned key identifier (keyUriWithVersion)
    vault_id: pulumi.Output[str]  # keyVaultResourceId: KMS in Private mode
    ready: list[pulumi.Resource]  # the identity's role assignments: AKS cannot check them for a private vault
