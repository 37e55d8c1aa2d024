"""A workspace's evaluation suite: its tasks (spec, weight, data) and the cascade (no torch).

Data is read lazily, once per split, and kept; so is everything derived from it for a given
tokenizer (see `Suite.cache`), so the search loop reads and tokenises each prompt once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import TypeAdapter, ValidationError

from tools.errors import BadInput, describe_validation_error
from tools.evaluate.data import Example, fewshot_prefix, load_examples
from tools.evaluate.spec import METRICS, SPLITS, CascadeConfig, EvaluationConfig, TaskSpec

_TASK_ADAPTER = TypeAdapter(TaskSpec)


@dataclass
class Task:
    """One task of a suite. Relative data paths resolve against `base_dir`."""

    spec: Any  # GenerationTask | ChoiceTask | PerplexityTask
    weight: float
    base_dir: Path
    _examples: dict[str, list[Example]] = field(default_factory=dict, repr=False)

    @property
    def name(self) -> str:
        return self.spec.name

    def examples(self, split: str) -> list[Example]:
        if split not in self.spec.data:
            raise BadInput(f"task {self.name!r} has no data for split {split!r} (splits: {', '.join(self.spec.data)})")
        if split not in self._examples:
            self._examples[split] = load_examples(self.spec, self.base_dir / self.spec.data[split], split)
        return self._examples[split]

    def fewshot_prefix(self) -> str:
        if not self.spec.num_fewshot:
            return ""
        return fewshot_prefix(self.spec, self.examples(self.spec.fewshot_split))


@dataclass
class Suite:
    tasks: list[Task]
    cascade: CascadeConfig | None = None
    batch_size: int = 64
    cache: dict = field(default_factory=dict, repr=False)  # owned by tools.evaluate.runner

    def task(self, name: str) -> Task:
        for task in self.tasks:
            if task.name == name:
                return task
        raise BadInput(f"no task named {name!r} in the suite (tasks: {', '.join(t.name for t in self.tasks)})")


def load_suite(workspace) -> Suite:
    """The tasks of clade.yaml's `evaluation:` section (`workspace` is an agents.config.Workspace)."""
    return suite_from_config(workspace.config.evaluation, workspace.root, where=str(workspace.root / "clade.yaml"))


class WorkspaceTasks(Mapping):
    """A workspace's tasks by name (none without a workspace or tasks): what a merge recipe's
    calibration section may name (tools.merge.calibration). Loaded on first use, so a caller that
    never looks (a recipe without calibration) does not depend on the task files."""

    def __init__(self, workspace=None):
        self.workspace, self._tasks = workspace, None

    def _load(self) -> dict[str, Task]:
        if self._tasks is None:
            empty = self.workspace is None or not self.workspace.config.evaluation.tasks
            self._tasks = {} if empty else {task.name: task for task in load_suite(self.workspace).tasks}
        return self._tasks

    def __getitem__(self, name: str) -> Task:
        return self._load()[name]

    def __iter__(self):
        return iter(self._load())

    def __len__(self) -> int:
        return len(self._load())


def suite_from_config(config: EvaluationConfig, root: Path, *, where: str = "clade.yaml") -> Suite:
    tasks = [_resolve(entry, root) for entry in config.tasks]
    if not tasks:
        raise BadInput(f"{where}: evaluation.tasks is empty; list at least one task spec file or inline task")
    _check_names(tasks, config.weights, where)
    for task in tasks:
        task.weight = config.weights.get(task.name, 1.0)
    if sum(t.weight for t in tasks) <= 0:
        raise BadInput(f"{where}: evaluation.weights are all zero; give at least one task a positive weight")
    return Suite(tasks, config.cascade, config.batch_size)


def _resolve(entry, root: Path) -> Task:
    if isinstance(entry, str):
        path = (root / entry).resolve()
        return Task(load_task_file(path), 1.0, path.parent)
    return Task(entry, 1.0, root)


def load_task_file(path: Path):
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInput(f"{path}: no such task spec file (listed in evaluation.tasks)") from None
    except yaml.YAMLError as exc:
        raise BadInput(f"{path}: not valid YAML ({str(exc).strip().splitlines()[0]})") from None
    except UnicodeDecodeError as exc:
        raise BadInput(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except RecursionError:
        raise BadInput(f"{path}: nested too deeply to be a task spec") from None
    except OSError as exc:
        raise BadInput(f"{path}: cannot read the task spec file ({exc.strerror or exc})") from None
    if not isinstance(data, dict):
        raise BadInput(f"{path}: expected a mapping (name, kind, data, ...), got {type(data).__name__}")
    try:
        return _TASK_ADAPTER.validate_python(data)
    except ValidationError as exc:
        raise BadInput(f"{path}: {describe_validation_error(exc, METRICS)}") from None


def _check_names(tasks: list[Task], weights: dict[str, float], where: str) -> None:
    names = [t.name for t in tasks]
    for name in names:
        if names.count(name) > 1:
            raise BadInput(f"{where}: two tasks are named {name!r}; task names must be unique")
    for name in weights:
        if name not in names:
            raise BadInput(f"{where}: evaluation.weights names {name!r}, which is not a task (tasks: {', '.join(names)})")


__all__ = ["SPLITS", "Suite", "Task", "WorkspaceTasks", "load_suite", "load_task_file", "suite_from_config"]
