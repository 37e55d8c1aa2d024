"""`space: both`: parameter space first, then layer paths through the best parameter-space merge.

Two phases in one session, both rebuilt from `ctx.history` (nothing is kept between calls):
1. the parameter-space run (`evolution/parameters`, or `random`) for the first
   `round(both_split x planner.budget.candidates)` candidates (or until its `generations` are
   told, whichever comes first);
2. once every phase-1 member has its result, a layer-path run (`evolution/both`, or
   `random/both`) over the models [`candidate:<M>`, *sources], where M is the best phase-1
   member by search fitness among the succeeded ones measured in full (a candidate the
   evaluation cascade cut is never M); ties go to the earlier member. x0 is M's layers in
   order. Every phase-2 member records M in `proposer.params["merged"]`, and once one is
   recorded M is read back from it, so a resumed session keeps the same M. When phase 1 has
   no such member, phase 2 runs over the sources alone (`merged: null`) and says so in its
   rationale.
A recipe names M as the model `candidate:<id>` (agents/derived.py) with M among its parents;
the job materialises M once into the workspace's merge cache (tools/merge/cache.py).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from agents.derived import CANDIDATE, CheckModels
from agents.evolution.cmaes import FINISHED, run_members
from agents.evolution.config import EvolutionConfig
from agents.evolution.encoding import Encoding, layer_count, source_ids
from agents.evolution.paths import PathStructure, decode_path, path_size, path_x0
from agents.strategy import Context
from archive.record import Candidate
from tools.errors import BadInput


@dataclasses.dataclass(frozen=True)
class Phase:
    """What a `both` session does now: run phase 1 (`wanted` more members at most), wait, or run phase 2 over `merged`."""

    name: str  # "parameters" | "wait" | "paths"
    wanted: int = 0
    merged: Candidate | None = None


def phase1_quota(config: EvolutionConfig, ctx: Context) -> int | None:
    total = ctx.budget.config.candidates
    if total is None and config.generations is None:
        raise BadInput(
            "clade.yaml: planner.evolution.space `both` needs planner.budget.candidates (its both_split share is phase 1) "
            "or planner.evolution.generations (phase 1's length)"
        )
    return None if total is None else max(1, round(config.both_split * total))


def phase(config: EvolutionConfig, ctx: Context, first: str, second: str, first_over: bool = False) -> Phase:
    """The phase of a session whose phase-1 run is `first` and phase-2 run `second`; `first_over`: the phase-1
    run has nothing more to propose (its generations are done)."""
    members, later = run_members(first, ctx.history), run_members(second, ctx.history)
    if later:
        return Phase("paths", merged=recorded_merged(later, ctx))
    quota = phase1_quota(config, ctx)
    left = ctx.wanted if quota is None else quota - len(members)
    if left > 0 and not first_over:
        return Phase("parameters", wanted=min(ctx.wanted, left))
    if any(c.status not in FINISHED for c in members.values()):
        return Phase("wait")
    return Phase("paths", merged=best(members.values()))


def best(candidates) -> Candidate | None:
    """The succeeded, fully measured candidate with the highest search fitness (the first such on a tie)."""
    scored = [
        c
        for c in candidates
        if c.status == "succeeded" and not c.cut("search") and c.fitness("search") is not None and math.isfinite(c.fitness("search"))
    ]
    return max(scored, key=lambda c: c.fitness("search"), default=None)  # max keeps the first of equals


def recorded_merged(members: dict, ctx: Context) -> Candidate | None:
    """M as the first recorded phase-2 member names it."""
    first = members[min(members)]
    cid = first.proposer.params.get("merged")
    if cid is None:
        return None
    found = [c for c in ctx.history if c.id == cid]
    return found[0] if found else ctx.archive.get(cid)


def with_wanted(ctx: Context, wanted: int) -> Context:
    return dataclasses.replace(ctx, wanted=wanted)


def both_encoding(config: EvolutionConfig, sources: list[str], merged: Candidate | None, ctx: Context) -> Encoding:
    """The phase-2 layer-path genome over [candidate:<M>, *sources] (sources alone without M)."""
    name = f"{CANDIDATE}{merged.id}" if merged is not None else None
    structure = PathStructure.from_config(config, [*([name] if name else []), *sources])
    models = CheckModels(ctx.workspace, ctx.archive)
    n_layers = layer_count(models, structure.models)
    size = path_size(structure, n_layers)
    ids = {**source_ids(ctx), **({name: merged.id} if merged is not None else {})}
    if merged is not None:
        how = f"layer path over {name} (the best parameter-space merge, search fitness {merged.fitness('search'):.4f}) and {', '.join(sources)}"
    else:
        how = f"layer path over {', '.join(sources)} (phase 1 has no successful fully measured candidate, so no merge to build on)"
    params: dict[str, Any] = {"space": "both", "structure": structure.model_dump(), "merged": merged.id if merged else None}
    return Encoding(
        x0=path_x0(structure, n_layers),
        decode=lambda x: decode_path(structure, x, n_layers),
        models=models,
        sources=ids,
        params=params,
        checker=ctx.recipes,
        describe=f"{how} ({size // 2} slots)",
    )
