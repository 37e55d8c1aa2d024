"""The `llm` strategy: the LLM proposes whole merge recipes, with a rationale.

For each proposal wanted it renders prompts/merge_propose.md (session brief, the fitness's
tasks, budget and progress, sources with their per-task scores, archive summary, the chosen
parents with why they were chosen, the proposals in flight, recent failures, lessons, the
merge engine's methods, the layer count, the reply format with this workspace's names),
reads the reply as a `MergeReply` (reply.py), turns it into a recipe (recipes.py), refuses
a recipe already tried or in flight, and has the merge engine check it. A reply that fails
any of these gets prompts/merge_repair.md naming the error, up to `planner.repair_rounds`
times; after that the proposal is returned with `invalid` set (and its LLM spend), so the
session records it as an invalid candidate. When several proposals are wanted at once, each
prompt lists the ones made before it in the same call as in flight, so no two prompts of a
round are the same and the LLM is told not to repeat its siblings.

Parents: the parents the selection rule chose for this round, or, for a first proposal, the
source candidates the recipe merges. It keeps no state: everything comes from the Context.
"""

from __future__ import annotations

from typing import Any

from agents.config import Workspace
from agents.errors import BudgetExceeded, LLMUnavailable
from agents.planner_config import PlannerConfig
from agents.prompts import Rendered, render
from agents.strategies import prompt_candidates as shown_
from agents.strategies import prompt_context as view
from agents.strategies.conversation import converse
from agents.strategies.fitness_tasks import fitness_metrics, tasks_text
from agents.strategies.prompt_candidates import Shown
from agents.strategies.recipes import check_recipe, to_recipe
from agents.strategies.reply import MergeReply, ReplyError, parse_reply
from agents.strategy import Context, Proposal
from archive.record import MergeGenotype, genotype_hash
from tools.errors import CladeError
from tools.evaluate.suite import WorkspaceTasks

TEMPLATE = "merge_propose.md"


class LLMStrategy:
    name = "llm"

    def __init__(self, planner: PlannerConfig, workspace: Workspace):
        self.planner, self.workspace = planner, workspace
        self.prompts_dir = planner.prompts_path(workspace)

    def propose(self, ctx: Context) -> list[Proposal]:
        proposals: list[Proposal] = []
        shown = Shown(metric_of=fitness_metrics(ctx.workspace), siblings=proposals)
        for _ in range(ctx.wanted):
            try:
                proposals.append(self.propose_one(ctx, shown))
            except (BudgetExceeded, LLMUnavailable):
                if not proposals:
                    raise
                break  # keep what was made; the next call meets the same limit or failure first
        return proposals

    def propose_one(self, ctx: Context, shown: Shown | None = None) -> Proposal:
        shown = shown or Shown(metric_of=fitness_metrics(ctx.workspace))
        prompt = self.prompt(ctx, shown)
        tried: list[dict[str, Any]] = []
        n_layers = view.layer_count(ctx)
        tasks = WorkspaceTasks(ctx.workspace)
        checker = ctx.recipes or _checker(ctx.workspace, tasks)  # the session's: its validation reuses the plan

        def read(text: str) -> tuple[MergeReply, dict[str, Any], list[str]]:
            tried.append({})  # this round's recipe, once the reply makes one
            reply = parse_reply(text, MergeReply)
            tried[-1] = to_recipe(reply, n_layers, self.planner.evolution.scale_filters, tasks=list(tasks))
            check_new(tried[-1], ctx, shown)
            check_built_on(reply.built_on, ctx)
            return reply, tried[-1], check_recipe(tried[-1], checker)

        out = converse(ctx, prompt, read, repair_rounds=self.planner.repair_rounds, prompts_dir=self.prompts_dir)
        fields = dict(
            kind="merge",
            strategy=self.name,
            model=ctx.model.name,
            template_hash=prompt.template_hash,
            cost=out.cost,
            params={"replies": out.replies, "repairs": out.errors},
        )
        if out.value is None:
            return Proposal(parents=parents_of(ctx, []), genotype={"recipe": tried[-1] if tried else {}}, invalid=out.invalid, **fields)
        reply, recipe, named = out.value
        parents = list(dict.fromkeys(reply.built_on)) or parents_of(ctx, named)
        return Proposal(parents=parents, genotype={"recipe": recipe}, rationale=reply.rationale, **fields)

    def prompt(self, ctx: Context, shown: Shown | None = None) -> Rendered:
        shown = shown or Shown(metric_of=fitness_metrics(ctx.workspace))
        n_layers = view.layer_count(ctx)
        return render(
            TEMPLATE,
            self.prompts_dir,
            brief=ctx.brief.strip() or "(no brief: maximise the search fitness)",
            tasks=tasks_text(ctx.workspace),
            budget=view.budget_text(ctx, shown),
            summary=ctx.summary.strip() or "(empty)",
            sources=view.sources_text(ctx, shown),
            layers=view.layers_text(ctx),
            lineage=shown_.lineage_text(ctx, shown),
            in_flight=shown_.in_flight_text(ctx, shown),
            failures=shown_.failures_text(ctx),
            lessons=shown_.lessons_text(ctx),
            methods=view.methods_text(),
            example=view.merge_example(ctx, min(2, n_layers), built_on=ctx.parents[:1]),
            path_example=view.path_example(ctx, n_layers),
            scale_filters=", ".join(self.planner.evolution.scale_filters),
        )


def check_built_on(ids: list[str], ctx: Context) -> None:
    """ReplyError naming any id in `built_on` that is not a scored candidate the LLM could have seen."""
    unknown = [i for i in ids if (c := shown_.find(ctx, i)) is None or c.kind not in ("merge", "source")]
    if unknown:
        raise ReplyError(
            f"built_on names {', '.join(unknown)}, which are not merge or source candidates of this archive; "
            "use ids shown above, or leave built_on empty"
        )


def check_new(recipe: dict[str, Any], ctx: Context, shown: Shown) -> None:
    """ReplyError when the recipe was tried before (anywhere in the archive), is in flight, or repeats a sibling."""
    key = genotype_hash("merge", MergeGenotype(recipe=recipe))
    for c in (*ctx.history, *ctx.in_flight):
        if c.kind == "merge" and c.genotype_hash() == key:
            raise ReplyError(
                f"this recipe is exactly {c.id}'s ({shown_.scores(c, shown)}); a duplicate is never run: "
                "change at least one number, or propose another recipe"
            )
    if any(genotype_hash("merge", MergeGenotype(recipe=p.genotype.get("recipe", {}))) == key for p in shown.siblings):
        raise ReplyError("this recipe is the one proposed just before it in the same round; propose a different one")
    found = ctx.archive.find_genotype(key) if ctx.archive is not None else []
    if found:
        c = ctx.archive.get(found[0])
        raise ReplyError(
            f"this recipe is exactly {c.id}'s ({shown_.scores(c, shown)}), tried in an earlier session; "
            "change at least one number, or propose another recipe"
        )


def parents_of(ctx: Context, named: list[str]) -> list[str]:
    """The chosen parents; else the source candidates among the models the recipe names; else every source."""
    if ctx.parents:
        return list(ctx.parents)
    ids = {c.genotype.name: c.id for c in ctx.sources if c.id and hasattr(c.genotype, "name")}
    chosen = [ids[n] for n in named if n in ids] or list(ids.values())
    if not chosen:
        raise CladeError("the session has no source candidates to be the parents of a first proposal")
    return chosen


def _checker(workspace: Workspace, tasks: WorkspaceTasks):
    """A recipe checker of its own (no session gave one): imports the merge engine, so only when asked."""
    from tools.merge.checker import RecipeChecker

    return RecipeChecker(workspace.model_paths(), tasks)
