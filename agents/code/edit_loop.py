"""Getting a valid edit out of the LLM: ask, parse, dry-run, and at most `rounds` repair prompts.

`Conversation` is one proposal's LLM calls: the budget is checked before every call (with
what this proposal already spent) and charged after, and the spend is the proposal's cost.
`write_edit` asks for an edit of `base` and applies it in memory with tools/edit. A reply
that does not parse, a block that does not apply, or a child that fails the novelty check
goes back to the LLM with the reason (which block, the closest real lines, what already
applied); blocks that applied stay applied for the next round. After the last repair round
the result carries `invalid`, the reason in words; nothing is dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from agents.budget import Budget
from agents.llm.base import Message, Model
from agents.llm.charged import charged_query
from agents.prompts import render
from archive.record import Cost
from tools.edit import EditParseError, apply_edits, failure_report, parse_edits
from tools.edit.parse import OPEN


class Conversation:
    def __init__(self, model: Model, budget: Budget, prompts_dir=None):
        self.model, self.budget, self.prompts_dir = model, budget, prompts_dir
        self.cost = Cost()
        self.replies = 0

    def ask(self, messages: list[Message]) -> str:
        text, self.cost = charged_query(self.model, self.budget, messages, self.cost)
        self.replies += 1
        return text


@dataclass
class EditResult:
    files: dict[str, str]
    rationale: str = ""
    rounds: int = 0
    invalid: str | None = None
    problems: list[str] = field(default_factory=list)
    last_reply: str = ""


Check = Callable[[dict[str, str]], "str | None"]  # the child tree -> why it is refused, or None


def write_edit(
    talk: Conversation, messages: list[Message], base: dict[str, str], editable: list[str], repair_rounds: int, check: Check
) -> EditResult:
    """Ask for an edit of `base` until one applies and passes `check`, within 1 + repair_rounds replies."""
    state, result, applied = dict(base), EditResult(files=dict(base)), set()
    for _ in range(1 + repair_rounds):
        text = talk.ask(messages)
        result.rounds, result.last_reply = result.rounds + 1, text
        result.rationale = prose(text) or result.rationale
        problem, state = _attempt(text, state, base, editable, check, applied)
        if problem is None:
            result.files = state
            return result
        result.problems.append(problem)
        repair = render("code_repair.md", talk.prompts_dir, problem=problem).text
        messages = [*messages, {"role": "assistant", "content": text}, {"role": "user", "content": repair}]
    result.invalid = f"no valid edit after {result.rounds} LLM replies; last problem: {result.problems[-1]}"
    return result


def _attempt(
    text: str, state: dict[str, str], base: dict[str, str], editable: list[str], check: Check, applied: set[tuple]
) -> tuple[str | None, dict[str, str]]:
    """(problem or None, the tree to continue from). `applied`: blocks kept from earlier rounds; a repair
    reply that sends one of them again must not apply it twice (an "add after X" block would still match)."""
    try:
        edits = [e for e in parse_edits(text) if _key(e) not in applied]
    except EditParseError as exc:
        return f"your reply could not be read: {exc}", state
    if not edits:
        return "every block you sent had already applied in an earlier round; send only the blocks still to do", state
    outcome = apply_edits(state, edits, editable)
    applied.update(_key(e) for e in outcome.applied)
    if outcome.failures:
        return failure_report(outcome), outcome.files
    refused = check(outcome.files)
    if refused is not None:
        applied.clear()
        return f"every block applied, but {refused}. The edits were undone: send a new edit of the original files.", dict(base)
    return None, outcome.files


def _key(edit) -> tuple:
    return edit.path, edit.kind, edit.search, edit.replace


def prose(reply: str) -> str:
    """The reply's words before its first edit block (the path line and code fences dropped): the rationale."""
    lines = reply.replace("\r\n", "\n").split("\n")
    first = next((i for i, line in enumerate(lines) if any(p.match(line) for p in OPEN.values())), len(lines))
    kept = [line for line in lines[:first] if not line.strip().startswith(("```", "~~~"))]
    while kept and not kept[-1].strip():
        kept.pop()
    if first < len(lines) and kept:
        kept.pop()  # the path line above the first block
    return "\n".join(kept).strip()
