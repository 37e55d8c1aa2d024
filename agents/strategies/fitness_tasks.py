"""What the fitness is made of: the workspace's evaluation tasks, each with its metric and weight (no torch).

Read from clade.yaml's `evaluation:` (task files are YAML; their data is not read). A code
workspace (a command evaluator, no tasks) has none: its fitness is whatever the command prints.
"""

from __future__ import annotations

from dataclasses import dataclass

from agents.config import Workspace
from tools.errors import BadInput

METRIC_MEANING = {
    "exact_match": "share of examples whose answer equals the target exactly",
    "char_accuracy": "share of the target's characters right at the same position, so a partly right answer gets partial credit",
    "target_logprob": "mean log-likelihood per target token (higher is better, at most 0)",
    "acc": "share of examples where the most likely option is the right one",
    "acc_norm": "as acc, with each option's log-likelihood divided by its length in characters",
    "token_logprob": "mean log-likelihood per token of the texts (higher is better, at most 0)",
    "mean_token_prob": "exp of the mean log-likelihood per token (1 / perplexity)",
}


@dataclass(frozen=True)
class FitnessTask:
    name: str
    kind: str
    metric: str
    weight: float
    description: str = ""
    examples: int | None = None  # on the split the prompt talks about, when counted

    def line(self, total_weight: float) -> str:
        share = f"{self.weight / total_weight:.0%} of the fitness" if total_weight else "no weight"
        what = self.description or f"a {self.kind} task (no description in its task file)"
        meaning = METRIC_MEANING.get(self.metric, "")
        count = f"; {self.examples} examples" if self.examples is not None else ""
        return (
            f"- {self.name}: {what}. Metric {self.metric}"
            + (f" ({meaning})" if meaning else "")
            + f"; weight {self.weight:g} ({share}){count}."
        )


def fitness_tasks(workspace: Workspace, count_split: str | None = None) -> list[FitnessTask]:
    """The suite's tasks in clade.yaml order ([] for a workspace without tasks); with `count_split`,
    each with its number of examples on that split (reads the data files)."""
    from tools.evaluate.suite import load_suite

    if not workspace.config.evaluation.tasks:
        return []
    try:
        suite = load_suite(workspace)
    except BadInput:
        return []  # a broken suite fails every evaluation with its own message; the prompt just shows no tasks
    return [
        FitnessTask(t.name, t.spec.kind, t.spec.fitness_metric, t.weight, " ".join(t.spec.description.split()), _count(t, count_split))
        for t in suite.tasks
    ]


def _count(task, split: str | None) -> int | None:
    if split is None:
        return None
    try:
        return len(task.examples(split))
    except BadInput:
        return None


def fitness_metrics(workspace: Workspace) -> dict[str, str]:
    """Task name -> the metric that feeds the fitness."""
    return {t.name: t.metric for t in fitness_tasks(workspace)}


def task_weights(workspace: Workspace) -> dict[str, float]:
    return {t.name: t.weight for t in fitness_tasks(workspace)}


def tasks_text(workspace: Workspace, split: str = "search") -> str:
    tasks = fitness_tasks(workspace, count_split=split)
    if not tasks:
        return "(no evaluation tasks: the fitness is the number the evaluation command prints)"
    total = sum(t.weight for t in tasks)
    head = f"The fitness is the weighted mean over these tasks of each task's metric, on the {split} split (higher is better):"
    tail = (
        "Small differences between candidates may be noise of these few examples: the session's best on the search split "
        "is finally judged on a held-out split it was never chosen on, so a recipe tuned to a few search examples does not pay."
    )
    return "\n".join([head, *(t.line(total) for t in tasks), tail])
