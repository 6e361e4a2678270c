"""The platform's policy pack also stops an app team's own stack at preview.

The example program runs under mocks (reading a mocked platform stack) and every resource it registers goes
through the pack as ``pulumi preview --policy-pack`` would send it (prod enforcement). The example passes; the
same program weakened in one place is blocked by the rule that the admission policies would also apply.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

EXAMPLE = Path(__file__).resolve().parent.parent
ROOT = EXAMPLE.parent.parent
for p in (str(ROOT), str(EXAMPLE)):
    if p not in sys.path:
        sys.path.insert(0, p)

from components.platform_outputs import example_outputs  # noqa: E402
from tests.policies.analyzer import analyze_stack, names, report, violations  # noqa: E402
from tools.mocks import fake_certificate, fake_kubeconfig  # noqa: E402
from tools.program_runner import ProgramRun, run_program  # noqa: E402

PLATFORM = "contoso/platform/dev"
PROGRAM = EXAMPLE / "__main__.py"
SOURCE = PROGRAM.read_text()


def run(source: str = SOURCE) -> ProgramRun:
    outputs: dict[str, Any] = example_outputs("environment")
    outputs["kubeconfig"] = fake_kubeconfig("plat-dev-aks", "plat-dev-a1b2c3d4.hcp.westeurope.azmk8s.io")
    outputs["sealingCertificatePem"] = fake_certificate("contoso/platform/dev:sealing")
    code = compile(source, str(PROGRAM), "exec")
    return run_program(
        EXAMPLE / "Pulumi.dev.yaml",
        program=lambda: exec(code, {"__name__": "__main__", "__file__": str(PROGRAM)}),
        project="app-team-shop",
        stack_references={PLATFORM: outputs},
    )


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
    diags = analyze_stack(run().resources, "prod")
    assert violations(diags) == [], report(diags)


@pytest.mark.parametrize("name,source,rule", WEAKENED, ids=[w[0] for w in WEAKENED])
def test_a_weakened_example_is_blocked(name, source, rule):
    diags = violations(analyze_stack(run(source).resources, "prod"))
    assert names(diags) == [rule], report(diags)
    assert all(d.level == "mandatory" for d in diags)
