"""Fixtures for component tests: a module's ``build`` program, run as a stack, once.

A test module defines ``build()`` (a program that wires the component under test, usually with
``tests.components.wiring``) and gets ``dev`` and ``prod`` (its runs as those stacks) and
``build_run`` (any stack) for free. Runs are shared read-only across the session; a module that
needs a differently configured run defines its own fixture of that name.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tools.program_runner import ProgramRun, run_program

_RUNS: dict[tuple[Callable[[], None], str], ProgramRun] = {}


def _module_build(request: pytest.FixtureRequest) -> Callable[[], None]:
    build = getattr(request.module, "build", None)
    if build is None:
        pytest.fail(f"{request.module.__name__} defines no build() program for the build_run/dev/prod fixtures")
    return build


def _run(build: Callable[[], None], stack: str) -> ProgramRun:
    if (build, stack) not in _RUNS:
        _RUNS[build, stack] = run_program(stack, program=build)
    return _RUNS[build, stack]


@pytest.fixture
def build_run(request: pytest.FixtureRequest) -> Callable[[str], ProgramRun]:
    """The module's ``build`` run as a stack (``build_run("prod")``), once per stack for the session."""
    build = _module_build(request)
    return lambda stack: _run(build, stack)


@pytest.fixture(scope="module")
def dev(request: pytest.FixtureRequest) -> ProgramRun:
    return _run(_module_build(request), "dev")


@pytest.fixture(scope="module")
def prod(request: pytest.FixtureRequest) -> ProgramRun:
    return _run(_module_build(request), "prod")
