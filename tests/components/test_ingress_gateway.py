"""IngressGateway: TLS-only Gateway with 80 -> 443, certificate delivery, JWT, static IP, NetworkPolicies."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pulumi
import pytest

from components.ingress_specs import TLS12_CIPHER_SUITES, require_jwt_policy_spec
from stack_config import (
    INGRESS_TLS_CERT_KEY,
    INGRESS_TLS_KEY_KEY,
    ConfigError,
    load_config,
    parse_config,
)
from tests.components import wiring
from tests.components.authorization_policies import gateway_status
from tests.components.network_policies import (
    INGRESS_POD,
    ISTIOD,
    Pod,
    namespace_selector,
    netpols,
    np_allows,
    one_rule_spec,
    specs_in,
)
from tests.components.wiring import ADDON_CLIENT_ID, CLUSTER_PRINCIPAL
from tests.conftest import is_network_contributor, k8s_manifest, stack_raw_config
from tests.resource_types import Azure, Istio, K8s
from tools.mocks import TENANT_ID, fake_certificate, fake_private_key
from tools.program_runner import load_stack_config, run_program

NS = "istio-ingress"
MS_ISSUER = "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0"
MS_JWKS = "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/discovery/v2.0/keys"
ADDON_OBJECT_ID = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
VAULT_ID = (
    "/subscriptions/8c3f5d2a-1b4e-4f6a-9d7c-2e5b8a1c4f90/resourceGroups/plat-prod-rg/providers/"
    "Microsoft.KeyVault/vaults/plat-prod-kv"
)


def ingress_program(**changes: Any) -> Callable[[], None]:
    """The gateway from the stack's config, with ``changes`` to its args (wiring.ingress_gateway)."""

    def program() -> None:
        gw = wiring.ingress_gateway(load_config(), wiring.in_cluster(), **changes)
        pulumi.export("ingressPublicIp", gw.public_ip_address)
        pulumi.export("ingressHostnames", gw.hostnames)
        pulumi.export("gatewayRef", gw.gateway_ref)

    return program


build = ingress_program()


@pytest.fixture(scope="module")
def prod():
    """Prod, with the add-on identity granted read access to the certificate's secret."""
    program = ingress_program(key_vault_id=VAULT_ID, secrets_provider_object_id=ADDON_OBJECT_ID)
    return run_program("prod", program=program)


@pytest.fixture(scope="module")
def config_tls():
    """dev with the certificate from secret config instead of Key Vault."""
    ingress = stack_raw_config("dev")["ingress"]
    ingress["tlsSource"] = "config"
    cert, key = fake_certificate("ingress-test"), fake_private_key("ingress-test")
    config, secret_keys = load_stack_config("dev", overrides={"ingress": ingress})
    config[f"platform:{INGRESS_TLS_CERT_KEY}"] = cert
    config[f"platform:{INGRESS_TLS_KEY_KEY}"] = key
    secret_keys = [*secret_keys, f"platform:{INGRESS_TLS_CERT_KEY}", f"platform:{INGRESS_TLS_KEY_KEY}"]
    return run_program("dev", program=build, config=(config, secret_keys)), cert, key


def gateway_of(run) -> dict:
    return run.one(Istio.GATEWAY).inputs


# --------------------------------------------------------------------------- Gateway servers


def test_tls12_suites_have_forward_secrecy_and_aead_for_both_certificate_types():
    assert TLS12_CIPHER_SUITES
    for suite in TLS12_CIPHER_SUITES:
        assert suite.startswith(("ECDHE-ECDSA-", "ECDHE-RSA-")), suite  # ephemeral keys: forward secrecy
        assert suite.endswith(("-GCM-SHA256", "-GCM-SHA384", "-CHACHA20-POLY1305")), suite  # AEAD, no CBC
    ciphers = {suite.split("-", 2)[2] for suite in TLS12_CIPHER_SUITES}
    assert {f"ECDHE-{auth}-{cipher}" for auth in ("ECDSA", "RSA") for cipher in ciphers} == set(TLS12_CIPHER_SUITES)


def test_gateway_serves_tls_only_with_a_301_redirect_on_port_80(prod):
    gw = gateway_of(prod)
    # The owned public hosts, each scoped to its namespace (prod: shop owns shop.apps.example.com).
    hosts = ["shop/shop.apps.example.com"]
    assert gw["metadata"] == {"name": "platform-ingress", "namespace": NS}
    assert gw["spec"] == {
        "selector": {"istio": "ingressgateway"},
        "servers": [
            {
                "port": {"number": 443, "name": "https", "protocol": "HTTPS"},
                "hosts": hosts,
                "tls": {
                    "mode": "SIMPLE",
                    "credentialName": "ingress-wildcard-tls",
                    "minProtocolVersion": "TLSV1_2",
                    "maxProtocolVersion": "TLSV1_3",
                    "cipherSuites": list(TLS12_CIPHER_SUITES),
                },
            },
            {
                "port": {"number": 80, "name": "http", "protocol": "HTTP"},
                "hosts": hosts,
                "tls": {"httpsRedirect": True},
            },
        ],
    }
    assert prod.outputs["gatewayRef"] == "istio-ingress/platform-ingress"


def binds(gateway_hosts: list[str], gateway_namespace: str, vs_namespace: str, vs_host: str) -> bool:
    """Istio's rule for a VirtualService bound to a Gateway (istio.io Gateway reference, ``Server.hosts``): a
    server host ``<ns>/<dnsName>`` selects VirtualService hosts from ``<ns>`` only (``*`` any namespace, ``.`` the
    Gateway's; no prefix means ``*/``), and a ``*.`` dnsName matches every name under it."""
    for entry in gateway_hosts:
        ns, _, dns = entry.rpartition("/")
        ns = {"": "*", ".": gateway_namespace}.get(ns, ns)
        if ns in ("*", vs_namespace) and (
            dns in ("*", vs_host) or (dns.startswith("*.") and vs_host.endswith(dns[1:]))
        ):
            return True
    return False


def test_only_the_owning_namespace_binds_its_public_host():
    apps = [
        {"name": "shop", "allowFromIngress": True, "publicHosts": ["shop.dev.apps.example.com"]},
        {"name": "payments", "allowFromIngress": True, "publicHosts": ["pay.dev.apps.example.com"]},
        {"name": "blog", "allowFromIngress": True},  # owns nothing: nothing to bind
    ]
    run = run_program("dev", program=build, overrides={"appNamespaces": apps})
    https, http = gateway_of(run)["spec"]["servers"]
    assert https["hosts"] == http["hosts"] == ["shop/shop.dev.apps.example.com", "payments/pay.dev.apps.example.com"]
    for ns, host, expected in [
        ("shop", "shop.dev.apps.example.com", True),
        ("payments", "pay.dev.apps.example.com", True),
        ("payments", "shop.dev.apps.example.com", False),  # another team's host: cannot capture it
        ("blog", "shop.dev.apps.example.com", False),
        ("blog", "blog.dev.apps.example.com", False),  # under the *.dev.apps wildcard, but owned by nobody
        ("istio-ingress", "shop.dev.apps.example.com", False),
    ]:
        assert binds(https["hosts"], NS, ns, host) is expected, (ns, host)
    # The same rule, on the hosts as they were before: any namespace bound any host.
    assert binds(["*.dev.apps.example.com"], NS, "blog", "shop.dev.apps.example.com")


def test_no_gateway_when_no_namespace_owns_a_public_host():
    apps = [{"name": "shop", "allowFromIngress": True}]
    run = run_program("dev", program=build, overrides={"appNamespaces": apps})
    assert run.of_type(Istio.GATEWAY) == []
    assert run.one(K8s.HELM_RELEASE).get("name") == "istio-ingressgateway"


def test_min_tls_version_follows_config():
    ingress = stack_raw_config("dev")["ingress"]
    ingress["minTlsVersion"] = "TLSV1_3"
    run = run_program("dev", program=build, overrides={"ingress": ingress})
    https = gateway_of(run)["spec"]["servers"][0]["tls"]
    assert (https["minProtocolVersion"], https["maxProtocolVersion"]) == ("TLSV1_3", "TLSV1_3")


def test_istio_objects_validate_against_the_crds(dev, prod, assert_istio_valid):
    assert_istio_valid(dev)
    assert_istio_valid(prod)


# --------------------------------------------------------------------------- chart, namespace, public IP


def test_gateway_service_is_a_load_balancer_on_the_static_ip(prod):
    # Chart, version, namespace, scaling: tests/components/test_gateway_release.py.
    rel = prod.one(K8s.HELM_RELEASE)
    assert rel.get("name") == "istio-ingressgateway"
    values = rel.get("values")
    assert values["service"] == {
        "type": "LoadBalancer",
        "externalTrafficPolicy": "Local",
        "annotations": {
            "service.beta.kubernetes.io/azure-pip-name": "plat-prod-ingress-pip",
            # The IP's own group (learn.microsoft.com/azure/aks/static-ip), not the platform group.
            "service.beta.kubernetes.io/azure-load-balancer-resource-group": "plat-prod-core-ingress-rg",
        },
        "ports": [
            {"name": "http2", "port": 80, "protocol": "TCP", "targetPort": 80},
            {"name": "https", "port": 443, "protocol": "TCP", "targetPort": 443},
        ],
    }
    assert values["autoscaling"]["minReplicas"] == 3
    # The release waits for the namespace, the IP, the IP's role assignment and the certificate source.
    deps = set(rel.dependencies)
    for t in (
        K8s.NAMESPACE,
        Azure.PUBLIC_IP_ADDRESS,
        Azure.ROLE_ASSIGNMENT,
        "kubernetes:secrets-store.csi.x-k8s.io/v1:SecretProviderClass",
    ):
        assert any(prod.by_urn(u).type == t for u in deps), t


def test_public_ip_is_static_standard_zonal_and_protected_in_prod(prod, dev):
    pip = prod.one(Azure.PUBLIC_IP_ADDRESS)
    assert pip.get("publicIpAddressName") == "plat-prod-ingress-pip"
    assert pip.get("resourceGroupName") == "plat-prod-core-ingress-rg"
    assert pip.get("sku") == {"name": "Standard", "tier": "Regional"}
    assert pip.get("publicIPAllocationMethod") == "Static"
    assert pip.get("publicIPAddressVersion") == "IPv4"
    assert pip.get("zones") == ["1", "2", "3"]
    assert pip.protect is True
    dev_pip = dev.one(Azure.PUBLIC_IP_ADDRESS)
    assert dev_pip.protect is False and dev_pip.get("zones") is None
    assert prod.outputs["ingressPublicIp"] == pip.outputs["ipAddress"]
    assert prod.outputs["ingressHostnames"] == ["*.apps.example.com", "api.example.com"]


def test_cluster_identity_is_network_contributor_on_the_ip_resource_group(prod):
    # The AKS cloud provider lists the public IPs of the group named in the Service annotation: a grant on
    # the IP alone is refused, so the scope is the IP's resource group (and nothing wider).
    pip = prod.one(Azure.PUBLIC_IP_ADDRESS)
    ra = prod.one(Azure.ROLE_ASSIGNMENT, "ingress-pip-network-contributor")
    rg_id = pip.id.split("/providers/")[0]
    assert rg_id.endswith("/resourceGroups/plat-prod-core-ingress-rg") and rg_id.startswith("/subscriptions/")
    assert ra.get("scope") == rg_id
    assert ra.get("principalId") == CLUSTER_PRINCIPAL
    assert ra.get("principalType") == "ServicePrincipal"
    assert is_network_contributor(ra)


def test_a_public_ip_ingress_without_its_own_group_is_refused():
    with pytest.raises(ValueError, match="placement in the IP's own resource group"):
        run_program("dev", program=ingress_program(placement=None))


# --------------------------------------------------------------------------- certificate delivery


def test_key_vault_certificate_is_synced_by_the_csi_driver(prod):
    spc = prod.one("kubernetes:secrets-store.csi.x-k8s.io/v1:SecretProviderClass")
    assert spc.get("metadata") == {"name": "ingress-wildcard-tls", "namespace": NS}
    assert spc.get("spec") == {
        "provider": "azure",
        "secretObjects": [
            {
                "secretName": "ingress-wildcard-tls",
                "type": "kubernetes.io/tls",
                "data": [
                    {"objectName": "wildcard-apps", "key": "tls.key"},
                    {"objectName": "wildcard-apps", "key": "tls.crt"},
                ],
            }
        ],
        "parameters": {
            "usePodIdentity": "false",
            "useVMManagedIdentity": "true",
            "userAssignedIdentityID": ADDON_CLIENT_ID,
            "keyvaultName": "plat-prod-kv",
            "tenantId": TENANT_ID,
            "objects": "array:\n  - |\n    objectName: wildcard-apps\n    objectType: secret\n",
        },
    }
    values = prod.one(K8s.HELM_RELEASE).get("values")
    assert values["volumes"] == [
        {
            "name": "ingress-tls-csi",
            "csi": {
                "driver": "secrets-store.csi.k8s.io",
                "readOnly": True,
                "volumeAttributes": {"secretProviderClass": "ingress-wildcard-tls"},
            },
        }
    ]
    assert values["volumeMounts"] == [
        {"name": "ingress-tls-csi", "mountPath": "/mnt/secrets-store/ingress-tls", "readOnly": True}
    ]
    # No plaintext Secret is created by the program in this mode.
    assert prod.of_type(K8s.SECRET) == []


def test_addon_identity_reads_only_the_certificate(prod):
    ra = prod.one(Azure.ROLE_ASSIGNMENT, "ingress-tls-secret-reader")
    assert ra.get("scope").endswith("/vaults/plat-prod-kv/secrets/wildcard-apps")
    assert ra.get("principalId") == ADDON_OBJECT_ID
    assert ra.get("roleDefinitionId").endswith("/roleDefinitions/4633458b-17de-408a-b874-0445c86b69e6")
    # The gateway pods mount the CSI volume: the chart (Helm waits for ready pods) comes after the grant.
    assert ra.urn in prod.one(K8s.HELM_RELEASE).dependencies


def test_config_certificate_becomes_a_secret_tls_secret(config_tls):
    run, cert, key = config_tls
    secret = run.one(K8s.SECRET)
    assert secret.get("metadata") == {"name": "ingress-wildcard-tls", "namespace": NS}
    assert secret.get("type") == "kubernetes.io/tls"
    assert secret.get("stringData") == {"tls.crt": cert, "tls.key": key}
    assert secret.is_secret("stringData.tls.key") and secret.is_secret("stringData.tls.crt")
    assert {"data", "stringData"} <= set(secret.additional_secret_outputs)
    assert run.of_type("kubernetes:secrets-store.csi.x-k8s.io/v1:SecretProviderClass") == []
    assert "volumes" not in run.one(K8s.HELM_RELEASE).get("values")


def test_key_vault_source_without_vault_inputs_is_refused():
    without_vault = ingress_program(key_vault_name=None, tenant_id=None, secrets_provider_client_id=None)
    with pytest.raises(ConfigError, match="ingress.tlsSource"):
        run_program("dev", program=without_vault)


# --------------------------------------------------------------------------- JWT


def test_request_authentication_per_issuer(prod):
    ra = prod.one(Istio.REQUEST_AUTHENTICATION)
    assert ra.get("metadata.namespace") == NS
    assert ra.get("spec") == {
        "selector": {"matchLabels": {"istio": "ingressgateway"}},
        "jwtRules": [
            {
                "issuer": MS_ISSUER,
                "jwksUri": MS_JWKS,
                "audiences": ["api://platform-prod"],
                "forwardOriginalToken": False,
                "fromHeaders": [{"name": "Authorization", "prefix": "Bearer "}],
            }
        ],
    }


def test_authorization_policy_denies_missing_token_and_claims(prod):
    ap = prod.one(Istio.AUTHORIZATION_POLICY)
    assert ap.get("metadata.namespace") == NS
    # Port 80 is exempt from every rule: it only answers the 301 redirect to HTTPS.
    scope = [
        {"operation": {"hosts": ["api.example.com", "api.example.com:*"], "notPorts": ["80"]}},
        {"operation": {"notHosts": ["*.apps.example.com"], "notPorts": ["80"]}},
    ]
    assert ap.get("spec") == {
        "selector": {"matchLabels": {"istio": "ingressgateway"}},
        "action": "DENY",
        "rules": [
            {"from": [{"source": {"notRequestPrincipals": [f"{MS_ISSUER}/*"]}}], "to": scope},
            {"to": scope, "when": [{"key": "request.auth.claims[roles]", "notValues": ["api.read", "api.write"]}]},
        ],
    }
    # Never an ALLOW policy on the gateway: it would deny every host it does not list.
    assert all(p.get("spec.action") != "ALLOW" for p in prod.k8s_objects("AuthorizationPolicy"))


def _objects(run) -> list[dict]:
    return [k8s_manifest(r) for r in run.resources if r.type.startswith("kubernetes:security.istio.io/")]


def _token(iss: str = MS_ISSUER, aud: str = "api://platform-prod", **claims: Any) -> dict:
    return {"iss": iss, "sub": "user-1", "aud": [aud], "claims": claims}


def test_jwt_evaluator_prod(prod):
    objs = _objects(prod)
    assert gateway_status(objs, "api.example.com") == 403, "no token on a protected host"
    assert gateway_status(objs, "api.example.com:443") == 403, "no token, Host with a port"
    assert gateway_status(objs, "API.example.com") == 403, "no token, Host in capitals"
    assert gateway_status(objs, "api.example.com", token=_token(roles=["guest"])) == 403, "wrong claim value"
    assert gateway_status(objs, "api.example.com", token=_token()) == 403, "required claim missing"
    assert gateway_status(objs, "api.example.com", token=_token(aud="api://other")) == 401, "wrong audience"
    assert gateway_status(objs, "api.example.com", token=_token(iss="https://evil.example.com")) == 401
    assert gateway_status(objs, "api.example.com", token=_token(roles=["api.read"])) == 200, "good token"
    assert gateway_status(objs, "api.example.com", "/v1/orders", token=_token(roles=["x", "api.write"])) == 200
    assert gateway_status(objs, "shop.apps.example.com") == 200, "unprotected host needs no token"
    assert gateway_status(objs, "shop.apps.example.com", token=_token(roles=["guest"])) == 200
    # Plain HTTP on a protected host still gets its redirect to HTTPS (port 80 routes nothing).
    assert gateway_status(objs, "api.example.com", port=80) == 200, "port 80 answers the 301"


def test_jwt_evaluator_dev_protects_every_host(dev):
    objs = _objects(dev)
    token = _token(aud="api://platform-dev")
    assert gateway_status(objs, "shop.dev.apps.example.com") == 403
    assert gateway_status(objs, "shop.dev.apps.example.com", token=token) == 200
    assert gateway_status(objs, "shop.dev.apps.example.com", port=80) == 200, "port 80 answers the 301"
    ap = dev.one(Istio.AUTHORIZATION_POLICY)
    assert ap.get("spec.rules") == [
        {
            "from": [{"source": {"notRequestPrincipals": [f"{MS_ISSUER}/*"]}}],
            "to": [{"operation": {"notPorts": ["80"]}}],
        }
    ]


def _issuer(issuer: str, hosts=(), paths=(), claims=()):
    from stack_config import JwtIssuerConfig

    return JwtIssuerConfig(
        issuer=issuer,
        jwks_uri=f"{issuer}/keys",
        audiences=("aud",),
        hosts=tuple(hosts),
        paths=tuple(paths),
        required_claims=tuple(claims),
        forward_original_token=False,
    )


def test_jwt_evaluator_paths_and_two_issuers():
    hosts = ("*.apps.example.com", "api.example.com", "partner.example.com")
    a = _issuer("https://a.example.com", hosts=["api.example.com"], paths=["/admin/*"])
    b = _issuer("https://b.example.com", hosts=["partner.example.com"])
    objs = []
    metadata = {"namespace": INGRESS_POD.namespace}
    for i in (a, b):
        objs.append(
            {
                "kind": "RequestAuthentication",
                "metadata": metadata,
                "spec": {"jwtRules": [{"issuer": i.issuer, "audiences": list(i.audiences)}]},
            }
        )
        objs.append({"kind": "AuthorizationPolicy", "metadata": metadata, "spec": require_jwt_policy_spec(i, hosts)})
    tok_a = {"iss": a.issuer, "sub": "s", "aud": ["aud"]}
    tok_b = {"iss": b.issuer, "sub": "s", "aud": ["aud"]}
    assert gateway_status(objs, "api.example.com", "/admin/users") == 403
    assert gateway_status(objs, "api.example.com", "/admin/users", tok_b) == 403, "another issuer's token"
    assert gateway_status(objs, "api.example.com", "/admin/users", tok_a) == 200
    assert gateway_status(objs, "api.example.com", "/public") == 200, "unprotected path"
    assert gateway_status(objs, "partner.example.com", "/", tok_a) == 403
    assert gateway_status(objs, "partner.example.com", "/", tok_b) == 200
    assert gateway_status(objs, "x.apps.example.com", "/admin/users") == 200


# --------------------------------------------------------------------------- config validation


def test_wildcard_ingress_host_is_rejected_in_prod():
    raw = stack_raw_config("prod")
    raw["ingress"]["hosts"] = ["*"]
    raw["ingress"]["jwtIssuers"][0].pop("hosts")
    with pytest.raises(ConfigError) as err:
        parse_config(raw)
    assert any(p.startswith("ingress.hosts[0]") and "never '*'" in p for p in err.value.problems)


# --------------------------------------------------------------------------- NetworkPolicies


def test_ingress_namespace_network_policies(prod):
    # The baseline (default deny, DNS, istiod, Prometheus) is tested once for both edges: test_gateway_release.py.
    pols = specs_in(prod, NS)
    gateway = {"matchLabels": {"istio": "ingressgateway"}}
    # From anywhere (no peer), on 80 and 443 only; to the app namespaces on any port.
    assert pols["allow-public-http-https"] == one_rule_spec("Ingress", (), [("TCP", 80), ("TCP", 443)], gateway)
    apps = [{"namespaceSelector": namespace_selector("shop")}]
    assert pols["allow-to-app-namespaces"] == one_rule_spec("Egress", apps, pod_selector=gateway)
    assert set(pols) == {
        "default-deny",
        "allow-public-http-https",
        "allow-to-app-namespaces",
        "allow-dns",
        "allow-istiod",
        "allow-prometheus-scrape",
    }


def test_component_type_and_children_parented(prod):
    comp = prod.one("platform:istio:IngressGateway")
    assert comp.name == "ingress"
    for r in prod.resources:
        if r.type not in ("platform:istio:IngressGateway", "pulumi:providers:kubernetes"):
            assert r.parent == comp.urn, r.name


def test_gateway_reaches_only_the_istiod_of_its_revision(prod):
    # The baseline (k8s_netpol.baseline_network_policies) is the same for both gateways and every app namespace.
    gateway = INGRESS_POD
    canary = Pod("istio-system", (("app", "istiod"), ("istio.io/rev", "1-31-0")))
    policies = netpols(prod)
    assert np_allows(policies, gateway, ISTIOD, 15012)
    assert not np_allows(policies, gateway, canary, 15012)
    assert not np_allows(policies, gateway, ISTIOD, 15010)  # plaintext xDS
