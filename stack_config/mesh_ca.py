"""``meshCa``: the mesh's root CA (kept outside every cluster) and each cluster's intermediate (Istio plug-in CA)."""

from __future__ import annotations

from dataclasses import dataclass

from stack_config.reader import ENVIRONMENT_NAME
from stack_config.sharing import DEFAULT_SHARING_MODE, OWNER_STACK, SHARING_MODE, check_sharing, prod_dedicated
from stack_config.spec import Integer, Objects, Read, Required, Text, key, rules


@dataclass(frozen=True)
class MeshCaCluster:
    """One environment whose intermediate the owner stack signs."""

    environment: str = key(
        "environment",
        Text(pattern=ENVIRONMENT_NAME, describe="allowed: an environment name (platform:environment of that stack)"),
        "the environment (its stack's platform:environment) that gets an intermediate",
        required=Required(),
    )
    generation: int = key(
        "generation", Integer(1, 100), "bump to rotate the intermediate (a new key and certificate)", default=1
    )


@dataclass(frozen=True)
class MeshCaConfig:
    mode: str = key(
        "mode",
        SHARING_MODE,
        "nonprod: sharedOwner (the key-owner stack signs) or sharedReference",
        default=DEFAULT_SHARING_MODE,
        prod=prod_dedicated("root"),
    )
    owner_stack: str | None = key(
        "ownerStack",
        OWNER_STACK,
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
    mode = s.values["mode"]
    check_sharing(s, mode, "mode", "ownerStack")
    if s.ctx.full_environment and mode == "sharedOwner":
        s.problem("mode", mode, "an environment stack allows: dedicated, sharedReference (sharedOwner has no cluster)")
    if mode == "sharedOwner" and not s.values["clusters"] and not s.failed("clusters"):
        s.report("clusters", "sharedOwner signs an intermediate for each listed environment; list at least one")
    seen: set[str] = set()
    for path, cluster in zip(s.item_paths.get(s.at("clusters"), []), s.values["clusters"], strict=False):
        if cluster.environment in seen:
            s.r.problem(f"{path}.environment", cluster.environment, "each environment may be listed once")
        seen.add(cluster.environment)
