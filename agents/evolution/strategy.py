"""The `evolution` strategy (CMA-ES over the configured space) and the `random` baseline.

Both read `planner.evolution` (config.py) and hold no state: every call rebuilds the run from
`ctx.history` (search.py). Spaces: `parameters` is one CMA-ES run named `evolution/parameters`
over the configured method, every configured source and `layer_groups` groups; `paths` one run
named `evolution/paths` over layer paths through the sources (paths.py); `both` the
`parameters` run first, then a layer-path run `evolution/both` through the best parameter-space
merge and the sources (both.py). `random` does the same with uniform genomes (runs `random`,
then `random/both`).
"""

from __future__ import annotations

import random

from pydantic import ValidationError

from agents.config import Workspace
from agents.evolution.both import Phase, both_encoding, phase, with_wanted
from agents.evolution.cmaes import replay, run_members
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


def check_space(config: EvolutionConfig, backend: str | None = None, candidates: int | None = -1, strategy: str = "evolution") -> None:
    """`space: both` needs a backend that reaches the workspace's merge cache (`backend`: the session's; None: not
    known here, not checked) and an end to phase 1 (`candidates`: the session's candidate budget; -1: not known
    here). `random` ends its phase 1 only by the candidate budget; `evolution` also by `generations`."""
    if config.space != "both":
        return
    if backend == "ray":
        raise BadInput(
            "clade.yaml: planner.evolution.space `both` needs the workspace's merge cache on the machine that merges, which "
            "sandbox.backend ray does not share; use the local or docker backend, or space `parameters` / `paths`"
        )
    if candidates is None and (strategy == "random" or config.generations is None):
        raise BadInput(
            "clade.yaml: planner.evolution.space `both` needs planner.budget.candidates (its both_split share is phase 1)"
            + ("" if strategy == "random" else " or planner.evolution.generations (phase 1's length)")
        )


class _SpaceStrategy:
    def __init__(self, planner: PlannerConfig, workspace: Workspace):
        self.config, self.seed = planner.evolution, planner.seed
        check_space(self.config, strategy=self.name)
        self.sources = search_sources(self.config, workspace)
        self.structure = structure(self.config, self.sources)

    def encoding(self, ctx: Context) -> Encoding:
        if isinstance(self.structure, PathStructure):
            return path_encoding(self.structure, ctx)
        return parameter_encoding(self.structure, ctx)


def structure(config: EvolutionConfig, sources: list[str]) -> Structure | PathStructure:
    """The configured space's structure; BadInput naming planner.evolution when it cannot be built."""
    try:
        if config.space == "paths":
            return PathStructure.from_config(config, sources)
        # `both` starts in parameter space; its layer-path structure is built once M is known (both.py)
        return Structure.from_config(config, sources)
    except ValidationError as exc:
        raise BadInput(f"clade.yaml: planner.evolution: {describe_validation_error(exc)}") from None


class EvolutionStrategy(_SpaceStrategy):
    """CMA-ES over the configured space for `generations` generations (None: until the budget ends)."""

    name = "evolution"
    runs = ("evolution/parameters", "evolution/both")  # space `both`: phase 1, phase 2

    def propose(self, ctx: Context) -> list[Proposal]:
        if self.config.space == "both":
            return self.propose_both(ctx)
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

    def propose_both(self, ctx: Context) -> list[Proposal]:
        if ctx.wanted <= 0:
            return []
        first, second = self.runs
        seed, encoding = session_seed(self.seed, ctx.session), None
        now = phase(self.config, ctx, first, second)
        if now.name == "parameters":
            encoding = self.encoding(ctx)
            out = run_proposals(
                first,
                encoding,
                with_wanted(ctx, now.wanted),
                config=self.config,
                generations=self.config.generations,
                strategy=self.name,
                seed=seed,
            )
            if out or not self._first_done(ctx, encoding, seed):
                return out
            now = phase(self.config, ctx, first, second, first_over=True)
        if now.name == "wait":
            return []
        return run_proposals(
            second,
            both_encoding(self.config, self.sources, now.merged, ctx),
            ctx,
            config=self.config,
            generations=None,  # phase 2 runs until the budget ends
            strategy=self.name,
            seed=seed,
        )

    def _first_done(self, ctx: Context, encoding: Encoding, seed: int) -> bool:
        """Phase 1's run has told all its `generations` (it proposes nothing more)."""
        if self.config.generations is None:
            return False
        current = replay(
            self.runs[0],
            ctx.history,
            encoding.x0,
            sigma=self.config.sigma,
            population=self.config.population,
            seed=seed,
            generations=self.config.generations,
        )
        return current is None


class RandomStrategy(_SpaceStrategy):
    """Uniform random genomes of the same space: every decoded value uniform in its range
    (a path slot is on with probability 1/2). Member k's genome depends only on the seed and k."""

    name = "random"
    run = "random"
    runs = ("random", "random/both")  # space `both`: phase 1 (parameter genomes), phase 2 (paths through the best merge)

    def propose(self, ctx: Context) -> list[Proposal]:
        if ctx.wanted <= 0:
            return []
        if self.config.space != "both":
            return self.uniform(self.run, self.encoding(ctx), ctx, self.config.space)
        now: Phase = phase(self.config, ctx, *self.runs)
        if now.name == "parameters":
            return self.uniform(self.runs[0], self.encoding(ctx), with_wanted(ctx, now.wanted), "parameters")
        if now.name == "wait":
            return []
        return self.uniform(self.runs[1], both_encoding(self.config, self.sources, now.merged, ctx), ctx, "both")

    def uniform(self, run: str, encoding: Encoding, ctx: Context, space: str) -> list[Proposal]:
        taken = {index for _, index in run_members(run, ctx.history)}
        indices, k = [], 0
        while len(indices) < ctx.wanted:
            if k not in taken:
                indices.append(k)
            k += 1
        return [
            member_proposal(run, encoding, 0, k, self.genome(k, len(encoding.x0), ctx.session, run, space), self.name, how="uniform random")
            for k in indices
        ]

    def genome(self, index: int, size: int, session: str = "", run: str | None = None, space: str | None = None) -> list[float]:
        rng = random.Random(f"{session_seed(self.seed, session)}:{run or self.run}:{space or self.config.space}:{index}")
        return [logit(rng.random()) for _ in range(size)]
