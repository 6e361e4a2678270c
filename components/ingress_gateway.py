"""Ingress edge: Istio ingress gateway behind a static public IP, TLS only, 80 -> 443, JWT origin auth.

What it builds (all in ``config.namespace``, default ``istio-ingress``):

- a Standard, Static Azure public IP in a resource group of its own (``PlatformBase``'s ingress IP group:
  not the AKS node resource group, which is deleted with the cluster while the address and its DNS records
  must survive a rebuild; not the platform group either, which holds the vault and the VNet), protected in
  prod, plus ``Network Contributor`` for the cluster identity on that group alone so the cloud provider may
  attach the IP to the load balancer; behind the egress firewall (prod) instead an internal load balancer
  on ``cluster.network.ingressPrivateIp``, which the firewall's DNAT serves on its own public IP
  (``internal_address``; docs/network.md);
- the official ``gateway`` Helm chart (release ``istio-ingressgateway``, pod label
  ``istio: ingressgateway``) with ``externalTrafficPolicy: Local`` so applications see client IPs;
- the operator's wildcard certificate as the ``kubernetes.io/tls`` Secret ``ingress-wildcard-tls``,
  synced from Key Vault by the AKS secrets-provider add-on (``tlsSource: keyVault``) or made from
  secret config (``tlsSource: config``);
- a ``Gateway`` with a port-443 HTTPS server (SIMPLE TLS, TLS 1.2..1.3) and a port-80 server that only
  answers 301 to HTTPS, both for the app namespaces' ``publicHosts``, each scoped to its owner
  (``shop/shop.apps.example.com``) so that only the owner's VirtualServices bind it;
- per JWT issuer a ``RequestAuthentication`` and a DENY ``AuthorizationPolicy`` (no token, or a
  missing required claim, on a protected host/path is rejected; other hosts keep working);
- NetworkPolicies for the gateway namespace.

The specs are pure functions in ``components/ingress_specs.py``; the chart, namespace and baseline
NetworkPolicies are shared with ``EgressGateway`` through ``gateway_release`` and ``k8s_netpol``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
from pulumi_azure_native import authorization, network

from components import k8s_netpol as netpol
from components.azure_network import static_public_ip
from components.azure_placement import AzurePlacement
from components.azure_roles import (
    KEY_VAULT_SECRETS_USER,
    NETWORK_CONTRIBUTOR,
    resource_group_id,
    role_definition_id,
)
from components.gateway_release import (
    GatewayMesh,
    gateway_namespace,
    gateway_network_policies,
    gateway_release,
    gateway_values,
)
from components.ingress_specs import (
    GATEWAY_NAME,
    SECRET_PROVIDER_CLASS_NAME,
    TLS_SECRET_NAME,
    csi_certificate_volume,
    gateway_spec,
    ingress_service,
    internal_ingress_service,
    owned_hosts,
    request_authentication_spec,
    require_jwt_policy_spec,
    secret_provider_class_spec,
)
from components.mesh_names import (
    HTTP_PORT,
    HTTPS_PORT,
    INGRESS_GATEWAY_SELECTOR,
    INGRESS_RELEASE_NAME,
)
from components.registered_outputs import register_attributes
from stack_config import (
    INGRESS_TLS_CERT_KEY,
    INGRESS_TLS_KEY_KEY,
    AppNamespaceConfig,
    ConfigError,
    IngressConfig,
)


@dataclass(frozen=True)
class IngressGatewayArgs:
    """Inputs of :class:`IngressGateway`: the ``ingress`` config section and what the edge plugs into."""

    config: IngressConfig
    mesh: GatewayMesh
    is_prod: bool
    cluster_identity_principal_id: pulumi.Input[str]  # AKS control-plane identity: attaches the IP to the LB
    availability_zones: tuple[str, ...] = ()  # the user pool's zones: the public IP's zones in prod
    app_namespaces: tuple[AppNamespaceConfig, ...] = ()  # allowFromIngress: reachable; publicHosts: served, scoped
    # tlsSource keyVault: where the wildcard certificate lives and who may read it.
    key_vault_name: pulumi.Input[str] | None = None
    tenant_id: pulumi.Input[str] | None = None
    secrets_provider_client_id: pulumi.Input[str] | None = None  # add-on identity (azureKeyvaultSecretsProvider)
    # Optional: grant the add-on identity read access to this one certificate's secret only.
    key_vault_id: pulumi.Input[str] | None = None
    secrets_provider_object_id: pulumi.Input[str] | None = None
    # Behind the egress firewall (cluster.network.ingressPrivateIp): an internal load balancer on this address
    # instead of a public IP, reached through the firewall's DNAT on ``firewall_public_ip`` (docs/network.md).
    internal_address: str | None = None
    firewall_public_ip: pulumi.Input[str] | None = None
    # Otherwise the public IP's placement ("<prefix>-<name>-pip", the stack's region and tags) in a group of its own
    # (PlatformBase.ingress_ip_resource_group_name), which holds nothing else: the cluster identity's Network
    # Contributor grant on it reaches no vault, VNet or workspace.
    placement: AzurePlacement | None = None


class IngressGateway(pulumi.ComponentResource):
    """The public edge of the mesh: TLS-only Istio ingress gateway with JWT origin authentication."""

    public_ip_address: pulumi.Output[str]
    hostnames: list[str]
    namespace: str
    gateway_ref: str
    release: k8s.helm.v3.Release

    def __init__(self, name: str, args: IngressGatewayArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("platform:istio:IngressGateway", name, None, opts)
        _check_args(args)
        ing = args.config
        namespace = gateway_namespace(f"{name}-namespace", ing.namespace, args.mesh, self)
        after_ns = pulumi.ResourceOptions(parent=self, depends_on=[namespace])
        certificate_values, certificate = self._certificate(name, args, after_ns)
        service, address, azure_dependencies = self._load_balancer(name, args)
        self.release = self._release(
            name,
            args,
            service,
            certificate_values,
            depends_on=[namespace, *azure_dependencies, *certificate, *args.mesh.depends_on],
        )
        self._istio_objects(
            name, args, pulumi.ResourceOptions(parent=self, depends_on=[namespace, *args.mesh.depends_on])
        )
        self._network_policies(name, args, after_ns)

        self.public_ip_address = pulumi.Output.from_input(address)
        self.hostnames = list(ing.hosts)
        self.namespace = ing.namespace
        self.gateway_ref = f"{ing.namespace}/{GATEWAY_NAME}"
        register_attributes(self, "public_ip_address", "hostnames", "namespace", "gateway_ref")

    # ---------------------------------------------------------------- the load balancer and the release

    def _load_balancer(
        self, name: str, args: IngressGatewayArgs
    ) -> tuple[dict[str, Any], pulumi.Input[str], list[pulumi.Resource]]:
        """The chart's Service, the address clients use, and the Azure resources the chart must wait for."""
        if args.internal_address is not None:
            # A public load balancer behind the firewall's default route drops its replies (asymmetric
            # routing): clients come in through the firewall's DNAT, replies leave the same way.
            return internal_ingress_service(args.internal_address), args.firewall_public_ip or "", []
        assert args.placement is not None  # checked in _check_args
        pip_name = f"{args.placement.resource_prefix}-{name}-pip"
        pip, network_role = self._public_ip(name, pip_name, args.placement, args)
        service = ingress_service(pip_name, args.placement.resource_group_name)
        return service, pip.ip_address.apply(lambda ip: ip or ""), [pip, network_role]

    def _release(
        self,
        name: str,
        args: IngressGatewayArgs,
        service: dict[str, Any],
        certificate_values: dict[str, Any],
        depends_on: list[pulumi.Resource],
    ) -> k8s.helm.v3.Release:
        """The gateway chart: ``service`` is its Service, ``certificate_values`` mount the TLS certificate."""
        ing = args.config
        return gateway_release(
            f"{name}-release",
            release_name=INGRESS_RELEASE_NAME,
            mesh=args.mesh,
            namespace=ing.namespace,
            values={
                **gateway_values(
                    mesh=args.mesh,
                    replicas=ing.replicas,
                    selector=INGRESS_GATEWAY_SELECTOR,
                    is_prod=args.is_prod,
                    service=service,
                ),
                **certificate_values,
            },
            # Key Vault source: on the first `up` the vault is new and the operator's certificate is not in it
            # yet, so the pods' CSI mount fails and they wait in ContainerCreating; the kubelet retries the
            # mount until the certificate exists, then the driver syncs the TLS Secret and the pods start.
            # Helm's wait would instead fail the release (and the update) after its timeout, so the release
            # does not wait for readiness here (pulumi_kubernetes Release.skip_await).
            skip_await=ing.tls_source == "keyVault",
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends_on),
        )

    # ---------------------------------------------------------------- Azure: static public IP

    def _public_ip(
        self, name: str, pip_name: str, placement: AzurePlacement, args: IngressGatewayArgs
    ) -> tuple[network.PublicIPAddress, authorization.RoleAssignment]:
        pip = static_public_ip(
            f"{name}-pip",
            pip_name,
            role="ingress",
            # Zone-redundant in prod: losing a zone must not take the public address with it.
            zones=args.availability_zones if args.is_prod else (),
            # A change of group is a replacement (a new address): docs/deployment.md, "The ingress IP".
            placement=placement,
            # A deleted IP is gone for good and every DNS record pointing at it breaks: prod must not lose it.
            opts=pulumi.ResourceOptions(parent=self, protect=args.is_prod),
        )
        # Scope is the IP's resource group, not the IP: for `azure-pip-name` the AKS cloud provider LISTS the
        # public IPs of that group (cloud-provider-azure findMatchedPIP -> ListByResourceGroup), which a grant
        # on the IP alone refuses (403), so the Service would never get its address. This is the scope AKS
        # documents for a static IP outside the node resource group (learn.microsoft.com/azure/aks/static-ip:
        # Network Contributor "for the public IP's resource group", the Service annotated
        # azure-load-balancer-resource-group). The group holds this IP only, so the grant reaches nothing else.
        network_role = authorization.RoleAssignment(
            f"{name}-pip-network-contributor",
            principal_id=args.cluster_identity_principal_id,
            principal_type=authorization.PrincipalType.SERVICE_PRINCIPAL,
            role_definition_id=pip.id.apply(lambda i: role_definition_id(i, NETWORK_CONTRIBUTOR)),
            scope=pip.id.apply(resource_group_id),
            description="AKS cloud provider attaches the ingress public IP to the cluster load balancer",
            opts=pulumi.ResourceOptions(parent=self),
        )
        return pip, network_role

    # ---------------------------------------------------------------- the certificate

    def _certificate(
        self, name: str, args: IngressGatewayArgs, after_ns: pulumi.ResourceOptions
    ) -> tuple[dict[str, Any], list[pulumi.Resource]]:
        """The TLS Secret's source: (chart values that mount it, resources the chart must wait for)."""
        ing = args.config
        if ing.tls_source == "config":
            if ing.tls_certificate_pem is None or ing.tls_private_key_pem is None:
                raise ConfigError(
                    [
                        (
                            f"{INGRESS_TLS_CERT_KEY}, {INGRESS_TLS_KEY_KEY}: ingress.tlsSource is config but "
                            "the secret values were not read (stack_config.load_config reads them)"
                        )
                    ]
                )
            tls_secret = k8s.core.v1.Secret(
                f"{name}-tls",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=TLS_SECRET_NAME, namespace=ing.namespace),
                type="kubernetes.io/tls",
                string_data={"tls.crt": ing.tls_certificate_pem, "tls.key": ing.tls_private_key_pem},
                opts=pulumi.ResourceOptions.merge(
                    after_ns, pulumi.ResourceOptions(additional_secret_outputs=["data", "stringData"])
                ),
            )
            return {}, [tls_secret]
        assert args.key_vault_name and args.tenant_id and args.secrets_provider_client_id  # checked in _check_args
        dependencies: list[pulumi.Resource] = [
            k8s.apiextensions.CustomResource(
                f"{name}-tls-provider",
                api_version="secrets-store.csi.x-k8s.io/v1",
                kind="SecretProviderClass",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=SECRET_PROVIDER_CLASS_NAME, namespace=ing.namespace),
                spec=secret_provider_class_spec(
                    ing.tls_key_vault_certificate_name,
                    args.key_vault_name,
                    args.tenant_id,
                    args.secrets_provider_client_id,
                ),
                opts=after_ns,
            )
        ]
        if args.key_vault_id is not None and args.secrets_provider_object_id is not None:
            # Scope: this certificate's secret only, so the add-on identity cannot read the rest of the vault.
            # The chart waits for it: a gateway pod mounting the CSI volume before the grant exists cannot
            # start, and Helm's wait then fails the release.
            dependencies.append(
                authorization.RoleAssignment(
                    f"{name}-tls-secret-reader",
                    principal_id=args.secrets_provider_object_id,
                    principal_type=authorization.PrincipalType.SERVICE_PRINCIPAL,
                    role_definition_id=pulumi.Output.from_input(args.key_vault_id).apply(
                        lambda i: role_definition_id(i, KEY_VAULT_SECRETS_USER)
                    ),
                    scope=pulumi.Output.concat(args.key_vault_id, "/secrets/", ing.tls_key_vault_certificate_name),
                    description="AKS secrets provider reads the ingress wildcard certificate",
                    opts=pulumi.ResourceOptions(parent=self),
                )
            )
        return csi_certificate_volume(), dependencies

    # ---------------------------------------------------------------- Istio objects

    def _istio_objects(self, name: str, args: IngressGatewayArgs, istio_opts: pulumi.ResourceOptions) -> None:
        ing = args.config
        hosts = owned_hosts(args.app_namespaces)
        # A server needs at least one host: with no namespace owning one, nothing is public and no Gateway exists.
        if hosts:
            k8s.apiextensions.CustomResource(
                f"{name}-gateway",
                api_version="networking.istio.io/v1",
                kind="Gateway",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=GATEWAY_NAME, namespace=ing.namespace),
                spec=gateway_spec(hosts, ing.min_tls_version, ing.max_tls_version),
                opts=istio_opts,
            )
        for issuer in ing.jwt_issuers:
            suffix = _short_hash(issuer.issuer)
            k8s.apiextensions.CustomResource(
                f"{name}-jwt-{suffix}",
                api_version="security.istio.io/v1",
                kind="RequestAuthentication",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=f"jwt-{suffix}", namespace=ing.namespace),
                spec=request_authentication_spec(issuer),
                opts=istio_opts,
            )
            k8s.apiextensions.CustomResource(
                f"{name}-require-jwt-{suffix}",
                api_version="security.istio.io/v1",
                kind="AuthorizationPolicy",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=f"require-jwt-{suffix}", namespace=ing.namespace),
                spec=require_jwt_policy_spec(issuer, ing.hosts),
                opts=istio_opts,
            )

    # ---------------------------------------------------------------- NetworkPolicies

    def _network_policies(self, name: str, args: IngressGatewayArgs, opts: pulumi.ResourceOptions) -> None:
        ns_name = args.config.namespace
        opened = {
            # No peers: the internet (the load balancer keeps client IPs, so any source address).
            "np-allow-public": netpol.Allow(
                "allow-public-http-https", from_=(), ports=(HTTP_PORT, HTTPS_PORT), pods=INGRESS_GATEWAY_SELECTOR
            ),
        }
        ingress_apps = [a.name for a in args.app_namespaces if a.allow_from_ingress]
        if ingress_apps:
            opened["np-to-apps"] = netpol.Allow(
                "allow-to-app-namespaces",
                to=[netpol.namespaces_peer(ingress_apps)],
                pods=INGRESS_GATEWAY_SELECTOR,
            )
        gateway_network_policies(name, ns_name, args.mesh, opened, opts)


def _check_args(args: IngressGatewayArgs) -> None:
    """Refuse, before any child is registered, an ingress that could not get an address or a certificate."""
    if args.internal_address is None and args.placement is None:
        raise ValueError(
            "IngressGatewayArgs: a public-IP ingress needs placement in the IP's own resource group "
            "(PlatformBase with ingress_ip_group), or internal_address behind the firewall"
        )
    if args.config.tls_source == "keyVault" and not (
        args.key_vault_name and args.tenant_id and args.secrets_provider_client_id
    ):
        raise ConfigError(
            [
                (
                    "ingress.tlsSource: keyVault needs the environment Key Vault name, the tenant id and the "
                    "secrets-provider add-on identity client id (IngressGatewayArgs.key_vault_name, tenant_id, "
                    "secrets_provider_client_id)"
                )
            ]
        )


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:8]
