"""Budgets: numbers, checked before every LLM call and every job.

A session's spending is rebuilt from the archive on resume (every candidate the session
recorded counts, whatever its status; its LLM tokens and dollars are on the candidates),
plus the wall time of earlier runs kept in the session record, so limits hold across a
kill and a `--resume`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from pydantic import BaseModel, ConfigDict, Field

from agents.errors import BudgetExceeded


class BudgetConfig(BaseModel):
    """`planner.budget` in clade.yaml; `None` means not limited. `clade run --budget N` sets `candidates`."""

    model_config = ConfigDict(extra="forbid")
    candidates: int | None = Field(40, gt=0, description="candidates recorded by the session (any status; sources do not count)")
    wall_s: float | None = Field(None, gt=0, description="wall-clock seconds, summed over the session's runs")
    dollars: float | None = Field(None, ge=0, description="LLM dollars for the session")
    tokens: int | None = Field(None, gt=0, description="LLM tokens (prompt + completion) for the session")
    candidate_dollars: float | None = Field(None, ge=0, description="LLM dollars spent proposing one candidate")
    candidate_tokens: int | None = Field(None, gt=0, description="LLM tokens spent proposing one candidate")

    def describe(self) -> str:
        """The limits in words, e.g. `40 candidates, 7200 s wall, $5.00`; `no limit` when none is set."""
        parts = [
            (self.candidates, "{:d} candidates"),
            (self.wall_s, "{:g} s wall"),
            (self.dollars, "${:.2f}"),
            (self.tokens, "{:d} tokens"),
            (self.candidate_dollars, "${:.2f} a candidate"),
            (self.candidate_tokens, "{:d} tokens a candidate"),
        ]
        return ", ".join(form.format(value) for value, form in parts if value is not None) or "no limit"

    def unlimited(self) -> bool:
        """No session-wide limit at all: a session would never stop by itself."""
        return all(v is None for v in (self.candidates, self.wall_s, self.dollars, self.tokens))


class Spend(BaseModel):
    model_config = ConfigDict(extra="forbid")
    candidates: int = 0
    tokens: int = 0
    dollars: float = 0.0
    wall_s: float = 0.0  # of earlier runs of the session


class Budget:
    """The limits of one session and what it has spent; `check_*` raise BudgetExceeded."""

    def __init__(self, config: BudgetConfig, spent: Spend | None = None, clock: Callable[[], float] = time.monotonic):
        self.config, self.spent, self.clock = config, spent or Spend(), clock
        self._started = clock()

    def wall_s(self) -> float:
        return self.spent.wall_s + (self.clock() - self._started)

    def check_job(self) -> None:
        """Before proposing or running a candidate: every session-wide limit."""
        self._limit("candidates", self.spent.candidates, self.config.candidates)
        self.check_spend()

    def check_spend(self) -> None:
        """Wall time, LLM dollars and tokens (not the candidate count): e.g. before reflecting on a counted candidate."""
        c = self.config
        self._limit("wall_s", self.wall_s(), c.wall_s)
        self._limit("dollars", self.spent.dollars, c.dollars)
        self._limit("tokens", self.spent.tokens, c.tokens)

    def check_llm(self, candidate_tokens: int = 0, candidate_dollars: float = 0.0) -> None:
        """Before an LLM call: the session limits, and the spend so far on the candidate being proposed."""
        self.check_job()
        self._limit("candidate_tokens", candidate_tokens, self.config.candidate_tokens)
        self._limit("candidate_dollars", candidate_dollars, self.config.candidate_dollars)

    def remaining_candidates(self) -> int | None:
        return None if self.config.candidates is None else max(0, self.config.candidates - self.spent.candidates)

    def charge_llm(self, tokens: int, dollars: float) -> None:
        self.spent.tokens += tokens
        self.spent.dollars += dollars

    def count_candidate(self, n: int = 1) -> None:
        self.spent.candidates += n

    @staticmethod
    def _limit(name: str, used: float, limit: float | None) -> None:
        if limit is not None and used >= limit:
            raise BudgetExceeded(f"{name}: {used:g} of {limit:g} used")
