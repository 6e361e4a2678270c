"""The example program under mocks, reading a mocked dev platform stack through its StackReference."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from components.platform_outputs import example_outputs
from tools.mocks import fake_certificate, fake_kubeconfig
from tools.program_runner import ProgramRun, RecordedResource, run_program

EXAMPLE = Path(__file__).resolve().parent.parent
PROGRAM = EXAMPLE / "__main__.py"
SOURCE = PROGRAM.read_text()
STACK_FILE = EXAMPLE / "Pulumi.dev.yaml"
PLATFORM = "contoso/platform/dev"


def platform_outputs(**changes: Any) -> dict[str, Any]:
    """Every contract output of the dev platform stack; a change of None removes the output."""
    outputs = example_outputs("environment")
    outputs["kubeconfig"] = fake_kubeconfig("plat-dev-aks", "plat-dev-a1b2c3d4.hcp.westeurope.azmk8s.io")
    outputs["sealingCertificatePem"] = fake_certificate("contoso/platform/dev:sealing")
    for name, value in changes.items():
        if value is None:
            outputs.pop(name, None)
        else:
            outputs[name] = value
    return outputs


def run_example(
    source: str = SOURCE,
    outputs: Mapping[str, Any] | None = None,
    overrides: dict[str, Any] | None = None,
    recorded: list[RecordedResource] | None = None,
) -> ProgramRun:
    """Run the example (or a changed copy of its source) as the app team's dev stack."""
    code = compile(source, str(PROGRAM), "exec")
    return run_program(
        STACK_FILE,
        program=lambda: exec(code, {"__name__": "__main__", "__file__": str(PROGRAM)}),
        project="app-team-shop",
        overrides=overrides,
        recorded=recorded,
        stack_references={PLATFORM: dict(outputs) if outputs is not None else platform_outputs()},
    )
