"""The stack's own previous ``stackSettings`` output, read back to refuse a change that would replace everything.

The rule lives in ``stack_config/previous.py``; this module only reads the last update's outputs through a
``StackReference`` to the running stack itself (``<organization>/<project>/<stack>``). The result is an
Output that the platform resource group's name waits for (``PlatformBaseArgs.settings_checked``): when the
check fails, the group and everything placed in it are never registered, so neither preview nor up
touches them.
"""

from __future__ import annotations

import pulumi

from stack_config import PlatformConfig
from stack_config.previous import STACK_SETTINGS_OUTPUT, check_unchanged, stack_settings


def checked_stack_settings(cfg: PlatformConfig) -> pulumi.Output[str]:
    """Resolves to ``"unchanged"``; fails the update with a ``ConfigError`` on a refused change."""
    own_stack = f"{pulumi.get_organization()}/{pulumi.get_project()}/{pulumi.get_stack()}"
    previous = pulumi.StackReference("previous-deployment", stack_name=own_stack)
    current = stack_settings(cfg)
    return previous.get_output(STACK_SETTINGS_OUTPUT).apply(
        lambda recorded: check_unchanged(recorded, current, cfg.allow_rename)
    )
