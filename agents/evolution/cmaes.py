"""A CMA-ES run rebuilt from its recorded members: ask/tell replay with a fixed seed.

Nothing is kept between calls: each call builds a fresh `cma.CMAEvolutionStrategy` with the
run's seed and its own normal generator (the global numpy state is neither read nor seeded),
replays every complete generation (ask, then tell the recorded fitnesses), and returns the
current generation's solutions. So a killed and resumed session continues the same run.
"""

from __future__ import annotations

import hashlib
import math
import warnings
from dataclasses import dataclass

from archive.record import Candidate
from tools.errors import CladeError

FINISHED = ("succeeded", "failed", "invalid", "rejected")


def run_seed(run: str, seed: int) -> int:
    """A positive 31-bit seed from the run name and the planner seed."""
    digest = hashlib.sha256(f"{seed}:{run}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % (2**31 - 1) + 1


def new_es(x0: list[float], sigma: float, population: int, seed: int):
    import numpy as np

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # cma warns that matplotlib is missing
        import cma
    rng = np.random.default_rng(seed)
    opts = {"popsize": population, "seed": math.nan, "verbose": -9, "randn": lambda *shape: rng.standard_normal(shape)}
    return cma.CMAEvolutionStrategy(list(x0), sigma, opts)


def run_members(run: str, history: list[Candidate]) -> dict[tuple[int, int], Candidate]:
    """(generation, index) -> the run's recorded member (the latest record wins on a repeat)."""
    members = {}
    for c in history:
        p = c.proposer.params
        if p.get("run") == run and "generation" in p and "index" in p:
            members[(int(p["generation"]), int(p["index"]))] = c
    return members


def loss(candidate: Candidate) -> float | None:
    """CMA-ES minimizes: minus the search fitness; None for a failed (or unscored) member."""
    f = candidate.fitness("search")
    if candidate.status != "succeeded" or f is None or not math.isfinite(f):
        return None
    return -f


def generation_losses(members: dict, generation: int, population: int) -> list[float] | None:
    """The generation's losses when every member is recorded and finished, else None.

    A failed member gets a worse loss than any finished one of its generation (CMA-ES is
    rank-based, so how much worse does not matter); it is never dropped."""
    batch = [members.get((generation, i)) for i in range(population)]
    if any(c is None or c.status not in FINISHED for c in batch):
        return None
    values = [loss(c) for c in batch]
    bad = max((v for v in values if v is not None), default=0.0) + 1.0
    return [bad if v is None else v for v in values]


def check_replay(members: dict, generation: int, asked) -> None:
    for i, x in enumerate(asked):
        recorded = members[(generation, i)].proposer.params.get("x")
        if recorded is None or len(recorded) != len(x) or max(abs(a - b) for a, b in zip(recorded, x)) > 1e-9:
            raise CladeError(
                f"CMA-ES replay diverged at generation {generation} member {i} (candidate "
                f"{members[(generation, i)].id}): the recorded genome differs from the replayed one "
                "(was the run's seed, population, sigma or the cma version changed?)"
            )


@dataclass(frozen=True)
class Current:
    """The generation to propose from: its number and every member's genome."""

    generation: int
    solutions: list[list[float]]
    mean: list[float]


def replay(
    run: str, history: list[Candidate], x0: list[float], *, sigma: float, population: int, seed: int, generations: int | None
) -> Current | None:
    """The run's current generation after telling every complete one; None when `generations` are done."""
    members = run_members(run, history)
    es = new_es(x0, sigma, population, run_seed(run, seed))
    generation = 0
    while generations is None or generation < generations:
        raw = es.ask()
        asked = [list(map(float, x)) for x in raw]
        losses = generation_losses(members, generation, population)
        if losses is None:
            return Current(generation, asked, list(map(float, es.mean)))
        check_replay(members, generation, asked)
        es.tell(raw, losses)
        generation += 1
    return None
