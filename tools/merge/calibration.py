"""The recipe's `calibration:` section: which data the data-dependent methods learn from (no torch).

```yaml
calibration:
  tasks: [add, reverse, sort]     # every model sees these tasks' records ...
  # tasks: {adder: add, reverser: reverse, sorter: [sort]}   # ... or each model its own (FusionBench)
  split: search                   # the default; `test` is held out and refused
  examples: 128                   # the first N records of each task's split
  batch_size: 16
```
A task is a name from the workspace's `evaluation.tasks` (`clade merge` in a workspace, search
sessions) or the path of a task spec YAML file (tools/evaluate's format), relative to the current
directory, as model references are. Records are rendered by tools.evaluate: the prompt (with the
task's few-shot prefix) is the context, the target answer (generation), the gold choice
(multiple choice) or the text (perplexity) the continuation.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tools.errors import BadInput

HELD_OUT = "test"
TaskRefs = list[str] | dict[str, str | list[str]]


class Calibration(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    tasks: TaskRefs = Field(description="task names or task spec files; or model -> task(s)")
    split: str = Field("search", description="the split whose records calibrate (never test)")
    examples: int = Field(128, ge=1, description="records per task (the first N of the split)")
    batch_size: int = Field(16, ge=1, description="sequences per forward pass")

    @field_validator("split")
    @classmethod
    def _not_held_out(cls, split: str) -> str:
        if split == HELD_OUT:
            raise ValueError("the test split is held out for reporting and never calibrates a merge; use split: search")
        return split

    @field_validator("tasks")
    @classmethod
    def _not_empty(cls, tasks: TaskRefs) -> TaskRefs:
        lists = [tasks] if isinstance(tasks, list) else [[v] if isinstance(v, str) else v for v in tasks.values()]
        if not tasks or any(not refs for refs in lists):
            raise ValueError("name at least one task (for every model, in the mapping form)")
        return tasks

    def references(self) -> list[str]:
        """Every task reference, in first-mention order."""
        if isinstance(self.tasks, list):
            return list(dict.fromkeys(self.tasks))
        refs = [r for v in self.tasks.values() for r in ([v] if isinstance(v, str) else v)]
        return list(dict.fromkeys(refs))

    def tasks_of(self, model: str) -> tuple[str, ...]:
        """The task references model `model` is calibrated on."""
        if isinstance(self.tasks, list):
            return tuple(dict.fromkeys(self.tasks))
        if model not in self.tasks:
            raise BadInput(f"field calibration.tasks: names no task for model {model!r} (give every merged model its tasks, or use a list)")
        refs = self.tasks[model]
        return (refs,) if isinstance(refs, str) else tuple(dict.fromkeys(refs))

    def key(self) -> str:
        """What identifies the data (for caches of statistics)."""
        return self.model_dump_json()


def resolve_tasks(calibration: Calibration, known: Mapping[str, object]) -> dict[str, object]:
    """Reference -> tools.evaluate Task: a name from `known` (a workspace's tasks), else a spec file."""
    from tools.evaluate.suite import Task, load_task_file

    resolved = {}
    for ref in calibration.references():
        if ref in known:
            task = known[ref]
        else:
            path = Path(ref).expanduser().resolve()
            if not path.is_file():
                names = ", ".join(known) or "none: not in a workspace"
                raise BadInput(f"field calibration.tasks: {ref!r} is neither a task of the workspace (tasks: {names}) nor a task spec file")
            task = Task(load_task_file(path), 1.0, path.parent)
        _check_split(task, ref, calibration.split)
        resolved[ref] = task
    return resolved


def _check_split(task, ref: str, split: str) -> None:
    if split not in task.spec.data:
        raise BadInput(f"field calibration.split: task {ref!r} has no {split!r} split (splits: {', '.join(task.spec.data)})")
