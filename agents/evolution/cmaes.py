"""A CMA-ES run rebuilt from its recorded members: ask/tell replay with a fixed seed.

Nothing is kept between calls: each call builds a fresh `cma.CMAEvolutionStrategy` with the
run's seed and its own normal generator (the global numpy state is neither read nor seeded),
replays every complete generation (ask, then tell the recorded fitnesses), and returns the
current generation's solutions. So a killed and resumed session continues the same run.

Members are asked one by one as slots free (search.py): a generation is told when its
`population` members (indices 0..population-1) all have results, in index order, whatever
order they finished in. Members with an index >= population are extras: draws from the same
generation's distribution, each from its own generator seeded by (run seed, generation,
index), asked while the generation's last members run so that no slot idles. They are
evaluated and archived like any member but never told, so the run itself (every told member,
every mean and covariance) depends only on the seed and the told fitnesses, not on the slots,
the job durations or the order results arrived in.
"""

from __future__ import annotations

import copy
import hashlib
import math
import warnings
from dataclasses import dataclass
from typing import Any

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


def draw_extra(es, seed: int, generation: int, index: int) -> list[float]:
    """Extra member `index` of the current generation: one more draw from `es`'s distribution, from a
    generator of its own (the run's draws, and so every later generation, are left as they were)."""
    import numpy as np

    rng = np.random.default_rng([seed, generation, index])

    def randn(*shape):
        return rng.standard_normal(shape)

    clone = copy.deepcopy(es)
    clone.opts["randn"] = randn
    clone.sm.randn = randn
    return [float(v) for v in clone.ask(1)[0]]


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
    """The generation's losses when its `population` members are all recorded and finished, else None
    (its extras, index >= population, are never told and never waited for).

    A failed member gets a worse loss than any finished one of its generation (CMA-ES is
    rank-based, so how much worse does not matter); it is never dropped."""
    batch = [members.get((generation, i)) for i in range(population)]
    if any(c is None or c.status not in FINISHED for c in batch):
        return None
    values = [loss(c) for c in batch]
    bad = max((v for v in values if v is not None), default=0.0) + 1.0
    return [bad if v is None else v for v in values]


def check_replay(members: dict, generation: int, asked: dict[int, list[float]]) -> None:
    """Every recorded member of `generation` (index -> genome replayed for it) has the genome recorded."""
    for i, x in asked.items():
        recorded = members[(generation, i)].proposer.params.get("x")
        if recorded is None or len(recorded) != len(x) or max(abs(a - b) for a, b in zip(recorded, x)) > 1e-9:
            raise CladeError(
                f"CMA-ES replay diverged at generation {generation} member {i} (candidate "
                f"{members[(generation, i)].id}): the recorded genome differs from the replayed one "
                "(was the run's seed, population, sigma or the cma version changed?)"
            )


@dataclass(frozen=True)
class Current:
    """The generation to propose from: its number, its members' genomes, and its extras on demand."""

    generation: int
    solutions: list[list[float]]
    mean: list[float]
    es: Any  # the run after this generation's ask: extras are drawn from it
    seed: int

    def extra(self, index: int) -> list[float]:
        return draw_extra(self.es, self.seed, self.generation, index)


def replay(
    run: str, history: list[Candidate], x0: list[float], *, sigma: float, population: int, seed: int, generations: int | None
) -> Current | None:
    """The run's current generation after telling every complete one; None when `generations` are done."""
    members = run_members(run, history)
    es_seed = run_seed(run, seed)
    es = new_es(x0, sigma, population, es_seed)
    generation = 0
    while generations is None or generation < generations:
        raw = es.ask()
        asked = [list(map(float, x)) for x in raw]
        losses = generation_losses(members, generation, population)
        if losses is None:
            return Current(generation, asked, list(map(float, es.mean)), es, es_seed)
        check_replay(members, generation, dict(enumerate(asked)))  # told members only: an extra changes nothing downstream
        es.tell(raw, losses)
        generation += 1
    return None
