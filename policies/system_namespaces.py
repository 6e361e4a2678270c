"""The namespaces the platform itself runs in: one list for the policy pack and for the stack configuration.

The pack exempts these from its workload rules (every other namespace is an application namespace); the
configuration refuses an app namespace taking one of these names, and ``default`` besides (``RESERVED_NAMESPACES``
in ``stack_config/mesh.py``). No imports: the policy pack is deployed as the ``policies`` folder alone and imports
this file as ``system_namespaces``; the program imports the same file as ``policies.system_namespaces``.
"""

SYSTEM_NAMESPACES = (
    "kube-system",
    "kube-public",
    "kube-node-lease",
    "gatekeeper-system",
    "istio-system",
    "istio-ingress",
    "istio-egress",
    "sealed-secrets",
    "calico-system",
    "tigera-operator",
    "app-routing-system",
)
