"""Property-based: random property shapes (wrong types, None, nested junk, unknown sentinels) never crash a rule.

Every rule is exercised through the analyzer; a crash would surface either as an exception from the servicer
or as the fail-closed "policy could not evaluate" violation, and both fail the test.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.policies.analyzer import UNKNOWN, StackResource, analyze, analyze_stack
from tests.resource_types import Azure, Istio, K8s, Tls

TYPES = [
    Azure.MANAGED_CLUSTER,
    Azure.AGENT_POOL,
    Azure.VAULT,
    K8s.SECRET,
    K8s.SERVICE,
    K8s.HELM_RELEASE,
    Istio.PEER_AUTHENTICATION,
    Istio.AUTHORIZATION_POLICY,
    Istio.GATEWAY,
    Istio.SERVICE_ENTRY,
    K8s.DEPLOYMENT,
    K8s.CRON_JOB,
    K8s.POD,
    K8s.CONFIG_GROUP,
]
KEYS = [
    "spec",
    "metadata",
    "values",
    "properties",
    "mtls",
    "mode",
    "servers",
    "tls",
    "hosts",
    "port",
    "protocol",
    "rules",
    "from",
    "source",
    "principals",
    "containers",
    "securityContext",
    "template",
    "labels",
    "namespace",
    "chart",
    "meshConfig",
    "pilot",
    "env",
    "agentPoolProfiles",
    "aadProfile",
    "apiServerAccessProfile",
    "authorizedIPRanges",
    "autoUpgradeProfile",
    "networkAcls",
    "defaultAction",
    "data",
    "type",
    "objs",
    "yaml",
    "resourceName",
    "configName",
    "logs",
    "resourceUri",
    "keyrenewperiod",
    "MAX_WORKLOAD_CERT_TTL",
    "number",
]
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 100000),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(
        [
            "",
            "*",
            "STRICT",
            "PERMISSIVE",
            "istiod",
            "sealed-secrets",
            "24h",
            "0",
            "HTTP",
            "HTTPS",
            "System",
            "Deny",
            UNKNOWN,
            "kubernetes.io/tls",
            "istio-system",
            "- a\n- [b",
            "kind: Pod\napiVersion: v1\nspec: 3",
        ]
    ),
    st.text(max_size=8),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(KEYS), inner, max_size=5)),
    max_leaves=25,
)
PROPS = st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=8)


def _no_crash(diags):
    crashed = [d for d in diags if "could not evaluate" in d.message]
    assert not crashed, "\n".join(d.message for d in crashed)


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rtype=st.sampled_from(TYPES), props=PROPS)
def test_resource_rules_never_crash(rtype, props):
    _no_crash(analyze(rtype, props, "prod"))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    items=st.lists(
        st.tuples(
            st.sampled_from(
                TYPES
                + [
                    Azure.MAINTENANCE_CONFIGURATION,
                    Azure.DIAGNOSTIC_SETTING,
                    Tls.PRIVATE_KEY,
                    Azure.VAULT_SECRET,
                    K8s.NAMESPACE,
                ]
            ),
            PROPS,
            st.booleans(),
        ),
        max_size=6,
    )
)
def test_stack_rules_never_crash(items):
    resources = [StackResource(t, f"r{i}", p, protect=prot) for i, (t, p, prot) in enumerate(items)]
    for r in resources[1:]:
        r.property_dependencies = {"resourceName": [resources[0].urn], "metadata": [resources[0].urn]}
    _no_crash(analyze_stack(resources, "dev", with_resources=False))
