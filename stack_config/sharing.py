"""Key material one stack owns and the other non-production stacks reference: the sealing key, the mesh root.

``dedicated``: the stack has its own (always in prod: a StackReference reads every output of the owner, so a
production key kept there would be readable by non-production stacks). ``sharedOwner``: the key-owner stack
(``stackRole: sealingKeyOwner``) holds the one non-production copy. ``sharedReference``: an environment reads it
from the owner named by its owner-stack key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from stack_config.spec import Context, Derived, Read, Text, key, prod_allows

SHARING_MODES = ("dedicated", "sharedOwner", "sharedReference")

_STACK_NAME = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_OWNER_STACK = Text(
    pattern=_STACK_NAME, describe="allowed: a fully qualified stack name <organization>/<project>/<stack>"
)


def _default_mode(ctx: Context, values: Mapping[str, Any]) -> str:
    if ctx.prod:
        return "dedicated"
    return "sharedOwner" if ctx.stack_role == "sealingKeyOwner" else "sharedReference"


_DEFAULT_MODE = Derived(
    _default_mode, "`dedicated` prod, `sharedOwner` on the key-owner stack, `sharedReference` otherwise"
)


def sharing_mode_key(name: str, doc: str, *, owned: str) -> Any:
    """The key choosing how a stack gets ``owned`` (the key, the root): the same values and defaults wherever."""
    return key(
        name,
        Text(choices=SHARING_MODES),
        doc,
        default=_DEFAULT_MODE,
        prod=prod_allows("dedicated", why=f"each production instance has its own {owned}"),
    )


def owner_stack_key(name: str, doc: str, *, mode_key: str) -> Any:
    """The key naming the owner stack, required when the mode key is sharedReference (``check_sharing``)."""
    return key(name, _OWNER_STACK, f"{doc}; required when {mode_key} is sharedReference")


def check_sharing(s: Read, mode: str, mode_key: str, owner_key: str) -> None:
    """The key-owner stack owns the shared copy; a stack that references it names its owner."""
    if s.ctx.stack_role == "sealingKeyOwner" and s.ctx.nonprod and mode != "sharedOwner":
        s.problem(mode_key, mode, "a sealingKeyOwner stack allows: sharedOwner")
    if mode == "sharedReference" and s.ctx.nonprod and not s.given(owner_key):
        s.report(
            owner_key,
            f"required when {mode_key} is sharedReference; the owner stack as <organization>/platform/<stack>",
        )
