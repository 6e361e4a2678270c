"""``meshCa``: the mesh's root CA (kept outside every cluster) and each cluster's intermediate (Istio plug-in CA)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from stack_config.spec import Context, Derived, Integer, Objects, Read, Required, Text, key, rules

MESH_CA_MODES = ("dedicated", "sharedOwner", "sharedReference")

_ENVIRONMENT = re.compile(r"^[a-z][a-z0-9-]{0,14}[a-z0-9]$")
_STACK_NAME = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")


@dataclass(frozen=True)
class MeshCaCluster:
    """One environment whose intermediate the owner stack signs."""

    environment: str = key(
        "environment",
        Text(pattern=_ENVIRONMENT, describe="allowed: an environment name (platform:environment of that stack)"),
        "the environment (its stack's platform:environment) that gets an intermediate",
        required=Required(),
    )
    generation: int = key(
        "generation", Integer(1, 100), "bump to rotate the intermediate (a new key and certificate)", default=1
    )


def _default_mode(ctx: Context, values: Mapping[str, Any]) -> str:
    if ctx.prod:
        return "dedicated"
    return "sharedOwner" if ctx.stack_role == "sealingKeyOwner" else "sharedReference"


@dataclass(frozen=True)
class MeshCaConfig:
    mode: str = key(
        "mode",
        Text(choices=MESH_CA_MODES),
        "prod: dedicated (own root); nonprod: sharedOwner (the key-owner stack signs) or sharedReference",
        default=Derived(
            _default_mode, "`dedicated` prod, `sharedOwner` on the key-owner stack, `sharedReference` otherwise"
        ),
    )
    owner_stack: str | None = key(
        "ownerStack",
        Text(pattern=_STACK_NAME, describe="allowed: a fully qualified stack name <organization>/<project>/<stack>"),
        "the stack that signs this environment's intermediate; required when mode is sharedReference",
    )
    # Istio's own generator gives the root 10 years; rotating a root means a combined trust bundle and a
    # restart of every workload, so it is long-lived and its key never leaves the owner.
    root_validity_days: int = key(
        "rootValidityDays", Integer(365, 3650), "validity of the root certificate (owner or dedicated)", default=3650
    )
    intermediate_validity_days: int = key(
        "intermediateValidityDays",
        Integer(30, 730),
        "validity of each intermediate (a cluster's signing CA): rotate before it ends",
        default=365,
    )
    intermediate_generation: int = key(
        "intermediateGeneration",
        Integer(1, 100),
        "dedicated: bump to rotate this cluster's intermediate",
        default=1,
    )
    clusters: tuple[MeshCaCluster, ...] = key(
        "clusters",
        Objects(MeshCaCluster, shorthand="environment"),
        "sharedOwner: the environments whose intermediates this stack signs",
        default=(),
    )


@rules(MeshCaConfig)
def _mesh_ca(s: Read) -> None:
    ctx, mode = s.ctx, s.values["mode"]
    if ctx.prod and ctx.full_environment and mode != "dedicated":
        # A StackReference reads every output of the owner: a prod intermediate there is readable by nonprod stacks.
        s.problem("mode", mode, "prod allows: dedicated (each production instance has its own root)")
    if ctx.stack_role == "sealingKeyOwner" and ctx.nonprod and mode != "sharedOwner":
        s.problem("mode", mode, "a sealingKeyOwner stack allows: sharedOwner")
    if ctx.full_environment and mode == "sharedOwner":
        s.problem("mode", mode, "an environment stack allows: dedicated, sharedReference (sharedOwner has no cluster)")
    if mode == "sharedReference" and (ctx.prod or ctx.nonprod) and not s.given("ownerStack"):
        s.report("ownerStack", "required when mode is sharedReference; the owner as <organization>/platform/<stack>")
    if mode == "sharedOwner" and not s.values["clusters"] and not s.failed("clusters"):
        s.report("clusters", "sharedOwner signs an intermediate for each listed environment; list at least one")
    seen: set[str] = set()
    for path, cluster in zip(s.item_paths.get(s.at("clusters"), []), s.values["clusters"], strict=False):
        if cluster.environment in seen:
            s.r.problem(f"{path}.environment", cluster.environment, "each environment may be listed once")
        seen.add(cluster.environment)
