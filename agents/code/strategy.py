"""`CodeStrategy`: the planner's proposals for a code workspace (strategy name "code").

Each round the session hands over the parents its selection rule chose (`ctx.parents`;
`planner.selection.parents: 2` asks for crossover). With two distinct parents the child is a
crossover of them (its commit has both as parents); with one, a mutation, preceded by the
DGM diagnosis when `code.diagnose` is on. Before anything has succeeded the seed (the
search's source) is the parent. A proposal's genotype is the whole child tree and the
evaluation command (archive.record.CodeGenotype); its cost is every LLM call it made. An
edit still invalid after `planner.repair_rounds` repair prompts is returned with `invalid`.
A proposal cut short by the budget or an LLM failure after paid replies is returned `invalid`
with that spend (the parent's tree as its genotype), and the proposals finished before it in the
same call are kept; only a limit or failure before any reply of a proposal propagates.
"""

from __future__ import annotations

from pathlib import Path

from agents.code.edit_loop import Conversation, EditResult
from agents.code.jobs import code_config
from agents.code.operators import OperatorResult, Setting, crossover, mutate
from agents.config import Workspace
from agents.errors import BudgetExceeded, LLMUnavailable
from agents.planner_config import PlannerConfig
from agents.strategy import Context, Proposal
from archive.record import Candidate
from tools.errors import BadInput


class CodeStrategy:
    name = "code"

    def __init__(self, planner: PlannerConfig, workspace: Workspace, *, prompts_dir: Path | None = None):
        self.planner, self.workspace, self.config = planner, workspace, code_config(workspace)
        self.prompts_dir = prompts_dir

    def propose(self, ctx: Context) -> list[Proposal]:
        if ctx.model is None:
            raise BadInput(f"{self.workspace.root / 'clade.yaml'}: a code search needs planner.llm (the model that writes the edits)")
        parents = self._parents(ctx)
        proposals: list[Proposal] = []
        for _ in range(ctx.wanted):
            try:
                proposals.append(self._one(ctx, parents))
            except (BudgetExceeded, LLMUnavailable):  # raised before any reply of this proposal: nothing of it was paid
                if not proposals:
                    raise
                break  # keep what was made; the next call meets the same limit or failure first
        return proposals

    def _parents(self, ctx: Context) -> list[Candidate]:
        ids = list(dict.fromkeys(ctx.parents))[: self.planner.selection.parents]
        if not ids:
            ids = [c.id for c in ctx.sources][:1]
        if not ids:
            raise BadInput("code search: no parent to edit (no source recorded for the seed workspace)")
        return [ctx.archive.get(i) for i in ids]

    def _one(self, ctx: Context, parents: list[Candidate]) -> Proposal:
        talk = Conversation(ctx.model, ctx.budget, self.prompts_dir)
        setting = Setting(self.config, ctx.archive, ctx.brief, ctx.summary, ctx.lessons, self.planner.repair_rounds, self.prompts_dir)
        operator = "crossover" if len(parents) == 2 else "mutate"
        try:
            made = crossover(talk, setting, *parents) if operator == "crossover" else mutate(talk, setting, parents[0])
        except (BudgetExceeded, LLMUnavailable) as exc:
            if talk.replies == 0:
                raise
            # Replies were paid for: recorded invalid with that spend, so the budget counts it (after a resume too).
            why = "stopped by the budget" if isinstance(exc, BudgetExceeded) else "the LLM failed"
            made = OperatorResult(
                edit=EditResult(
                    files=dict(parents[0].genotype.files),
                    invalid=f"{why} after {talk.replies} paid repl{'y' if talk.replies == 1 else 'ies'} ({exc})",
                ),
                template_hash="",
            )
        return self._proposal(parents, operator, made, talk)

    def _proposal(self, parents: list[Candidate], operator: str, made: OperatorResult, talk: Conversation) -> Proposal:
        params = {"operator": operator, "rounds": made.edit.rounds, "llm_replies": talk.replies}
        if made.diagnosis:
            params["diagnosis"] = made.diagnosis
        if made.edit.problems:
            params["problems"] = made.edit.problems
        if made.edit.invalid:
            params["last_reply"] = made.edit.last_reply  # what the LLM last sent; the genotype stays the parent's tree
        return Proposal(
            kind="code",
            parents=[p.id for p in parents],
            strategy=self.name,
            genotype={"files": made.edit.files, "command": list(self.config.command)},
            rationale=made.edit.rationale or made.diagnosis or "",
            model=talk.model.name,
            template_hash=made.template_hash or None,
            params=params,
            cost=talk.cost,
            invalid=made.edit.invalid,
        )
