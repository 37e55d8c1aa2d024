"""What the session graph's nodes work with: the collaborators the factory injects."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agents.budget import Budget
from agents.config import Workspace
from agents.llm.base import Model
from agents.session.display import Display, PlainDisplay
from agents.session.executor import Executor, build_job
from agents.strategy import Strategy
from archive.record import Candidate
from tools.evaluate.spec import EvaluationConfig


@dataclass
class Hooks:
    """Callbacks into whoever keeps the session record (runner.py); no-ops by default."""

    on_round: Callable[[], None] = lambda: None
    on_fallback: Callable[[str], None] = lambda reason: None


@dataclass
class Runtime:
    workspace: Workspace
    archive: Any  # archive.Archive
    executor: Executor
    budget: Budget
    strategy: Strategy
    make_fallback: Callable[[], Strategy] | None  # None: no fallback (a code workspace); the session stops instead
    model: Model | None = None
    display: Display = field(default_factory=PlainDisplay)
    hooks: Hooks = field(default_factory=Hooks)
    seed: int = 0
    sources: list[Candidate] = field(default_factory=list)
    prompts_dir: Path | None = None  # None: the prompts/ of this checkout
    evaluation: EvaluationConfig | None = None  # the evaluation every job carries, read once at the start (merge workspaces)
    _fallback: Strategy | None = None
    _recipes: Any = None  # tools.merge.checker.RecipeChecker, made on first use (it imports the merge engine)
    _history: dict[str, Candidate] = field(default_factory=dict)  # the session's candidates by id, oldest first
    _unreflected: list[str] | None = None  # found once per process: see unreflected()

    def unreflected(self, session: str) -> list[str]:
        """Candidates whose result was attached (as their job ended) but which a kill left without their report
        and lesson; found once per process (after that every result is collected by the executor), until taken."""
        if self._unreflected is None:
            self._unreflected = [
                c.id
                for c in self.history(session)
                if c.status in ("succeeded", "failed") and c.lesson is None and c.id not in self.executor.in_flight
            ]
        return self._unreflected

    def take_unreflected(self) -> list[str]:
        found, self._unreflected = self._unreflected or [], []
        return found

    @property
    def planner(self):
        return self.workspace.config.planner

    def current_strategy(self, fallback: bool) -> Strategy:
        if not fallback:
            return self.strategy
        if self._fallback is None:
            self._fallback = self.make_fallback()
        return self._fallback

    def history(self, session: str, *, fresh: bool = True) -> list[Candidate]:
        """The session's candidates, oldest first, with their results. Loaded once and extended: only the
        candidates new since the last call, or not settled then (no result or no lesson yet), are read
        again; `fresh=False` returns what was loaded last (for a second look in the same round)."""
        if fresh:
            ids = self.archive.session_candidates(session)
            self._history = {
                cid: c if c is not None and _settled(c) else self.archive.get(cid)
                for cid, c in ((cid, self._history.get(cid)) for cid in ids)
            }
        return list(self._history.values())

    def recipes(self):
        """The session's recipe checker (tools.merge.checker.RecipeChecker over the workspace's models and tasks):
        each recipe is loaded and planned once, by whichever asks first (the strategy, or the validate node)."""
        if self._recipes is None:
            from agents.derived import CheckModels
            from tools.evaluate.suite import WorkspaceTasks
            from tools.merge.checker import RecipeChecker

            # CheckModels: a recipe may name a merged candidate of the archive (`candidate:<id>`, space `both`)
            self._recipes = RecipeChecker(CheckModels(self.workspace, self.archive), WorkspaceTasks(self.workspace))
        return self._recipes

    def gpus_per_job(self) -> int:
        return 1 if self.executor.gpus else 0

    def job(self, candidate: Candidate, split: str):
        """The sandbox job measuring `candidate` on `split` with the session's evaluation configuration."""
        return build_job(
            self.workspace,
            candidate,
            split=split,
            seed=self.seed,
            gpus=self.gpus_per_job(),
            evaluation=self.evaluation,
            archive=self.archive,
        )


def _settled(c: Candidate) -> bool:
    """Nothing more will be attached to it by this session: a result and its lesson (or it never ran)."""
    return c.status in ("invalid", "rejected") or (c.status in ("succeeded", "failed") and c.lesson is not None)
