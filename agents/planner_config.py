"""`planner:` in clade.yaml: strategy, LLM, budget, selection and each strategy's settings.

planner:
  strategy: auto            # auto | evolution | llm | hybrid | random | gradient (auto: hybrid with an llm, else evolution)
  llm: {model: openai/gpt-4o-mini, api_key_env: OPENAI_API_KEY}    # absent: no LLM
  budget: {candidates: 40, wall_s: null, dollars: null, tokens: null}
  selection: {rule: mixed, parents: 1, exploit: 0.7, elites: 3}
  evolution: {method: task_arithmetic, layer_groups: 2, population: 8, sigma: 0.2}
  gradient: {init: 0.3, lr: 0.03, steps_per_candidate: 5}    # the gradient strategy (agents/gradient)
  brief: brief.md           # the session brief every proposal reads (goals and constraints)
  prompts_dir: null         # other prompt templates (the self-improve example evolves a copy)
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from agents.budget import BudgetConfig
from agents.evolution.config import EvolutionConfig
from agents.gradient.config import GradientConfig
from agents.llm.config import LLMConfig

StrategyName = Literal["evolution", "llm", "hybrid", "random", "gradient"]


class SelectionConfig(BaseModel):
    """How parents are chosen for the llm and code strategies (archive/selection.py).

    `mixed` (default): each parent is drawn among the `elites` best by search fitness with
    probability `exploit`, else by the DGM rule (`dgm_robust`: good candidates with few children).
    `dgm`, `dgm_robust`, `tournament`: those rules alone; `best`: the best by fitness;
    `pareto`: a member of the Pareto front over per-task scores (fewer children: likelier)."""

    model_config = ConfigDict(extra="forbid")
    rule: Literal["mixed", "dgm", "dgm_robust", "tournament", "best", "pareto"] = "mixed"
    parents: int = Field(1, gt=0, le=2, description="parents per proposal (2: crossover)")
    exploit: float = Field(0.7, ge=0, le=1, description="mixed: the share of parents drawn by fitness rank")
    elites: int = Field(3, gt=0, description="mixed: an exploit draw picks uniformly among this many best")


class PlannerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    strategy: Literal["auto", "evolution", "llm", "hybrid", "random", "gradient"] = "auto"
    llm: LLMConfig | None = None
    budget: BudgetConfig = Field(default_factory=BudgetConfig)
    selection: SelectionConfig = Field(default_factory=SelectionConfig)
    evolution: EvolutionConfig = Field(default_factory=EvolutionConfig)
    gradient: GradientConfig = Field(default_factory=GradientConfig)
    hybrid_generations: int = Field(2, gt=0, description="CMA-ES generations refining each structure the LLM chooses")
    repair_rounds: int = Field(3, ge=0, description="repair prompts for an invalid LLM reply before it counts as failed")
    reflect: bool = True
    brief: str = "brief.md"
    prompts_dir: str | None = Field(None, description="prompt templates to use instead of Clade's prompts/ (relative to clade.yaml)")
    seed: int = 0

    def prompts_path(self, workspace) -> Path | None:
        """The template directory to render from (`prompts_dir` against the workspace); None: Clade's prompts/."""
        return workspace.path(self.prompts_dir) if self.prompts_dir else None

    def resolved_strategy(self) -> StrategyName:
        if self.strategy != "auto":
            return self.strategy
        return "hybrid" if self.llm is not None else "evolution"
