"""The `evolution` strategy (CMA-ES over the configured space) and the `random` baseline.

Both read `planner.evolution` (config.py) and hold no state: every call rebuilds the run from
`ctx.history` (search.py). Spaces: `parameters` is one CMA-ES run named `evolution/parameters`
over the configured method, every configured source and `layer_groups` groups; `paths` one run
named `evolution/paths` over layer paths through the sources (paths.py). `both` is not
implemented (see README.md) and is refused with a line naming the field.
"""

from __future__ import annotations

import random

from pydantic import ValidationError

from agents.config import Workspace
from agents.evolution.cmaes import run_members
from agents.evolution.config import EvolutionConfig
from agents.evolution.encoding import Encoding, parameter_encoding, path_encoding
from agents.evolution.genome import Structure
from agents.evolution.paths import PathStructure
from agents.evolution.search import member_proposal, run_proposals
from agents.evolution.transforms import logit
from agents.planner_config import PlannerConfig
from agents.strategy import Context, Proposal, session_seed
from tools.errors import BadInput, describe_validation_error


def search_sources(config: EvolutionConfig, workspace: Workspace) -> list[str]:
    """The configured sources (default: every source in clade.yaml), checked against clade.yaml."""
    known = [s.name for s in workspace.config.sources]
    where = workspace.root / "clade.yaml"
    if not known:
        raise BadInput(
            f"{where}: no models under `sources:`, so there is nothing to merge; list them (sources: [{{name: adder, "
            "path: models/adder}]) with the evaluation tasks, or start from `clade init DIR --example tiny-zoo`"
        )
    names = config.sources if config.sources is not None else known
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise BadInput(
            f"{where}: planner.evolution.sources {', '.join(unknown) or '(empty)'}: not among the sources listed under "
            f"`sources:` ({', '.join(known)})"
        )
    return list(names)


def check_space(config: EvolutionConfig) -> None:
    if config.space == "both":
        raise BadInput("clade.yaml: planner.evolution.space `both` is not implemented yet; use `parameters` or `paths`")


class _SpaceStrategy:
    def __init__(self, planner: PlannerConfig, workspace: Workspace):
        self.config, self.seed = planner.evolution, planner.seed
        check_space(self.config)
        self.structure = structure(self.config, search_sources(self.config, workspace))

    def encoding(self, ctx: Context) -> Encoding:
        if isinstance(self.structure, PathStructure):
            return path_encoding(self.structure, ctx)
        return parameter_encoding(self.structure, ctx)


def structure(config: EvolutionConfig, sources: list[str]) -> Structure | PathStructure:
    """The configured space's structure; BadInput naming planner.evolution when it cannot be built."""
    try:
        if config.space == "paths":
            return PathStructure.from_config(config, sources)
        return Structure.from_config(config, sources)
    except ValidationError as exc:
        raise BadInput(f"clade.yaml: planner.evolution: {describe_validation_error(exc)}") from None


class EvolutionStrategy(_SpaceStrategy):
    """CMA-ES over the configured space for `generations` generations (None: until the budget ends)."""

    name = "evolution"

    def propose(self, ctx: Context) -> list[Proposal]:
        run = f"evolution/{self.config.space}"
        return run_proposals(
            run,
            self.encoding(ctx),
            ctx,
            config=self.config,
            generations=self.config.generations,
            strategy=self.name,
            seed=session_seed(self.seed, ctx.session),
        )


class RandomStrategy(_SpaceStrategy):
    """Uniform random genomes of the same space: every decoded value uniform in its range
    (a path slot is on with probability 1/2). Member k's genome depends only on the seed and k."""

    name = "random"
    run = "random"

    def propose(self, ctx: Context) -> list[Proposal]:
        if ctx.wanted <= 0:
            return []
        encoding = self.encoding(ctx)
        taken = {index for _, index in run_members(self.run, ctx.history)}
        indices, k = [], 0
        while len(indices) < ctx.wanted:
            if k not in taken:
                indices.append(k)
            k += 1
        return [
            member_proposal(self.run, encoding, 0, k, self.genome(k, len(encoding.x0), ctx.session), self.name, how="uniform random")
            for k in indices
        ]

    def genome(self, index: int, size: int, session: str = "") -> list[float]:
        rng = random.Random(f"{session_seed(self.seed, session)}:{self.run}:{self.config.space}:{index}")
        return [logit(rng.random()) for _ in range(size)]
