"""The preview's schema checks over one program run: Azure inputs, Helm values, Kubernetes and Istio objects.

``check_run(run)`` returns the findings (``tools/findings.py``) and notes on what could not be checked.
The Kubernetes minor is the one the program asks AKS for (the ManagedCluster's ``kubernetesVersion``),
else the stack's ``cluster.kubernetesVersion``.
"""

from __future__ import annotations

import json
from typing import Any

from tools import azure_schema, helm_values, istio_schema, k8s_schema
from tools.findings import Finding

CLUSTER_TYPE = "azure-native:containerservice:ManagedCluster"


def kubernetes_version(run: Any, project: str = "platform") -> str | None:
    for r in run.resources:
        if r.type == CLUSTER_TYPE and isinstance(r.inputs.get("kubernetesVersion"), str):
            return r.inputs["kubernetesVersion"]
    raw = run.config.get(f"{project}:cluster")
    try:
        version = json.loads(raw).get("kubernetesVersion") if raw else None
    except (ValueError, AttributeError):
        return None
    return version if isinstance(version, str) else None


def check_run(run: Any) -> tuple[list[Finding], list[str]]:
    version = kubernetes_version(run)
    findings = azure_schema.check(run.resources)
    helm_findings, helm_notes = helm_values.check(run.resources, version)
    k8s_findings, k8s_notes = k8s_schema.check(run.resources, version)
    istio_findings, istio_notes = istio_schema.check(run.resources)
    return findings + helm_findings + k8s_findings + istio_findings, helm_notes + k8s_notes + istio_notes
