"""The proposal port: a strategy turns the session's context into proposals.

Strategies (agents/evolution for `evolution` and `random`, agents/strategies/llm.py,
agents/strategies/hybrid.py, agents/code for code candidates) implement `Strategy`.
They hold no state the archive cannot rebuild: everything a strategy needs to continue a
killed session is in `Context.history` (this session's candidates, results included, in
the order they were recorded) and in each candidate's `proposer.params`. A strategy may
cache what it derives from the history, keyed on it.

A proposal that could not be made valid (an LLM reply still invalid after the repair
rounds) is returned with `invalid` set: the session records it as an `invalid` candidate
with that reason and its cost, and it counts against the budget; it is never run.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from agents.budget import Budget
from agents.config import Workspace
from agents.llm.base import Model
from archive.record import Candidate, Cost


class Proposal(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["merge", "code"]
    parents: list[str] = Field(min_length=1, description="candidate ids (sources for a first merge; two for crossover)")
    genotype: dict[str, Any] = Field(description='the archive genotype: {"recipe": {...}} or {"files": {...}, "command": [...]}')
    strategy: str
    rationale: str = ""
    model: str | None = None
    template_hash: str | None = None
    params: dict[str, Any] = Field(default_factory=dict, description="strategy-private, kept in proposer.params")
    cost: Cost = Field(default_factory=Cost)
    invalid: str | None = Field(None, description="why no valid proposal could be made; recorded as invalid, never run")


@dataclass
class Context:
    """What a strategy sees when asked for proposals (built by the session's observe/select nodes)."""

    workspace: Workspace
    archive: Any  # archive.Archive, read only here
    session: str
    budget: Budget
    rng: random.Random
    wanted: int  # proposals wanted now (free execution slots, within the budget)
    history: list[Candidate] = field(default_factory=list)  # this session's candidates, oldest first, with results
    sources: list[Candidate] = field(default_factory=list)  # the roots, with their fitness on the search split
    parents: list[str] = field(default_factory=list)  # parents chosen by the selection rule for this round
    parent_notes: dict[str, str] = field(default_factory=dict)  # parent id -> why the selection rule chose it
    in_flight: list[Candidate] = field(default_factory=list)  # this session's candidates proposed or running, not finished
    summary: str = ""  # the archive summary for prompts
    brief: str = ""  # the session brief
    lessons: list[str] = field(default_factory=list)  # recent lessons, newest last
    model: Model | None = None  # the LLM, when the strategy uses one
    recipes: Any = None  # tools.merge.checker.RecipeChecker: check merge recipes through it, so the session's validation reuses the plan


def session_seed(seed: int, session: str) -> int:
    """The seed a strategy draws with in one session: the planner's seed mixed with the session id, so a
    second session in the same archive explores anew instead of re-proposing the first one's (duplicate) genomes."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{session}".encode()).digest()[:4], "big") >> 1


class Strategy(Protocol):
    name: str

    def propose(self, ctx: Context) -> list[Proposal]:
        """Up to `ctx.wanted` proposals (fewer when the strategy is done, e.g. its generations ran out).

        Checks `ctx.budget.check_llm()` before every LLM call and charges it afterwards; lets
        BudgetExceeded propagate. Returns [] only when it has nothing more to propose."""
