"""The `gradient` strategy: AdaMerging's layer-wise task-arithmetic coefficients, learnt by Adam on
the search split's supervised loss, proposed as ordinary recipes (README.md).

Candidate k of a session is the coefficients after k·steps_per_candidate steps (k = 0: every
coefficient at `init`), written as a task_arithmetic recipe (normalize false) in mergekit's
`slices` form, one slice per layer. Its `proposer.params` hold run `gradient`, index k, step and
the coefficients. Nothing is kept that the archive cannot rebuild: the optimisation is
deterministic per (seed, session), so a resumed session replays it up to its recorded members
(checked against them) and proposes the same next candidate. The optimiser is kept in memory per
session (a cache of that replay). Torch is imported only when proposing (optimise.py).
"""

from __future__ import annotations

import math
from typing import Any

from agents.config import Workspace
from agents.gradient.config import GradientConfig
from agents.planner_config import PlannerConfig
from agents.strategy import Context, Proposal, session_seed
from archive.record import Candidate
from tools.errors import BadInput, CladeError

RUN = "gradient"
TOLERANCE = 1e-4  # a recorded coefficient the replay misses by more is a different run


def gradient_sources(config: GradientConfig, workspace: Workspace) -> list[str]:
    """The configured sources (default: every source in clade.yaml), checked against clade.yaml, and the base."""
    where = workspace.root / "clade.yaml"
    known = [s.name for s in workspace.config.sources]
    if not known:
        raise BadInput(f"{where}: no models under `sources:`, so there is nothing to merge; list them with the evaluation tasks")
    if "base" not in workspace.model_paths():
        raise BadInput(f"{where}: the gradient strategy learns task-arithmetic coefficients and needs a base model; set `base:`")
    names = config.sources if config.sources is not None else known
    unknown = [n for n in names if n not in known]
    if unknown or not names or len(set(names)) != len(names):
        raise BadInput(
            f"{where}: planner.gradient.sources {', '.join(unknown or names) or '(empty)'}: name each of the sources listed under "
            f"`sources:` at most once ({', '.join(known)})"
        )
    return list(names)


def check_compatible(workspace: Workspace, sources: list[str]) -> None:
    """BadInput naming the first tensor a source lacks, adds or shapes differently from the base (safetensors
    headers only): task arithmetic adds each source's difference to the base, tensor by tensor."""
    from tools.merge.sources import open_source

    models, where = workspace.model_paths(), workspace.root / "clade.yaml"
    base = open_source("base", models["base"]).tensors
    for name in sources:
        tensors = open_source(name, models[name]).tensors
        for tensor, ref in base.items():
            if tensor not in tensors:
                raise BadInput(
                    f"{where}: planner.gradient: source {name} has no tensor {tensor} (the base has); task arithmetic needs the base's architecture"
                )
            if tensors[tensor].shape != ref.shape:
                raise BadInput(
                    f"{where}: planner.gradient: tensor {tensor} of source {name} has shape {list(tensors[tensor].shape)}, "
                    f"the base's {list(ref.shape)}; task arithmetic needs the base's architecture"
                )
        extra = sorted(set(tensors) - set(base))
        if extra:
            raise BadInput(
                f"{where}: planner.gradient: source {name} has tensor {extra[0]}, which the base lacks; task arithmetic needs the base's architecture"
            )


def members(history: list[Candidate]) -> dict[int, Candidate]:
    """Index -> the run's recorded member (the latest record wins on a repeat)."""
    out = {}
    for c in history:
        p = c.proposer.params
        if p.get("run") == RUN and "index" in p:
            out[int(p["index"])] = c
    return out


def recipe(
    weights: list[list[float]], sources: list[str], ends: tuple[list[str], list[str]] | None = None, base: str = "base"
) -> dict[str, Any]:
    """The task_arithmetic recipe (normalize false) with one slice per layer: layer l, source s at weights[l][s].
    With `ends` (the embedding and the head tensor names), weights has two more rows, the embeddings' and the
    head's, written as `{filter: NAME, value}` entries before the layer's own weight in the first and last slices."""
    n_layers = len(weights) - (2 if ends else 0)
    slices = []
    for layer in range(n_layers):
        rng = [layer, layer + 1]
        pieces: list[dict[str, Any]] = [{"model": base, "layer_range": rng}]
        for s, name in enumerate(sources):
            own = weights[layer][s]
            filters = []
            if ends and layer == 0:
                filters += [{"filter": t, "value": weights[n_layers][s]} for t in ends[0]]
            if ends and layer == n_layers - 1:
                filters += [{"filter": t, "value": weights[n_layers + 1][s]} for t in ends[1]]
            weight: Any = [*filters, {"value": own}] if filters else own
            pieces.append({"model": name, "layer_range": rng, "parameters": {"weight": weight}})
        slices.append({"sources": pieces})
    return {"merge_method": "task_arithmetic", "base_model": base, "parameters": {"normalize": False}, "slices": slices}


class GradientStrategy:
    name = "gradient"

    def __init__(self, planner: PlannerConfig, workspace: Workspace):
        self.config = planner.gradient
        self.seed = planner.seed if self.config.seed is None else self.config.seed
        self.workspace = workspace
        self.sources = gradient_sources(self.config, workspace)
        if self.config.device != "cpu":
            from agents.gradient.optimise import checked_device

            checked_device(self.config.device)  # exit 2 before the session starts
        self._runs: dict[str, Any] = {}  # session -> its Optimiser (optimise.py)

    def last_index(self) -> int | None:
        """The last candidate index `max_steps` allows (None: no limit)."""
        m = self.config.max_steps
        return None if m is None else m // self.config.steps_per_candidate

    def optimiser(self, ctx: Context):
        if ctx.session not in self._runs:
            from agents.gradient.optimise import build
            from tools.evaluate.api import load_suite

            seed = session_seed(self.seed, ctx.session)
            self._runs[ctx.session] = build(self.config, seed, self.sources, ctx.workspace.model_paths(), load_suite(ctx.workspace))
        return self._runs[ctx.session]

    def propose(self, ctx: Context) -> list[Proposal]:
        if ctx.wanted <= 0:
            return []
        recorded, last = members(ctx.history), self.last_index()
        wanted, k = [], 0
        while len(wanted) < ctx.wanted and (last is None or k <= last):
            if k not in recorded:
                wanted.append(k)
            k += 1
        if not wanted:
            return []
        run = self.optimiser(ctx)
        losses = {i: float(c.proposer.params["loss"]) for i, c in recorded.items() if _number(c.proposer.params.get("loss"))}
        for index in sorted(recorded):
            if last is None or index <= last:
                self._check(run.snapshot(index, losses).weights, recorded[index])
        out = []
        for index in wanted:
            snap = run.snapshot(index)
            if index > 0 and snap.weights == run.snapshot(index - 1).weights:
                break  # converged: no coefficient moved in steps_per_candidate steps (the recipe would be a duplicate)
            out.append(self._proposal(ctx, index, snap))
        return out

    def _check(self, weights: list[list[float]], member: Candidate) -> None:
        found = member.proposer.params.get("weights")
        same = isinstance(found, list) and len(found) == len(weights)
        same = same and all(
            len(a) == len(b) and all(math.isclose(x, y, abs_tol=TOLERANCE) for x, y in zip(a, b)) for a, b in zip(found, weights)
        )
        if not same:
            raise CladeError(
                f"candidate {member.id}: its recorded coefficients differ from the gradient run replayed for this session "
                "(planner.gradient, its seed or the sources changed mid-session?); start a new session"
            )

    def _proposal(self, ctx: Context, index: int, snap) -> Proposal:
        from agents.evolution.encoding import source_ids

        merged = recipe(snap.weights, self.sources, self._runs[ctx.session].ends)
        invalid = _problem(ctx, merged)
        ids = source_ids(ctx)
        parents = [ids[n] for n in ["base", *self.sources] if n in ids]
        flat = [w for row in snap.weights for w in row]
        c = self.config
        rationale = (
            f"gradient run, candidate {index}: coefficients after step {snap.step} of Adam (lr {c.lr:g}, {c.batch_size} examples "
            f"per task per step) on the search split; search-split loss {snap.loss:.4f}; "
            f"{len(snap.weights)} rows (layers{' + embeddings + head' if self.config.ends == 'separate' else ''}) x "
            f"{len(self.sources)} sources, weights {min(flat):.3f}..{max(flat):.3f}"
        )
        params = {"run": RUN, "index": index, "step": snap.step, "loss": snap.loss, "sources": self.sources, "weights": snap.weights}
        return Proposal(
            kind="merge",
            parents=parents or [c.id for c in ctx.sources if c.id][:1],
            genotype={"recipe": merged},
            strategy=self.name,
            rationale=rationale,
            params=params,
            invalid=invalid,
        )


def _number(value: Any) -> bool:
    """A recorded loss that can stand for the replay's (a finite int or float)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _problem(ctx: Context, merged: dict[str, Any]) -> str | None:
    """Why the merge engine refuses the recipe (None: valid), through the session's checker when it has one."""
    if ctx.recipes is not None:
        problem = ctx.recipes.problem(merged)
    else:
        from tools.merge.prepare import load_recipe, prepare

        try:
            prepare(load_recipe(merged, models=ctx.workspace.model_paths()))
            problem = None
        except BadInput as exc:
            problem = str(exc)
    return None if problem is None else f"recipe refused by the merge engine: {problem}"
