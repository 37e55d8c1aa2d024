"""One proposal's conversation with the LLM: ask, read the reply, repair up to N rounds.

`converse` sends the rendered prompt, reads the reply with `read` (which raises ReplyError
naming what is wrong), and on an error sends prompts/merge_repair.md with that error, up to
`repair_rounds` times. Before every call the budget is checked with this proposal's spend so
far (`Budget.check_llm`), after it the reply is charged (`Budget.charge_llm`); the spend is
returned in `Outcome.cost` so it lands on the candidate. A budget refusal before the first
call propagates (BudgetExceeded: nothing was spent); one during the repair rounds ends the
conversation as invalid, so the replies already paid for are recorded with the candidate.
LLMUnavailable propagates (the session counts it for its fallback).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar

from agents.errors import BudgetExceeded, LLMUnavailable
from agents.llm.base import Message
from agents.llm.charged import charged_query
from agents.prompts import Rendered, render
from agents.strategies.reply import ReplyError
from agents.strategy import Context
from archive.record import Cost
from tools.errors import CladeError

T = TypeVar("T")
REPAIR_TEMPLATE = "merge_repair.md"


@dataclass
class Outcome(Generic[T]):
    value: T | None = None
    invalid: str | None = None  # why no valid reply came, when value is None
    cost: Cost = field(default_factory=Cost)
    replies: int = 0
    errors: list[str] = field(default_factory=list)  # each round's error, in order


def converse(
    ctx: Context, prompt: Rendered, read: Callable[[str], T], *, repair_rounds: int, prompts_dir: Path | None = None
) -> Outcome[T]:
    if ctx.model is None:
        raise CladeError("the llm and hybrid strategies need ctx.model (planner.llm in clade.yaml)")
    messages: list[Message] = [{"role": "user", "content": prompt.text}]
    out: Outcome[T] = Outcome()
    while True:
        try:
            text = _ask(ctx, messages, out)
        except (BudgetExceeded, LLMUnavailable) as exc:
            if out.replies == 0:
                raise
            # Replies were paid for: the proposal is recorded invalid with that spend, so the budget counts it after a resume.
            why = "stopped by the budget" if isinstance(exc, BudgetExceeded) else "the LLM failed"
            out.invalid = f"{why} after {out.replies} repl{'y' if out.replies == 1 else 'ies'} ({exc}); last error: {out.errors[-1]}"
            return out
        try:
            out.value = read(text)
            return out
        except ReplyError as exc:
            out.errors.append(str(exc))
        if len(out.errors) > repair_rounds:
            out.invalid = f"reply still invalid after {repair_rounds} repair round(s): {out.errors[-1]}"
            return out
        messages += [{"role": "assistant", "content": text}, _repair(out.errors[-1], len(out.errors), repair_rounds, prompts_dir)]


def _ask(ctx: Context, messages: list[Message], out: Outcome) -> str:
    text, out.cost = charged_query(ctx.model, ctx.budget, messages, out.cost)
    out.replies += 1
    return text


def _repair(error: str, round_: int, rounds: int, prompts_dir: Path | None) -> Message:
    text = render(REPAIR_TEMPLATE, prompts_dir, error=error, round=round_, rounds=rounds).text
    return {"role": "user", "content": text}
