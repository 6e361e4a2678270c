"""Sealed-secrets rules: the controller's key Secret, its Helm release, and plaintext Secrets in app namespaces."""

from __future__ import annotations

from .common import (
    CONTROLLER_NAMESPACE_SCHEMA,
    HELM_TYPES,
    SYSTEM_NAMESPACES_SCHEMA,
    UNKNOWN,
    Ctx,
    Res,
    Stack,
    chart_values,
    given,
    go_duration_seconds,
    is_number,
    not_applicable,
    resource_rule,
    setting,
    stack_rule,
    text,
)
from .frameworks import KEYS

KEY_LABEL = "sealedsecrets.bitnami.com/sealed-secrets-key"
CHART = "sealed-secrets"


@resource_rule(
    name="sealed-secrets-key-secret",
    domain="sealed-secrets",
    targets=("core/Secret",),
    severity="high",
    what="A Secret labelled sealedsecrets.bitnami.com/sealed-secrets-key is a kubernetes.io/tls Secret in the controller namespace.",
    why="The controller only reads keys from its own namespace; a key elsewhere is an unmanaged copy of the private key readable by that namespace.",
    remediation="Create the key Secret in the controller namespace with type kubernetes.io/tls and label sealedsecrets.bitnami.com/sealed-secrets-key: active.",
    frameworks=KEYS,
    config={"controllerNamespace": CONTROLLER_NAMESPACE_SCHEMA},
)
def key_secret(r: Res, ctx: Ctx) -> None:
    labels = r.labels()
    if not ctx.known(labels, "metadata.labels"):
        return
    if KEY_LABEL not in labels:
        return
    value = labels.get(KEY_LABEL)
    if ctx.known(value, f"metadata.labels.{KEY_LABEL}") and value not in ("active", "compromised"):
        ctx.fail(f"label {KEY_LABEL} is {value!r}; the controller only loads 'active' keys")
    ns = r.k8s_namespace
    want = ctx.config["controllerNamespace"]
    if ctx.known(ns, "metadata.namespace") and ns != want:
        ctx.fail(f"sealing key Secret is in namespace {ns!r}; it belongs only in {want!r}")
    kind = r.get("type")
    if ctx.known(kind, "type") and kind != "kubernetes.io/tls":
        ctx.fail(f"sealing key Secret has type {kind or 'Opaque'!r}; it must be kubernetes.io/tls")


SELF_SIGNED_CERT = "tls:index/selfSignedCert:SelfSignedCert"
SEALING_CERT_CN = "sealed-secret"  # the controller's default certificate CN (--my-cn)


@resource_rule(
    name="sealing-key-cert-validity",
    domain="sealed-secrets",
    targets=(SELF_SIGNED_CERT,),
    severity="high",
    what="A sealing-key certificate (CN sealed-secret, or a resource named for sealing) is valid for at most maxCertValidityDays.",
    why="A sealing key is rotated when its certificate ends; a 10-year certificate means one leaked key decrypts a decade of SealedSecrets.",
    remediation="Lower sealedSecrets.certValidityDays (default 365) and rotate by adding a key generation before the certificate ends.",
    frameworks=KEYS + ("NIST 800-53 SC-12(1)",),
    config={
        "maxCertValidityDays": setting(
            "integer", 1095, "Longest validity of a sealing certificate, in days.", minimum=1
        )
    },
)
def sealing_cert_validity(r: Res, ctx: Ctx) -> None:
    cn = r.get("subject.commonName")
    if not ctx.known(cn, "subject.commonName"):
        return
    if cn != SEALING_CERT_CN and "seal" not in r.name.lower():
        return
    hours = r.get("validityPeriodHours")
    limit = ctx.config["maxCertValidityDays"]
    if not ctx.known(hours, "validityPeriodHours"):
        return
    if not is_number(hours) or not is_number(limit) or hours > limit * 24:
        ctx.fail(f"validityPeriodHours is {hours!r}; a sealing certificate may be valid for at most {limit} days")


@resource_rule(
    name="sealed-secrets-key-renewal-disabled",
    domain="sealed-secrets",
    targets=HELM_TYPES,
    severity="high",
    what='The sealed-secrets Helm release disables automatic key renewal (values.keyrenewperiod: "0").',
    why="An automatically generated key exists only in the cluster and is never backed up to Key Vault; Key Vault must stay the source of truth.",
    remediation='Set values.keyrenewperiod to "0" and rotate by adding a new key generation through the stack.',
    frameworks=KEYS + ("NIST 800-53 CP-9",),
)
@given(chart_values(CHART, "keyrenewperiod"))
def key_renewal(r: Res, values: dict, ctx: Ctx) -> None:
    period = values.get("keyrenewperiod")
    if ctx.known(period, "values.keyrenewperiod") and go_duration_seconds(period) != 0:
        ctx.fail(f'values.keyrenewperiod is {period!r}; set it to "0" (unset renews every 30 days)')


@stack_rule(
    name="sealed-secrets-key-provisioned",
    domain="sealed-secrets",
    targets=HELM_TYPES + ("core/Secret",),
    severity="high",
    what="A stack that installs the sealed-secrets controller also provides its active key as a kubernetes.io/tls Secret.",
    why="Without a provided key the controller generates its own, which never reaches Key Vault and dies with the cluster.",
    remediation="Create the key Secret (label sealedsecrets.bitnami.com/sealed-secrets-key: active, type kubernetes.io/tls) in the controller namespace before the release.",
    frameworks=KEYS,
    config={"controllerNamespace": CONTROLLER_NAMESPACE_SCHEMA},
)
def key_provisioned(stack: Stack, ctx: Ctx) -> None:
    releases = stack.helm_releases(CHART) or not_applicable("the stack installs no sealed-secrets controller")
    # One pass over the Secrets, then a lookup per release: the namespaces holding an active key.
    key_namespaces: set[str] = set()
    undecided = False  # a Secret whose labels or namespace are unknown might be the key of any release
    for secret in stack.k8s_of("core", "Secret"):
        labels = secret.labels()
        sns = secret.k8s_namespace
        if labels is UNKNOWN or sns is UNKNOWN:
            undecided = True
            continue
        if labels.get(KEY_LABEL) == "active" and secret.get("type") == "kubernetes.io/tls":
            key_namespaces.add(sns)
    for release in releases:
        ns = text(release.get("namespace")) or ctx.config["controllerNamespace"]
        if ns not in key_namespaces:
            if undecided:
                ctx.unknown(f"{release.name}: key Secret")
            else:
                ctx.fail(
                    f"release {release.name!r} has no active kubernetes.io/tls key Secret in namespace {ns!r}",
                    release.urn,
                )


@resource_rule(
    name="k8s-no-plaintext-secrets",
    domain="sealed-secrets",
    targets=("core/Secret",),
    severity="high",
    what="Application namespaces get no Kubernetes Secrets with literal data; they use SealedSecrets.",
    why="A Secret's data sits base64-encoded (not encrypted) in the Pulumi state and program; SealedSecrets are safe to keep in Git.",
    remediation="Seal the value with `kubeseal --cert <sealingCertificatePem>` and commit a SealedSecret; keep platform secrets in platform namespaces.",
    frameworks=(
        "SOC 2 CC6.1",
        "PCI-DSS 4.0 3.5.1",
        "PCI-DSS 4.0 8.3.2",
        "HIPAA 164.312(a)(2)(iv)",
        "NIST 800-53 SC-28",
        "NIST 800-53 IA-5(7)",
    ),
    config={"systemNamespaces": SYSTEM_NAMESPACES_SCHEMA},
)
def plaintext_secrets(r: Res, ctx: Ctx) -> None:
    carries = []
    for key in ("data", "stringData"):
        value = r.get(key)
        if value is UNKNOWN or (isinstance(value, dict) and value) or (isinstance(value, str) and value):
            carries.append(key)
    if not carries:
        return
    ns = r.k8s_namespace
    if not ctx.known(ns, "metadata.namespace"):
        return
    if ns in ctx.cfg_list("systemNamespaces"):
        return
    ctx.fail(f"Secret carries literal {' and '.join(carries)} in application namespace {ns!r}; use a SealedSecret")
