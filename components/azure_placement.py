"""Where an Azure component's resources go, how they are named and how they are tagged: one value, one field.

The Azure components' ``*Args`` take an :class:`AzurePlacement` as ``placement``; the program builds it from the
stack's config and ``PlatformBase`` (program/foundation.py, ``placement``). ``PlatformBase`` itself takes none (it
creates the resource group the others are placed in), nor does ``RunnerPeering`` (a peering has no region or tags:
it takes its VNet's resource group).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi


@dataclass(frozen=True)
class AzurePlacement:
    """A component's resource group, region, name prefix and tags."""

    # PlatformConfig.resource_prefix, e.g. "plat-dev": Azure names are "<prefix>-<component name>-<kind>", so two
    # environments in one subscription never collide.
    resource_prefix: str
    location: str
    resource_group_name: pulumi.Input[str]
    # PlatformBase.tags: computed once, given to every taggable Azure resource of the stack.
    tags: Mapping[str, str] = field(default_factory=dict)
