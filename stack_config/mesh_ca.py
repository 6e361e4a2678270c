"""``meshCa``: the mesh's root CA (kept outside every cluster) and each cluster's intermediate (Istio plug-in CA)."""

from __future__ import annotations

from dataclasses import dataclass

from stack_config.kinds import ENVIRONMENT, GENERATION
from stack_config.sharing import check_sharing, owner_stack_key, sharing_mode_key
from stack_config.spec import Integer, Objects, Read, Required, key, rules


@dataclass(frozen=True)
class MeshCaCluster:
    """One environment whose intermediate the owner stack signs."""

    environment: str = key(
        "environment",
        ENVIRONMENT,
        "the environment (its stack's platform:environment) that gets an intermediate",
        required=Required(),
    )
    generation: int = key(
        "generation", GENERATION, "bump to rotate the intermediate (a new key and certificate)", default=1
    )


@dataclass(frozen=True)
class MeshCaConfig:
    mode: str = sharing_mode_key(
        "mode", "nonprod: sharedOwner (the key-owner stack signs) or sharedReference", owned="root"
    )
    owner_stack: str | None = owner_stack_key(
        "ownerStack", "the stack that signs this environment's intermediate", mode_key="mode"
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
        GENERATION,
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
    clusters = s.items("clusters", "clusters")
    s.r.listed_once(((f"{path}.environment", cluster.environment) for path, cluster in clusters), "environment")
