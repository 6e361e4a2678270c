"""Settings fixed when a stack is created: compared with what the stack's last update recorded.

A change of ``namePrefix``, ``environment`` or ``location`` renames (or moves) every Azure resource:
Pulumi would replace them, deleting the vault, the keys, the network and the cluster, and the logs in
the workspace. ``keyVault.softDeleteRetentionDays`` cannot change at all once the vault exists ("Once
set, the retention policy interval cannot be changed", learn.microsoft.com, Key Vault soft-delete
overview). So each update exports these values (stack output ``stackSettings``) and the next one reads
them back through a ``StackReference`` to its own stack (``components/stack_settings.py``) and refuses a
change unless ``allowRename: true`` says the replacement is intended.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from stack_config.reader import ConfigError, show

if TYPE_CHECKING:
    from stack_config import PlatformConfig

STACK_SETTINGS_OUTPUT = "stackSettings"


@dataclass(frozen=True)
class FixedSetting:
    """A setting that cannot change in place: its config key, its value in a configuration, and why."""

    name: str
    value: Callable[[PlatformConfig], object]
    why: str


FIXED_SETTINGS: tuple[FixedSetting, ...] = (
    FixedSetting(
        "namePrefix", lambda cfg: cfg.name_prefix, "every Azure name starts with it: a change replaces every resource"
    ),
    FixedSetting(
        "environment", lambda cfg: cfg.environment, "every Azure name contains it: a change replaces every resource"
    ),
    FixedSetting(
        "location", lambda cfg: cfg.location, "Azure resources cannot move region: a change replaces every resource"
    ),
    FixedSetting(
        "keyVault.softDeleteRetentionDays",
        lambda cfg: cfg.key_vault.soft_delete_retention_days,
        "Azure fixes it when the vault is created; only a new vault (a rename) can have another value",
    ),
)


def stack_settings(cfg: PlatformConfig) -> dict[str, str]:
    """The fixed settings of this configuration, as the ``stackSettings`` output records them."""
    return {setting.name: str(setting.value(cfg)) for setting in FIXED_SETTINGS}


def changed_settings(previous: Any, current: Mapping[str, str]) -> list[str]:
    """One problem per fixed setting whose recorded value differs; nothing recorded (a new stack) is no change."""
    if not isinstance(previous, Mapping):
        return []
    problems = []
    for setting in FIXED_SETTINGS:
        name = setting.name
        before = previous.get(name)
        if before is not None and str(before) != current.get(name):
            problems.append(
                f"{name}: got {show(current.get(name))} but this stack was deployed with {show(str(before))}; "
                f"{setting.why}. "
                "Restore the old value, or set allowRename: true to replace the stack's resources on purpose "
                "(protected resources must be unprotected first; see docs/deployment.md, 'State safety')"
            )
    return problems


def check_unchanged(previous: Any, current: Mapping[str, str], allow_rename: bool) -> str:
    """``"unchanged"``, or a ``ConfigError`` naming each changed setting (none when ``allow_rename``)."""
    problems = [] if allow_rename else changed_settings(previous, current)
    if problems:
        raise ConfigError(problems)
    return "unchanged"
