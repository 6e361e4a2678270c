"""The platform's policy pack also stops an app team's own stack at preview.

The example program runs under mocks (reading a mocked platform stack) and every resource it registers goes
through the pack as ``pulumi preview --policy-pack`` would send it (prod enforcement). The example passes; the
same program weakened in one place is blocked by the rule that the admission policies would also apply.
"""

from __future__ import annotations

import pytest
from app_team_run import SOURCE, run_example

from tests.policies.analyzer import analyze_stack, names, report, violations


def weakened(old: str, new: str) -> str:
    assert SOURCE.count(old) == 1, f"the example no longer contains {old!r}"
    return SOURCE.replace(old, new)


TEMPLATE_METADATA = "metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels),"

WEAKENED = [
    (
        "writable-root-filesystem",
        weakened("read_only_root_filesystem=True,", "read_only_root_filesystem=False,"),
        "k8s-read-only-root-filesystem",
    ),
    (
        "sidecar-opt-out",
        weakened(
            TEMPLATE_METADATA,
            'metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels, annotations={"sidecar.istio.io/inject": "false"}),',
        ),
        "istio-no-sidecar-bypass",
    ),
    (
        "no-limits",
        weakened('limits={"cpu": "500m", "memory": "256Mi"},', ""),
        "k8s-resource-limits",
    ),
    (
        "own-service-entry",
        SOURCE
        + """
k8s.apiextensions.CustomResource(
    "exfil",
    api_version="networking.istio.io/v1",
    kind="ServiceEntry",
    metadata=k8s.meta.v1.ObjectMetaArgs(name="exfil", namespace=namespace),
    spec={"hosts": ["paste.example.net"], "ports": [{"number": 443, "name": "tls", "protocol": "TLS"}]},
    opts=in_cluster,
)
""",
        "istio-perimeter-platform-owned",
    ),
]


def test_the_example_passes_the_pack():
    diags = analyze_stack(run_example().resources, "prod")
    assert violations(diags) == [], report(diags)


@pytest.mark.parametrize("name,source,rule", WEAKENED, ids=[w[0] for w in WEAKENED])
def test_a_weakened_example_is_blocked(name, source, rule):
    diags = violations(analyze_stack(run_example(source).resources, "prod"))
    assert names(diags) == [rule], report(diags)
    assert all(d.level == "mandatory" for d in diags)
