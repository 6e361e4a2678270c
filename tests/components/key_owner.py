"""A test module's ``build`` run as the non-prod key owner, and as stacks that read that owner's real outputs.

Left alone, the mocks answer a StackReference to the owner with canned outputs (``tools/mocks.py``); a test of what
travels from the owner to a referencing stack (the sealing key, the mesh intermediates) runs both and hands the
owner's outputs over instead.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest

from tests.components.wiring import KEY_OWNER_STACK
from tools.program_runner import ProgramRun, run_program

OWNER_ENVIRONMENT = "nonprod-keys"  # the stack KEY_OWNER_STACK names


def reading(owner: ProgramRun) -> dict[str, Mapping[str, Any]]:
    """``stack_references`` for a run that reads ``owner``'s outputs as the key owner's."""
    return {KEY_OWNER_STACK: owner.outputs}


def owner_and_dev(build: Callable[[], None]) -> tuple[Any, Any]:
    """Module fixtures ``owner`` (``build`` as the key owner) and ``dev`` (``build`` as dev, reading ``owner``).

    A module takes them under those names: ``owner, dev = owner_and_dev(build)``.
    """

    @pytest.fixture(scope="module")
    def owner() -> ProgramRun:
        return run_program(OWNER_ENVIRONMENT, program=build)

    @pytest.fixture(scope="module")
    def dev(owner: ProgramRun) -> ProgramRun:
        return run_program("dev", program=build, stack_references=reading(owner))

    return owner, dev
