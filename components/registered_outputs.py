"""A component's registered outputs are its attributes of the same names (STYLE.md: ``register_outputs`` keys
equal the attribute names), so a reader of the component and a reader of the stack's state see one vocabulary."""

from __future__ import annotations

import pulumi


def register_attributes(component: pulumi.ComponentResource, *names: str) -> None:
    """Register ``names`` as the component's outputs, each the attribute of that name.

    Each name is written once, so key and attribute cannot drift apart; a name the component does not set
    raises ``AttributeError`` before anything is registered.
    """
    component.register_outputs({name: getattr(component, name) for name in names})
