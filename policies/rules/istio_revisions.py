"""Istio control-plane revisions: nothing points at a revision whose istiod the stack does not install.

A namespace or gateway is injected through ``istio.io/rev: <value>``, where the value is a revision
(istiod's Helm value ``revision``) or a revision tag (a MutatingWebhookConfiguration labelled
``istio.io/tag: <tag>`` and ``istio.io/rev: <revision>``). The ``base`` chart's ``defaultRevision``
names the revision of the default validating webhook.
"""

from __future__ import annotations

from typing import Any

from .common import HELM_TYPES, UNKNOWN, Ctx, Stack, as_map, not_applicable, stack_rule
from .frameworks import BOUNDARY
from .istio import NAMESPACE, REVISION_LABEL

TAG_LABEL = "istio.io/tag"
_ADMISSION = "admissionregistration.k8s.io"


def _installed(stack: Stack, ctx: Ctx) -> set[str] | None:
    """The revisions whose istiod the stack installs (``None`` when one of them is not known yet)."""
    revisions: set[str] = set()
    known = True
    for release in stack.helm_releases("istiod"):
        revision = release.get("values.revision")
        if revision is UNKNOWN:
            ctx.unknown(f"{release.name}: values.revision")
            known = False
        else:
            # The chart's own default: an empty revision is the revision "default".
            revisions.add(revision if isinstance(revision, str) and revision else "default")
    return revisions if known else None


def _tags(stack: Stack, ctx: Ctx) -> dict[str, tuple[Any, str]]:
    """tag -> (the revision its webhook names, the webhook's URN)."""
    tags: dict[str, tuple[Any, str]] = {}
    for webhook in stack.k8s_of(_ADMISSION, "MutatingWebhookConfiguration"):
        labels = webhook.labels()
        if labels is UNKNOWN:
            ctx.unknown(f"{webhook.name}: metadata.labels")
            continue
        tag = labels.get(TAG_LABEL)
        if isinstance(tag, str) and tag:
            tags[tag] = (labels.get(REVISION_LABEL), webhook.urn)
    return tags


def _references(stack: Stack) -> list[tuple[str, Any, str]]:
    """(what points, the istio.io/rev value it names, its URN): namespaces and gateway releases."""
    found = []
    for ns in stack.k8s_of("core", "Namespace"):
        labels = ns.labels()
        value = UNKNOWN if labels is UNKNOWN else as_map(labels).get(REVISION_LABEL)
        if value is not None:
            name = ns.k8s_name if isinstance(ns.k8s_name, str) else ns.name
            found.append((f"namespace {name!r}", value, ns.urn))
    for release in stack.helm_releases("gateway"):
        value = release.get("values.revision")
        if value is not None and value != "":
            found.append((f"gateway release {release.name!r}", value, release.urn))
    return found


@stack_rule(
    name="istio-revision-referenced",
    domain="istio",
    targets=(*HELM_TYPES, NAMESPACE, f"{_ADMISSION}/MutatingWebhookConfiguration"),
    severity="high",
    what="Every istio.io/rev a namespace or gateway carries names an installed istiod revision or a revision tag "
    "whose webhook points at one; every tag webhook and the base chart's defaultRevision name an installed revision.",
    why="Removing a revision that something still points to leaves its namespaces without injection (new pods start "
    "without a sidecar, outside mTLS and authorization, or not at all), its running sidecars without xDS and "
    "certificate rotation, and the validating webhook calling a Service that no longer exists.",
    remediation="Keep the istiod release of every revision a tag, namespace or gateway still points to: move the tag "
    "(istio.tags), restart the namespaces, then remove the revision (docs/istio.md, 'Upgrading Istio').",
    # A change to the control plane is a controlled change (CM-3) that must not open the mesh boundary.
    frameworks=BOUNDARY + ("NIST 800-53 CM-3",),
)
def revision_referenced(stack: Stack, ctx: Ctx) -> None:
    installed = _installed(stack, ctx)
    if installed is not None and not installed:
        # An app team's stack labels its namespaces but runs no control plane: the platform stack checks it.
        not_applicable("the stack installs no istiod")
    if installed is None:
        return
    tags = _tags(stack, ctx)
    for tag, (revision, urn) in sorted(tags.items()):
        if revision is UNKNOWN:
            ctx.unknown(f"revision tag {tag}: metadata.labels.{REVISION_LABEL}")
        elif revision not in installed:
            ctx.fail(
                f"revision tag {tag!r} points to revision {revision!r}, which has no istiod release in this stack "
                f"(installed: {', '.join(sorted(installed))})",
                urn,
            )
    for release in stack.helm_releases("base"):
        default = release.get("values.defaultRevision")
        if default is UNKNOWN:
            ctx.unknown(f"{release.name}: values.defaultRevision")
        elif isinstance(default, str) and default not in installed:
            ctx.fail(
                f"base release {release.name!r} points the default validating webhook at revision {default!r}, "
                f"which has no istiod release in this stack (installed: {', '.join(sorted(installed))})",
                release.urn,
            )
    for what, value, urn in _references(stack):
        if value is UNKNOWN:
            ctx.unknown(f"{what}: {REVISION_LABEL}")
        elif value in tags:
            continue  # the tag itself is checked above
        elif value not in installed:
            ctx.fail(
                f"{what} is injected by {REVISION_LABEL}={value!r}: neither an installed revision "
                f"({', '.join(sorted(installed))}) nor a revision tag ({', '.join(sorted(tags)) or 'none'})",
                urn,
            )
