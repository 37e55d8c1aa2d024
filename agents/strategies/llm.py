"""The `llm` strategy: the LLM proposes whole merge recipes, with a rationale.

For each proposal wanted it renders prompts/merge_propose.md (archive summary, session brief,
sources and their fitness, the chosen parents' lineage, recent failures, lessons, the merge
engine's methods and their parameters, the layer count, the reply format), reads the reply
as a `MergeReply` (reply.py), turns it into a recipe (recipes.py) and has the merge engine
check it. A reply that fails any of these gets prompts/merge_repair.md naming the error, up
to `planner.repair_rounds` times; after that the proposal is returned with `invalid` set
(and its LLM spend), so the session records it as an invalid candidate.

Parents: the parents the selection rule chose for this round, or, for a first proposal, the
source candidates the recipe merges. It keeps no state: everything comes from the Context.
"""

from __future__ import annotations

from typing import Any

from agents.config import Workspace
from agents.errors import BudgetExceeded, LLMUnavailable
from agents.planner_config import PlannerConfig
from agents.prompts import Rendered, render
from agents.strategies import prompt_context as view
from agents.strategies.conversation import converse
from agents.strategies.recipes import check_recipe, to_recipe
from agents.strategies.reply import MergeReply, parse_reply
from agents.strategy import Context, Proposal
from tools.evaluate.suite import WorkspaceTasks
from tools.errors import CladeError

TEMPLATE = "merge_propose.md"


class LLMStrategy:
    name = "llm"

    def __init__(self, planner: PlannerConfig, workspace: Workspace):
        self.planner, self.workspace = planner, workspace
        self.prompts_dir = planner.prompts_path(workspace)

    def propose(self, ctx: Context) -> list[Proposal]:
        proposals: list[Proposal] = []
        for _ in range(ctx.wanted):
            try:
                proposals.append(self.propose_one(ctx))
            except (BudgetExceeded, LLMUnavailable):
                if not proposals:
                    raise
                break  # keep what was made; the next call meets the same limit or failure first
        return proposals

    def propose_one(self, ctx: Context) -> Proposal:
        prompt = self.prompt(ctx)
        tried: list[dict[str, Any]] = []
        n_layers = view.layer_count(ctx)
        models = ctx.workspace.model_paths()
        tasks = WorkspaceTasks(ctx.workspace)

        def read(text: str) -> tuple[MergeReply, dict[str, Any], list[str]]:
            tried.append({})  # this round's recipe, once the reply makes one
            reply = parse_reply(text, MergeReply)
            tried[-1] = to_recipe(reply, n_layers, self.planner.evolution.scale_filters, tasks=list(tasks))
            return reply, tried[-1], check_recipe(tried[-1], models, tasks)

        out = converse(ctx, prompt, read, repair_rounds=self.planner.repair_rounds,
                       prompts_dir=self.prompts_dir)
        fields = dict(kind="merge", strategy=self.name, model=ctx.model.name, template_hash=prompt.template_hash,
                      cost=out.cost, params={"replies": out.replies, "repairs": out.errors})
        if out.value is None:
            return Proposal(parents=parents_of(ctx, []), genotype={"recipe": tried[-1] if tried else {}},
                            invalid=out.invalid, **fields)
        reply, recipe, named = out.value
        return Proposal(parents=parents_of(ctx, named), genotype={"recipe": recipe}, rationale=reply.rationale, **fields)

    def prompt(self, ctx: Context) -> Rendered:
        return render(TEMPLATE, self.prompts_dir, brief=ctx.brief.strip() or "(no brief: maximise the search fitness)",
                      summary=ctx.summary.strip() or "(empty)", sources=view.sources_text(ctx), layers=view.layers_text(ctx),
                      lineage=view.lineage_text(ctx), failures=view.failures_text(ctx), lessons=view.lessons_text(ctx),
                      methods=view.methods_text(), scale_filters=", ".join(self.planner.evolution.scale_filters))


def parents_of(ctx: Context, named: list[str]) -> list[str]:
    """The chosen parents; else the source candidates among the models the recipe names; else every source."""
    if ctx.parents:
        return list(ctx.parents)
    ids = {c.genotype.name: c.id for c in ctx.sources if c.id and hasattr(c.genotype, "name")}
    chosen = [ids[n] for n in named if n in ids] or list(ids.values())
    if not chosen:
        raise CladeError("the session has no source candidates to be the parents of a first proposal")
    return chosen
