"""The mesh CA: a root kept outside every cluster, and one intermediate CA per cluster (Istio plug-in CA).

istiod signs workload certificates with the intermediate it finds in the ``cacerts`` Secret (see
``components/key_material.PluginCa``); the root's private key never enters a cluster. Without this, istiod
generates its own self-signed root inside the cluster, where anyone who can read ``istio-system`` Secrets
holds the mesh's trust anchor and nothing outside the cluster can revoke it.

Scope follows ``MeshCaConfig.mode``, like the sealing key's:

- ``sharedOwner`` (the key-owner stack ``nonprod-keys``): generates the non-production root, keeps it in its
  vault, signs one intermediate per environment listed in ``meshCa.clusters`` and exports them
  (``meshIntermediates``, secret) with the root certificate (``meshRootCertificatePem``). The root's private
  key exists only here: in this stack's encrypted state and its vault, never in an environment stack.
- ``sharedReference`` (dev, test, ...): reads its own environment's intermediate from the owner stack.
- ``dedicated`` (prod): the stack makes its own root (kept in its vault, never in the cluster) and signs its
  own intermediate. Not from a shared owner, because a StackReference reads every output of a stack: a prod
  intermediate exported there would be readable by every non-production stack that reads the owner.

Rotation of an intermediate is a config change: a new ``generation`` (on the owner: the cluster's entry in
``meshCa.clusters``; dedicated: ``meshCa.intermediateGeneration``) creates a new key and certificate under
new resource names, the ``cacerts`` Secret changes, and istiod reloads it (``AUTO_RELOAD_PLUGIN_CERTS``, on by
default since Istio 1.18). Workloads move to the new intermediate at their next certificate renewal. The root
is not rotated by the program (see docs/istio.md).

The certificate profile follows Istio's own generator (``tools/certs/common.mk``): RSA 4096, the root
``CA:true`` with a subject key id, the intermediate ``CA:true, pathlen:0`` with the SAN
``istiod.istio-system.svc``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_tls as tls
from pulumi_azure_native import keyvault

from components.azure_placement import AzurePlacement
from components.key_material import PEM_CONTENT_TYPE, PluginCa, vault_expiry
from components.mesh_names import ROOT_NAMESPACE
from components.registered_outputs import register_attributes
from stack_config import MeshCaConfig

RSA_BITS = 4096
ROOT_VAULT_SECRET = "mesh-root-ca"
INTERMEDIATES_OUTPUT = "meshIntermediates"
ROOT_OUTPUT = "meshRootCertificatePem"
ROOT_CN = "Mesh Root CA"
INTERMEDIATE_CN = "Intermediate CA"
ISTIOD_SAN = f"istiod.{ROOT_NAMESPACE}.svc"
CA_USES = ["cert_signing", "crl_signing", "digital_signature", "key_encipherment"]


class MeshCaError(ValueError):
    """The owner stack does not export the intermediate this environment needs."""


@dataclass(frozen=True)
class MeshCaArgs:
    """Inputs of :class:`MeshCa`: the ``meshCa`` config section and the vault that keeps the root."""

    config: MeshCaConfig
    environment: str  # PlatformConfig.environment: whose intermediate a sharedReference stack reads
    placement: AzurePlacement  # its prefix is the certificates' O (a vault secret has no location)
    vault_name: pulumi.Input[str]
    # Prod and the owner stack: pulumi refuses to delete or replace the root.
    protect: bool
    # What the root's vault secret waits for (KeyVault.writer_role_assignment).
    depends_on: Sequence[pulumi.Resource] = ()


def select_intermediate(value: Any, stack: str, environment: str) -> dict[str, Any]:
    """This environment's entry of the owner's ``meshIntermediates``, or a clear error naming both."""
    where = f"stack '{stack}' output '{INTERMEDIATES_OUTPUT}'"
    if not isinstance(value, list) or not value:
        raise MeshCaError(
            f"{where} is missing or empty: run `pulumi up` on the mesh CA owner stack first "
            f"(meshCa.mode: sharedOwner), or fix meshCa.ownerStack"
        )
    for item in value:
        if isinstance(item, Mapping) and item.get("environment") == environment:
            if not item.get("certificatePem") or not item.get("privateKeyPem"):
                raise MeshCaError(f"{where} entry for '{environment}' lacks certificatePem or privateKeyPem")
            return dict(item)
    raise MeshCaError(
        f"{where} has no intermediate for environment '{environment}': add "
        f"{{environment: {environment}, generation: 1}} to meshCa.clusters on the owner stack and `pulumi up` it"
    )


class MeshCa(pulumi.ComponentResource):
    """``platform:istio:MeshCa``: the root (owner or dedicated) and the intermediate(s) it signs."""

    plugin_ca: PluginCa | None  # this cluster's intermediate; None on the owner stack (it has no cluster)
    root_certificate_pem: pulumi.Output[str]  # public: what every workload trusts
    intermediates: pulumi.Output[list[dict[str, Any]]]  # owner: secret [{environment, generation, ...}]

    def __init__(self, name: str, args: MeshCaArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("platform:istio:MeshCa", name, None, opts)
        cfg = args.config
        self.plugin_ca = None
        if cfg.mode == "sharedReference":
            self.intermediates = pulumi.Output.from_input([])
            self.plugin_ca = self._from_owner(name, args)
            self.root_certificate_pem = self.plugin_ca.root_cert_pem
        else:
            root_key, root_cert = self._root(name, args)
            self.root_certificate_pem = root_cert.cert_pem
            if cfg.mode == "dedicated":
                self.plugin_ca = self._intermediate(
                    name, args, args.environment, cfg.intermediate_generation, root_key, root_cert
                )
                self.intermediates = pulumi.Output.from_input([])
            else:
                signed = [
                    self._intermediate(name, args, c.environment, c.generation, root_key, root_cert)
                    for c in cfg.clusters
                ]
                self.intermediates = pulumi.Output.secret(
                    pulumi.Output.all(*[pulumi.Output.all(p.ca_cert_pem, p.ca_key_pem) for p in signed]).apply(
                        lambda pairs: [
                            {
                                "environment": c.environment,
                                "generation": c.generation,
                                "certificatePem": cert,
                                "privateKeyPem": key,
                            }
                            for c, (cert, key) in zip(cfg.clusters, pairs, strict=True)
                        ]
                    )
                )
        register_attributes(self, "root_certificate_pem", "intermediates")

    def _root(self, name: str, args: MeshCaArgs) -> tuple[tls.PrivateKey, tls.SelfSignedCert]:
        """The root key and certificate, and their copy in Key Vault (the only place outside Pulumi state)."""
        opts = pulumi.ResourceOptions(parent=self, protect=args.protect)
        key = tls.PrivateKey(f"{name}-root-key", algorithm="RSA", rsa_bits=RSA_BITS, opts=opts)
        cert = tls.SelfSignedCert(
            f"{name}-root-cert",
            private_key_pem=key.private_key_pem,
            subject=tls.SelfSignedCertSubjectArgs(common_name=ROOT_CN, organization=args.placement.resource_prefix),
            is_ca_certificate=True,
            # Go copies the issuer's subject key id into each intermediate's authority key id.
            set_subject_key_id=True,
            allowed_uses=CA_USES,
            validity_period_hours=args.config.root_validity_days * 24,
            opts=opts,
        )
        keyvault.Secret(
            f"{name}-root-vault-secret",
            resource_group_name=args.placement.resource_group_name,
            vault_name=args.vault_name,
            secret_name=ROOT_VAULT_SECRET,
            properties=keyvault.SecretPropertiesArgs(
                value=pulumi.Output.secret(pulumi.Output.concat(key.private_key_pem, cert.cert_pem)),
                content_type=PEM_CONTENT_TYPE,
                # A root past its end signs nothing anyone accepts: the vault copy expires with it.
                attributes=keyvault.SecretAttributesArgs(enabled=True, expires=cert.cert_pem.apply(vault_expiry)),
            ),
            tags={**args.placement.tags, "purpose": "mesh-root-ca"},
            opts=pulumi.ResourceOptions(
                parent=self,
                protect=args.protect,
                depends_on=list(args.depends_on),
                additional_secret_outputs=["properties"],
            ),
        )
        return key, cert

    def _intermediate(
        self,
        name: str,
        args: MeshCaArgs,
        environment: str,
        generation: int,
        root_key: tls.PrivateKey,
        root_cert: tls.SelfSignedCert,
    ) -> PluginCa:
        """One cluster's intermediate CA, signed by the root in this stack; a new generation is a new key."""
        # Not protected: rotating an intermediate replaces it by design (the root stays).
        opts = pulumi.ResourceOptions(parent=self)
        prefix = f"{name}-{environment}-intermediate"
        key = tls.PrivateKey(f"{prefix}-key-{generation}", algorithm="RSA", rsa_bits=RSA_BITS, opts=opts)
        request = tls.CertRequest(
            f"{prefix}-csr-{generation}",
            private_key_pem=key.private_key_pem,
            subject=tls.CertRequestSubjectArgs(
                common_name=INTERMEDIATE_CN, organization=args.placement.resource_prefix, locality=environment
            ),
            dns_names=[ISTIOD_SAN],
            opts=opts,
        )
        cert = tls.LocallySignedCert(
            f"{prefix}-cert-{generation}",
            cert_request_pem=request.cert_request_pem,
            ca_cert_pem=root_cert.cert_pem,
            ca_private_key_pem=root_key.private_key_pem,
            is_ca_certificate=True,
            # It signs workload certificates only, never another CA.
            max_path_length=0,
            set_subject_key_id=True,
            allowed_uses=CA_USES,
            validity_period_hours=args.config.intermediate_validity_days * 24,
            opts=opts,
        )
        return PluginCa(
            ca_cert_pem=cert.cert_pem,
            ca_key_pem=pulumi.Output.secret(key.private_key_pem),
            root_cert_pem=root_cert.cert_pem,
            cert_chain_pem=pulumi.Output.concat(cert.cert_pem, root_cert.cert_pem),
        )

    def _from_owner(self, name: str, args: MeshCaArgs) -> PluginCa:
        """This environment's intermediate and the root certificate, read from the owner stack."""
        stack = args.config.owner_stack
        if not stack:
            raise MeshCaError("meshCa.ownerStack: required when mode is sharedReference")
        owner = pulumi.StackReference(f"{name}-owner", stack_name=stack, opts=pulumi.ResourceOptions(parent=self))
        mine = pulumi.Output.secret(owner.get_output(INTERMEDIATES_OUTPUT)).apply(
            lambda value: select_intermediate(value, stack, args.environment)
        )
        cert: pulumi.Output[str] = pulumi.Output.unsecret(mine.apply(lambda i: str(i["certificatePem"])))
        root: pulumi.Output[str] = pulumi.Output.unsecret(owner.get_output(ROOT_OUTPUT)).apply(str)
        return PluginCa(
            ca_cert_pem=cert,
            ca_key_pem=pulumi.Output.secret(mine.apply(lambda i: str(i["privateKeyPem"]))),
            root_cert_pem=root,
            cert_chain_pem=pulumi.Output.concat(cert, root),
        )
