"""CMA-ES proposals over a genome: `cma_proposals` (parameter space) and `run_proposals` (any encoding:
parameters or layer paths, encoding.py).

Both return the next members of a named run, rebuilt from `ctx.history` (cmaes.py), one per
free slot (at most `ctx.wanted`): first the current generation's members not recorded yet (in
index order); once they are all recorded but not all finished (the generation cannot be told
yet), extras of the same generation (index population, population+1, ..., at most
`config.extras_max` of them), which keep the free slots busy and are never told. Every
member's `proposer.params` holds run, generation, index and x (the genome), plus the
structure it decodes under (and `extra: true` on an extra). A member recorded but not
finished (proposed, running) is not proposed again; when the generation's extras are used up
too the result is [] until its members' results arrive (`in_flight(run, history, population)`
tells this apart from "the run is done").
"""

from __future__ import annotations

from agents.evolution.cmaes import FINISHED, replay, run_members
from agents.evolution.config import EvolutionConfig
from agents.evolution.encoding import Encoding, parameter_encoding
from agents.evolution.genome import Structure
from agents.strategy import Context, Proposal


def cma_proposals(
    run: str, structure: Structure, ctx: Context, *, config: EvolutionConfig, generations: int | None, strategy: str, seed: int = 0
) -> list[Proposal]:
    """The next up to `ctx.wanted` members of the CMA-ES run `run` over `structure`'s genome.

    `config` gives population and sigma (its method/sources/layer_groups are not used: the
    structure says what is searched); `generations` caps the run (None: unlimited) and the
    result is [] once they are all told; `strategy` is written into each proposal; `seed`
    (the planner's) and the run name seed the run. Decoded recipes are validated with the
    merge engine (`load_recipe` and `prepare`, which read only headers; this imports torch):
    one that fails is returned with `invalid` set, so it is recorded and told as a failure.
    Parents are the source candidates (from `ctx.sources`) the recipe merges, base included.
    """
    return run_proposals(run, parameter_encoding(structure, ctx), ctx, config=config, generations=generations, strategy=strategy, seed=seed)


def run_proposals(
    run: str, encoding: Encoding, ctx: Context, *, config: EvolutionConfig, generations: int | None, strategy: str, seed: int = 0
) -> list[Proposal]:
    if ctx.wanted <= 0:
        return []
    current = replay(run, ctx.history, encoding.x0, sigma=config.sigma, population=config.population, seed=seed, generations=generations)
    if current is None:
        return []
    recorded, g, population = run_members(run, ctx.history), current.generation, config.population
    missing = [i for i in range(population) if (g, i) not in recorded][: ctx.wanted]
    out = [member_proposal(run, encoding, g, i, current.solutions[i], strategy) for i in missing]
    extras = [i for i in range(population, population + config.extras_max) if (g, i) not in recorded][: ctx.wanted - len(out)]
    out += [member_proposal(run, encoding, g, i, current.extra(i), strategy, how="CMA-ES extra") for i in extras]
    return out


def in_flight(run: str, history, population: int | None = None) -> int:
    """How many of the run's recorded members have no result yet (with `population`: only the members a
    generation waits for, not its extras)."""
    return sum(
        1 for (_, index), c in run_members(run, history).items() if c.status not in FINISHED and (population is None or index < population)
    )


def member_proposal(
    run: str, encoding: Encoding, generation: int, index: int, x: list[float], strategy: str, how: str = "CMA-ES"
) -> Proposal:
    """The proposal for one member: the decoded recipe (with `invalid` set if the engine refuses it)."""
    extra = how == "CMA-ES extra"
    params = {"run": run, "generation": generation, "index": index, "x": x, **encoding.params, **({"extra": True} if extra else {})}
    what = "extra member" if extra else "member"
    why = " (drawn while the generation's last members run; not told)" if extra else ""
    rationale = f"{how.removesuffix(' extra')} run {run}, generation {generation}, {what} {index}{why}: {encoding.describe}"
    recipe, invalid = encoding.decode_checked(x)
    return Proposal(
        kind="merge",
        parents=encoding.parents(recipe),
        genotype={"recipe": recipe},
        strategy=strategy,
        rationale=rationale,
        params=params,
        invalid=invalid,
    )
