"""Strategy names -> classes, imported only when asked for.

`make_strategy(name, planner, workspace)` builds the strategy a session runs. For a
workspace with a `code:` section, `llm` and `hybrid` mean the code strategy
(agents.code.strategy.CodeStrategy); `evolution`, `random` and `gradient` search merge recipes, so on a
code workspace they are bad input.
"""

from __future__ import annotations

from importlib import import_module

from agents.config import Workspace
from agents.planner_config import PlannerConfig
from agents.strategy import Strategy
from tools.errors import BadInput

MERGE_STRATEGIES = {
    "evolution": ("agents.evolution.strategy", "EvolutionStrategy"),
    "random": ("agents.evolution.strategy", "RandomStrategy"),
    "llm": ("agents.strategies.llm", "LLMStrategy"),
    "hybrid": ("agents.strategies.hybrid", "HybridStrategy"),
    "gradient": ("agents.gradient.strategy", "GradientStrategy"),
}
CODE_STRATEGY = ("agents.code.strategy", "CodeStrategy")
NEEDS_LLM = ("llm", "hybrid")


def make_strategy(name: str, planner: PlannerConfig, workspace: Workspace) -> Strategy:
    if name not in MERGE_STRATEGIES:
        raise BadInput(f"--planner {name}: unknown strategy; choose one of {', '.join(MERGE_STRATEGIES)}")
    if name in NEEDS_LLM and planner.llm is None:
        raise BadInput(
            f"{workspace.root / 'clade.yaml'}: --planner {name} needs planner.llm (e.g. planner: {{llm: {{model: openai/gpt-4o-mini}}}}); or use --planner evolution"
        )
    code = workspace.config.code is not None
    if code and name not in NEEDS_LLM:
        raise BadInput(
            f"{workspace.root / 'clade.yaml'}: this is a code workspace (it has a code: section) and code search needs an LLM; "
            "set planner.llm and use --planner llm or hybrid"
        )
    if code:
        return getattr(import_module(CODE_STRATEGY[0]), CODE_STRATEGY[1])(planner, workspace, prompts_dir=planner.prompts_path(workspace))
    module, cls = MERGE_STRATEGIES[name]
    return getattr(import_module(module), cls)(planner, workspace)
