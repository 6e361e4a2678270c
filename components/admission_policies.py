"""AdmissionPolicies: the policy pack's workload and mesh rules, enforced by the API server in app namespaces.

The pack (policies/) sees only what a Pulumi preview sends it. App teams also deploy with their own
stacks, GitOps or ``kubectl``; these ``ValidatingAdmissionPolicy`` + ``ValidatingAdmissionPolicyBinding``
pairs (``admissionregistration.k8s.io/v1``, GA in Kubernetes 1.30, evaluated in the API server: no
controller to run or to fail open) refuse the same objects there. Every validation names the pack rule it
mirrors (its message starts with the rule's name), and tests/admission/ runs one shared corpus through both
and asserts the same verdict for every object.

Scope: bindings select namespaces labelled ``platform.contoso.com/app-namespace=true`` (only the platform
sets it; a team cannot edit its namespace) with ``validationActions: [Deny]``; ``failurePolicy: Fail``, so an
expression error refuses rather than admits. The rules themselves (CEL, and the objects the API server
receives) are in :mod:`components.admission_rules`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.admission_rules import admission_rules, binding_object, policy_object
from components.registered_outputs import register_attributes


@dataclass(frozen=True)
class AdmissionPoliciesArgs:
    """Inputs of :class:`AdmissionPolicies`; the policies are the same in every environment."""

    depends_on: Sequence[pulumi.Resource] = ()  # IstioMesh.ready: the Istio kinds the policies match exist


class AdmissionPolicies(pulumi.ComponentResource):
    """The pack's workload and mesh rules as ValidatingAdmissionPolicies bound to every app namespace."""

    policy_names: list[str]

    def __init__(self, name: str, args: AdmissionPoliciesArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("platform:k8s:AdmissionPolicies", name, None, opts)
        self.policy_names = []
        for rule in admission_rules():
            policy = policy_object(rule)
            created = k8s.admissionregistration.v1.ValidatingAdmissionPolicy(
                f"{name}-{rule.name}",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=rule.name),
                spec=_policy_spec_args(policy["spec"]),
                opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on)),
            )
            binding = binding_object(rule)["spec"]
            k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding(
                f"{name}-{rule.name}-binding",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=rule.name),
                spec=k8s.admissionregistration.v1.ValidatingAdmissionPolicyBindingSpecArgs(
                    policy_name=binding["policyName"],
                    validation_actions=binding["validationActions"],
                    match_resources=k8s.admissionregistration.v1.MatchResourcesArgs(
                        namespace_selector=_selector_args(binding["matchResources"]["namespaceSelector"])
                    ),
                ),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[created]),
            )
            self.policy_names.append(rule.name)
        register_attributes(self, "policy_names")


def _selector_args(selector: Mapping[str, Any]) -> k8s.meta.v1.LabelSelectorArgs:
    return k8s.meta.v1.LabelSelectorArgs(
        match_labels=selector.get("matchLabels"),
        match_expressions=[
            k8s.meta.v1.LabelSelectorRequirementArgs(key=e["key"], operator=e["operator"])
            for e in selector.get("matchExpressions", [])
        ]
        or None,
    )


def _policy_spec_args(spec: Mapping[str, Any]) -> k8s.admissionregistration.v1.ValidatingAdmissionPolicySpecArgs:
    v1 = k8s.admissionregistration.v1
    return v1.ValidatingAdmissionPolicySpecArgs(
        failure_policy=spec["failurePolicy"],
        match_constraints=v1.MatchResourcesArgs(
            resource_rules=[
                v1.NamedRuleWithOperationsArgs(
                    api_groups=r["apiGroups"],
                    api_versions=r["apiVersions"],
                    operations=r["operations"],
                    resources=r["resources"],
                )
                for r in spec["matchConstraints"]["resourceRules"]
            ]
        ),
        variables=[v1.VariableArgs(name=v["name"], expression=v["expression"]) for v in spec.get("variables", [])]
        or None,
        validations=[
            v1.ValidationArgs(expression=v["expression"], message=v["message"], reason=v["reason"])
            for v in spec["validations"]
        ],
    )
