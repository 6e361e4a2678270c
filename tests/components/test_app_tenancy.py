"""AppTenancy: each team gets its namespace and nothing else, a quota, and Istio rights short of the perimeter."""

from __future__ import annotations

from tests.components import wiring
from tests.conftest import stack_raw_config
from tests.resource_types import Azure, K8s
from tools.program_runner import ProgramRun, run_program

WRITER_GUID = "a7ffa36f-339b-4b5c-8bdf-e2c188b2c0eb"  # Azure Kubernetes Service RBAC Writer
READER_GUID = "7f6c6a51-bcf8-42ba-9220-52d62157d7db"  # Azure Kubernetes Service RBAC Reader
PERIMETER = {"serviceentries", "gateways", "peerauthentications", "sidecars", "envoyfilters", "wasmplugins"}
TEAM_KINDS = {"virtualservices", "destinationrules", "authorizationpolicies", "requestauthentications", "sealedsecrets"}

build = wiring.tenancy


def team(stack: str, name: str) -> dict:
    return next(ns for ns in stack_raw_config(stack)["appNamespaces"] if ns["name"] == name)


def in_namespace(run: ProgramRun, rtype: str, namespace: str) -> list:
    return [r for r in run.of_type(rtype) if r.get("metadata.namespace") == namespace]


def test_role_assignments_are_namespace_scoped_groups_only(prod):
    assignments = prod.of_type(Azure.ROLE_ASSIGNMENT)
    shop, payments = team("prod", "shop"), team("prod", "payments")
    got = {(a.get("principalId"), a.get("roleDefinitionId").rsplit("/", 1)[-1], a.get("scope")) for a in assignments}
    assert got == {
        (shop["writerGroupObjectId"], WRITER_GUID, f"{wiring.CLUSTER_ID}/namespaces/shop"),
        (shop["readerGroupObjectId"], READER_GUID, f"{wiring.CLUSTER_ID}/namespaces/shop"),
        (payments["writerGroupObjectId"], WRITER_GUID, f"{wiring.CLUSTER_ID}/namespaces/payments"),
    }
    assert {a.get("principalType") for a in assignments} == {"Group"}
    # Nothing cluster-wide: every scope is below a namespace of the cluster.
    assert all("/namespaces/" in a.get("scope") for a in assignments)
    assert all(a.get("roleDefinitionId").startswith("/subscriptions/") for a in assignments)


def test_team_role_grants_its_istio_kinds_and_no_perimeter_kind(prod):
    for ns in ("shop", "payments"):
        [editor] = [r for r in in_namespace(prod, K8s.ROLE, ns) if r.get("metadata.name") == "team-editor"]
        resources = {res for rule in editor.get("rules") for res in rule["resources"]}
        assert resources == TEAM_KINDS
        assert not resources & PERIMETER
        assert all("create" in rule["verbs"] and "*" not in rule["verbs"] for rule in editor.get("rules"))
        assert {g for rule in editor.get("rules") for g in rule["apiGroups"]} == {
            "networking.istio.io",
            "security.istio.io",
            "bitnami.com",
        }
    # No Role of any team names a perimeter kind or a wildcard.
    for role in prod.of_type(K8s.ROLE):
        for rule in role.get("rules"):
            assert not set(rule["resources"]) & PERIMETER and "*" not in rule["resources"], role.urn


def test_role_bindings_bind_the_entra_groups(prod):
    shop = team("prod", "shop")
    bindings = {b.get("metadata.name"): b for b in in_namespace(prod, K8s.ROLE_BINDING, "shop")}
    assert set(bindings) == {"team-editor", "team-viewer"}
    editor, viewer = bindings["team-editor"], bindings["team-viewer"]
    assert editor.get("subjects") == [
        {"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": shop["writerGroupObjectId"]}
    ]
    assert editor.get("roleRef") == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": "team-editor",
    }
    assert viewer.get("subjects")[0]["name"] == shop["readerGroupObjectId"]
    [viewer_role] = [r for r in in_namespace(prod, K8s.ROLE, "shop") if r.get("metadata.name") == "team-viewer"]
    assert {v for rule in viewer_role.get("rules") for v in rule["verbs"]} == {"get", "list", "watch"}
    # payments has no reader group: no viewer binding there.
    assert [b.get("metadata.name") for b in in_namespace(prod, K8s.ROLE_BINDING, "payments")] == ["team-editor"]


def test_quota_and_limit_range_have_secure_defaults_and_config_overrides(prod):
    [shop_quota] = in_namespace(prod, K8s.RESOURCE_QUOTA, "shop")
    assert shop_quota.get("spec.hard") == {
        "requests.cpu": "8",
        "limits.cpu": "8",
        "requests.memory": "16Gi",
        "limits.memory": "16Gi",
        "pods": "50",
        "services.loadbalancers": "0",
        "services.nodeports": "0",
    }
    [payments_quota] = in_namespace(prod, K8s.RESOURCE_QUOTA, "payments")
    assert payments_quota.get("spec.hard")["limits.cpu"] == "4"
    assert payments_quota.get("spec.hard")["pods"] == "30"
    [limits] = in_namespace(prod, K8s.LIMIT_RANGE, "shop")
    assert limits.get("spec.limits") == [
        {
            "type": "Container",
            "default": {"cpu": "500m", "memory": "512Mi"},
            "defaultRequest": {"cpu": "500m", "memory": "512Mi"},
            "max": {"cpu": "2", "memory": "4Gi"},
        }
    ]


def test_everything_waits_for_its_namespace(prod):
    namespaces = {r.get("metadata.name"): r.urn for r in prod.of_type(K8s.NAMESPACE)}
    for rtype in (K8s.ROLE, K8s.ROLE_BINDING, K8s.RESOURCE_QUOTA, K8s.LIMIT_RANGE):
        for r in prod.of_type(rtype):
            assert namespaces[r.get("metadata.namespace")] in r.dependencies, r.urn


def test_namespaces_carry_the_app_namespace_label(prod):
    apps = {ns["name"] for ns in stack_raw_config("prod")["appNamespaces"]}
    for ns in prod.of_type(K8s.NAMESPACE):
        labelled = ns.get("metadata.labels").get("platform.contoso.com/app-namespace") == "true"
        assert labelled == (ns.get("metadata.name") in apps), ns.get("metadata.name")
        assert "platform.contoso.com/mtls-exception" not in ns.get("metadata.labels")


def test_a_nonprod_namespace_without_a_team_gets_no_access_but_keeps_its_quota():
    apps = [{"name": "sandbox"}]
    run = run_program("dev", program=build, overrides={"appNamespaces": apps})
    assert run.of_type(Azure.ROLE_ASSIGNMENT) == []
    assert run.of_type(K8s.ROLE) == [] and run.of_type(K8s.ROLE_BINDING) == []
    assert (
        len(in_namespace(run, K8s.RESOURCE_QUOTA, "sandbox")) == 1
        and len(in_namespace(run, K8s.LIMIT_RANGE, "sandbox")) == 1
    )


def test_mtls_exception_namespace_is_labelled():
    raw = stack_raw_config("dev")
    istio = {**raw["istio"], "mtlsExceptions": [{"namespace": "payments"}]}
    run = run_program("dev", program=build, overrides={"istio": istio})
    labels = {r.get("metadata.name"): r.get("metadata.labels") for r in run.of_type(K8s.NAMESPACE)}
    assert labels["payments"]["platform.contoso.com/mtls-exception"] == "true"
    assert "platform.contoso.com/mtls-exception" not in labels["shop"]
