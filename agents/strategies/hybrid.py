"""The `hybrid` strategy: the LLM chooses a structure, CMA-ES refines its numbers, the LLM sees the outcome.

Each call continues the newest hybrid run (hybrid_runs.py) with CMA-ES
(`agents.evolution.search.run_proposals`) for `planner.hybrid_generations` generations
(population and extras from `planner.evolution`). While members of the current generation are
still running it proposes the generation's extras, then returns [] (as the evolution strategy
does); extras still running when the run's last generation is told do not hold up the next structure. When the run is done, the LLM is shown
every earlier structure's outcome (start point and sigma, best fitness with its score per task,
how CMA-ES moved the numbers, mean fitness per generation) on prompts/hybrid_structure.md and
replies with the next structure (`StructureReply`: method, sources, layer groups, and
optionally the start point and sigma; hybrid_start.py), which must be new and must decode into
a recipe the merge engine accepts (else a repair prompt, as in the llm strategy). The run
`hybrid-<n+1>` starts from it; its start genes and sigma are kept in every member's `hybrid`
info, so a resumed session replays the same run. The structure call's LLM spend goes on the
run's first proposal; its rationale and template hash go on every member. A structure still
invalid after the repairs is returned as one invalid proposal, and the next call asks again.
"""

from __future__ import annotations

import json
from dataclasses import replace

from pydantic import ValidationError

from agents.config import Workspace
from agents.evolution.encoding import Encoding, parameter_encoding
from agents.evolution.genome import WITH_BASE, WITH_DENSITY, Structure
from agents.evolution.search import in_flight, run_proposals
from agents.planner_config import PlannerConfig
from agents.prompts import Rendered, render
from agents.strategies import hybrid_start as start_
from agents.strategies import prompt_candidates as shown_
from agents.strategies import prompt_context as view
from agents.strategies.conversation import converse
from agents.strategies.fitness_tasks import fitness_metrics, tasks_text
from agents.strategies.hybrid_runs import PREFIX, HybridRun, describe_structure, hybrid_runs, outcomes_text, same_structure
from agents.strategies.llm import parents_of
from agents.strategies.prompt_candidates import Shown
from agents.strategies.reply import ReplyError, StructureReply, describe_errors, parse_reply
from agents.strategy import Context, Proposal, session_seed
from tools.errors import BadInput

TEMPLATE = "hybrid_structure.md"


class HybridStrategy:
    name = "hybrid"

    def __init__(self, planner: PlannerConfig, workspace: Workspace):
        self.planner, self.workspace = planner, workspace
        self.prompts_dir = planner.prompts_path(workspace)

    def propose(self, ctx: Context) -> list[Proposal]:
        if ctx.wanted <= 0:
            return []
        runs = hybrid_runs(ctx.history)
        if runs:
            more = self.members(runs[-1].name, runs[-1].structure, ctx, runs[-1].info)
            if more or in_flight(runs[-1].name, ctx.history, self.planner.evolution.population):
                return more
        return self.next_structure(ctx, runs)

    def members(self, run: str, structure: Structure, ctx: Context, info: dict) -> list[Proposal]:
        config = self.planner.evolution.model_copy(update={"sigma": info.get("sigma", self.planner.evolution.sigma)})
        proposals = run_proposals(
            run,
            _encoding(structure, ctx, info),
            ctx,
            config=config,
            generations=self.planner.hybrid_generations,
            strategy=self.name,
            seed=session_seed(self.planner.seed, ctx.session),
        )
        return [_with_info(p, info) for p in proposals]

    def next_structure(self, ctx: Context, runs: list[HybridRun]) -> list[Proposal]:
        shown = Shown(metric_of=fitness_metrics(ctx.workspace))
        prompt = self.prompt(ctx, runs, shown)
        out = converse(
            ctx, prompt, lambda text: self.read(text, ctx, runs), repair_rounds=self.planner.repair_rounds, prompts_dir=self.prompts_dir
        )
        params = {"hybrid_structure": len(runs) + 1, "replies": out.replies, "repairs": out.errors}
        if out.value is None:
            return [
                Proposal(
                    kind="merge",
                    parents=parents_of(ctx, []),
                    genotype={"recipe": {}},
                    strategy=self.name,
                    model=ctx.model.name,
                    template_hash=prompt.template_hash,
                    cost=out.cost,
                    params=params,
                    invalid=f"no valid structure: {out.invalid}",
                )
            ]
        reply, structure, start = out.value
        info = {"rationale": reply.rationale, "model": ctx.model.name, "template_hash": prompt.template_hash, **params, **start}
        proposals = self.members(f"{PREFIX}{len(runs) + 1}", structure, ctx, info)
        if proposals:
            proposals[0] = proposals[0].model_copy(update={"cost": proposals[0].cost + out.cost})
        return proposals

    def read(self, text: str, ctx: Context, runs: list[HybridRun]) -> tuple[StructureReply, Structure, dict]:
        reply = parse_reply(text, StructureReply)
        structure = _structure(reply, self.planner, ctx)
        for run in runs:
            if same_structure(run.structure, structure):
                raise ReplyError(f"{describe_structure(structure)} was already tuned in {run.name}; choose a different structure")
        values = start_.start_values(structure, reply.start)
        start = {
            "x0": start_.start_genes(structure, values),
            "sigma": start_.check_sigma(reply.sigma, self.planner.evolution.sigma),
            "start": start_.start_summary(structure, values),
        }
        _check_start(structure, ctx, start)
        return reply, structure, start

    def prompt(self, ctx: Context, runs: list[HybridRun], shown: Shown | None = None) -> Rendered:
        e, shown = self.planner.evolution, shown or Shown(metric_of=fitness_metrics(ctx.workspace))
        return render(
            TEMPLATE,
            self.prompts_dir,
            brief=ctx.brief.strip() or "(no brief: maximise the search fitness)",
            tasks=tasks_text(ctx.workspace),
            budget=view.budget_text(ctx, shown, run_size=e.population * self.planner.hybrid_generations),
            summary=ctx.summary.strip() or "(empty)",
            sources=view.sources_text(ctx, shown),
            layers=view.layers_text(ctx),
            outcomes=outcomes_text(runs, shown),
            in_flight=shown_.in_flight_text(ctx, shown),
            failures=shown_.failures_text(ctx),
            lessons=shown_.lessons_text(ctx),
            generations=self.planner.hybrid_generations,
            population=e.population,
            max_groups=view.layer_count(ctx),
            weight_max=f"{e.weight_max:g}",
            density_min=f"{e.density_min:g}",
            x0_weight=f"{e.x0_weight:g}",
            x0_density=f"{e.x0_density:g}",
            x0_t=f"{e.x0_t:g}",
            sigma=f"{e.sigma:g}",
            steps=start_.step_text(e),
            sigma_min=f"{start_.SIGMA_RANGE[0]:g}",
            sigma_max=f"{start_.SIGMA_RANGE[1]:g}",
            fixed=start_.fixed_text(),
            example=structure_example(ctx),
        )


def structure_example(ctx: Context) -> str:
    """The reply format's example, with this workspace's source names."""
    names, with_base = view.example_models(ctx), ctx.workspace.config.base is not None
    method = "ties" if with_base else "linear"
    start = {
        n: {"weight": [0.9, 0.6] if i == 0 else 0.7, **({"density": 0.5} if method in WITH_DENSITY else {})} for i, n in enumerate(names)
    }
    reply = {
        "rationale": "why this structure and start, given the outcomes above, in two or three sentences",
        "method": method,
        "sources": names,
        "layer_groups": 2,
        "start": start,
        "sigma": 0.2,
    }
    return "```json\n{\n" + ",\n".join(f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in reply.items()) + "\n}\n```"


def _encoding(structure: Structure, ctx: Context, info: dict) -> Encoding:
    """The structure's parameter encoding, starting where the run's info says (else at the configured x0)."""
    encoding = parameter_encoding(structure, ctx)
    x0 = info.get("x0")
    return replace(encoding, x0=list(x0)) if x0 and len(x0) == len(encoding.x0) else encoding


def _check_start(structure: Structure, ctx: Context, start: dict) -> None:
    encoding = _encoding(structure, ctx, start)
    recipe, invalid = encoding.decode_checked(encoding.x0)
    if invalid is not None:
        raise ReplyError(f"its starting recipe {recipe} is refused: {invalid}")


def _structure(reply: StructureReply, planner: PlannerConfig, ctx: Context) -> Structure:
    """The structure with the configured gene ranges; ReplyError when it cannot be searched."""
    known = list(ctx.workspace.model_paths())
    unknown = [n for n in reply.sources if n not in known]
    if unknown:
        raise ReplyError(f"unknown source(s) {', '.join(unknown)}; use only {', '.join(known)}")
    if reply.method in WITH_BASE and "base" in reply.sources:
        raise ReplyError(f"{reply.method} takes task vectors against `base`, which is added for you: remove base from sources")
    try:
        structure = Structure.from_config(planner.evolution, reply.sources, method=reply.method, layer_groups=reply.layer_groups)
    except ValidationError as exc:
        raise ReplyError(f"not a structure CMA-ES can tune: {describe_errors(exc)}") from None
    try:
        parameter_encoding(structure, ctx)
    except BadInput as exc:
        raise ReplyError(f"not a structure CMA-ES can tune: {exc}") from None
    return structure


def _with_info(p: Proposal, info: dict) -> Proposal:
    rationale = f"{info['rationale']} [{p.rationale}]" if info.get("rationale") else p.rationale
    return p.model_copy(
        update={
            "params": {**p.params, "hybrid": info},
            "rationale": rationale,
            "model": info.get("model"),
            "template_hash": info.get("template_hash"),
        }
    )
