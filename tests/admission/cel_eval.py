"""Evaluate the platform's ValidatingAdmissionPolicies offline, as the API server would, with cel-python.

For one object submitted to an app namespace: every policy whose ``matchConstraints`` match its kind is
evaluated (variables in order, then each validation); a validation that is not ``true`` or that errors
(``failurePolicy: Fail``) denies the request. The denials are returned as the pack rule each validation
mirrors (its message starts with the rule's name).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import celpy

from components.mesh_names import PERIMETER_ISTIO_KINDS, TEAM_ISTIO_KINDS

_ENV = celpy.Environment()
_PROGRAMS: dict[str, Any] = {}

# kind -> (API group, resource), for the kinds the corpus uses.
RESOURCES = {
    "Pod": ("", "pods"),
    "Deployment": ("apps", "deployments"),
    "StatefulSet": ("apps", "statefulsets"),
    "DaemonSet": ("apps", "daemonsets"),
    "ReplicaSet": ("apps", "replicasets"),
    "Job": ("batch", "jobs"),
    "CronJob": ("batch", "cronjobs"),
    **{kind: (group, plural) for group, plural, kind in TEAM_ISTIO_KINDS + PERIMETER_ISTIO_KINDS},
}


@dataclass(frozen=True)
class Denial:
    policy: str
    rule: str
    message: str
    error: str = ""


def _program(expression: str) -> Any:
    if expression not in _PROGRAMS:
        _PROGRAMS[expression] = _ENV.program(_ENV.compile(expression))
    return _PROGRAMS[expression]


def _evaluate(expression: str, activation: Mapping[str, Any]) -> Any:
    return _program(expression).evaluate(dict(activation))


def matches(policy: Mapping[str, Any], obj: Mapping[str, Any], operation: str = "CREATE") -> bool:
    group, resource = RESOURCES[obj["kind"]]
    return any(
        group in rule["apiGroups"] and resource in rule["resources"] and operation in rule["operations"]
        for rule in policy["spec"]["matchConstraints"]["resourceRules"]
    )


def binding_selects(binding: Mapping[str, Any], namespace_labels: Mapping[str, str]) -> bool:
    selector = binding["spec"]["matchResources"]["namespaceSelector"]
    if any(namespace_labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expr in selector.get("matchExpressions", []):
        assert expr["operator"] == "DoesNotExist", expr
        if expr["key"] in namespace_labels:
            return False
    return True


def evaluate_policy(
    policy: Mapping[str, Any],
    obj: Mapping[str, Any] | None,
    namespace: Mapping[str, Any],
    operation: str = "CREATE",
    old: Mapping[str, Any] | None = None,
) -> list[Denial]:
    """The denials of one policy for ``operation`` on ``obj`` (None for DELETE) in ``namespace``."""
    name = policy["metadata"]["name"]
    activation: dict[str, Any] = {
        "object": celpy.json_to_cel(dict(obj)) if obj is not None else None,
        "oldObject": celpy.json_to_cel(dict(old)) if old is not None else None,
        "namespaceObject": celpy.json_to_cel(dict(namespace)),
        "request": celpy.json_to_cel({"operation": operation, "namespace": namespace["metadata"]["name"]}),
    }
    variables: dict[Any, Any] = {}
    for var in policy["spec"].get("variables", []):
        activation["variables"] = celpy.celtypes.MapType(variables)
        try:
            variables[celpy.celtypes.StringType(var["name"])] = _evaluate(var["expression"], activation)
        except celpy.CELEvalError as err:
            # A variable that errors fails every validation that reads it: with failurePolicy Fail, a denial.
            return [Denial(name, "(error)", f"variable {var['name']}", str(err))]
    activation["variables"] = celpy.celtypes.MapType(variables)
    denials = []
    for validation in policy["spec"]["validations"]:
        rule = validation["message"].split(":", 1)[0]
        try:
            result = _evaluate(validation["expression"], activation)
        except celpy.CELEvalError as err:
            denials.append(Denial(name, rule, validation["message"], str(err)))
            continue
        if result is not True and result != celpy.celtypes.BoolType(True):
            denials.append(Denial(name, rule, validation["message"]))
    return denials


def admission_denials(
    policies: Iterable[Mapping[str, Any]],
    bindings: Iterable[Mapping[str, Any]],
    obj: Mapping[str, Any] | None,
    namespace: Mapping[str, Any],
    operation: str = "CREATE",
    old: Mapping[str, Any] | None = None,
) -> list[Denial]:
    """What the API server would refuse: bound policies that match the object, evaluated."""
    target = obj if obj is not None else old
    assert target is not None
    labels = namespace["metadata"].get("labels", {})
    bound = {
        b["spec"]["policyName"]
        for b in bindings
        if binding_selects(b, labels) and "Deny" in b["spec"]["validationActions"]
    }
    return [
        denial
        for policy in policies
        if policy["metadata"]["name"] in bound and matches(policy, target, operation)
        for denial in evaluate_policy(policy, obj, namespace, operation, old)
    ]
