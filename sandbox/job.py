"""The job contract: `job.json` in, `result.json` out (job schema version 2, result 1).

A job is everything the worker needs, with no reference to the host's state: the typed
work (`MergeWork`, `CodeWork` or `CommandWork`, told apart by `kind`), the paths of the source
models (mounted read-only), the evaluation configuration itself, the limits, the device
request and the seed. A result is what came back, failures included, with the failure reason
in words and, when it ran, the typed evaluation (`tools.evaluate.result.EvalResult`: fitness,
task -> metric -> value, stage, examples). The planner builds `Job`s; every backend returns
`Result`s; `read_job` is how a worker reads one (a bad field named as written, `work.recipe`).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from sandbox.config import Limits
from tools.errors import BadInput, describe_validation_error
from tools.evaluate.result import EvalResult
from tools.evaluate.spec import EvaluationConfig

JOB_SCHEMA_VERSION = 2  # 2: the typed `work` replaced `kind` + `genotype`
RESULT_SCHEMA_VERSION = 1
JOB_FILE = "job.json"
RESULT_FILE = "result.json"
ResultStatus = Literal["ok", "failed", "timeout", "killed"]


class DerivedModel(BaseModel):
    """A model the recipe names that is itself a merge (an archived candidate, `candidate:<id>`): the worker
    materialises `recipe` over the job's `models` once into the job's `cache` under `key` (tools/merge/cache.py)."""

    model_config = ConfigDict(extra="forbid")
    recipe: dict[str, Any]
    key: str = Field(pattern=r"^[0-9a-f]{64}$", description="the content address: tools.merge.cache.cache_key")
    seed: int = 0


class MergeWork(BaseModel):
    """A merge candidate: its recipe, a mergekit-style mapping the merge engine checks in the worker."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["merge"] = "merge"
    recipe: dict[str, Any]
    derived: dict[str, DerivedModel] = Field(default_factory=dict, description="model name -> a merge to materialise in `cache` first")


class CodeWork(BaseModel):
    """A code candidate: a tree, plus whole files that replace or add to it; run with `evaluation.command`."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["code"] = "code"
    tree: str = Field(description="directory holding the parent's tree (mounted read-only, copied into the job)")
    files: dict[str, str] = Field(default_factory=dict, description="relative path -> new content")


class CommandWork(BaseModel):
    """A bare command, run in an empty work directory; its last stdout line is its JSON metrics."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["command"] = "command"
    argv: list[str] = Field(min_length=1)


Work = Annotated[MergeWork | CodeWork | CommandWork, Field(discriminator="kind")]
WorkKind = Literal["merge", "code", "command"]
WORK_KINDS = frozenset(get_args(WorkKind))


class EvaluationSpec(BaseModel):
    """How the worker measures the candidate: the evaluation configuration itself, never a path to re-read.

    Merge jobs: `suite`, the workspace's `evaluation:` section as the session started with it,
    every task inline and every data file an absolute path (the data is mounted read-only).
    Code jobs: `command`, run in the job's work tree; its last stdout line is a
    JSON object of metrics, and `fitness_key` names the one that is the fitness.
    """

    model_config = ConfigDict(extra="forbid")
    suite: EvaluationConfig | None = None
    split: str = "search"
    command: list[str] | None = None
    timeout_s: float | None = Field(default=None, gt=0)
    fitness_key: str = "fitness"


class DeviceRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    gpus: int = Field(0, ge=0, le=1, description="0: CPU job; 1: one whole GPU")


class Job(BaseModel):
    """One candidate's measurement: its work, read-only inputs, evaluation, limits, device and seed."""

    model_config = ConfigDict(extra="forbid")
    schema_version: Literal[2] = JOB_SCHEMA_VERSION
    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
    work: Work
    models: dict[str, str] = Field(default_factory=dict, description="source name -> model directory (read-only)")
    evaluation: EvaluationSpec = Field(default_factory=EvaluationSpec)
    limits: Limits = Field(default_factory=Limits)
    device: DeviceRequest = Field(default_factory=DeviceRequest)
    seed: int = 0
    cache: str | None = Field(None, description="directory derived merges are materialised in (mounted read-write)")

    @property
    def kind(self) -> WorkKind:
        return self.work.kind

    @model_validator(mode="after")
    def _absolute_inputs(self):
        """Inputs are host paths seen from inside the sandbox at the same place: they must be absolute."""
        named = {f"models.{k}": v for k, v in self.models.items()}
        named["work.tree"] = self.work.tree if isinstance(self.work, CodeWork) else None
        named["cache"] = self.cache
        if isinstance(self.work, MergeWork) and self.work.derived and self.cache is None:
            raise ValueError(f"work.derived names {', '.join(self.work.derived)}; a job with derived models needs `cache`")
        for i, task in enumerate(self.evaluation.suite.tasks if self.evaluation.suite else []):
            if isinstance(task, str):
                raise ValueError(f"evaluation.suite.tasks[{i}] is the file name {task!r}; the job carries the task spec itself")  # noqa: TRY004 (pydantic wants ValueError)
            named.update({f"evaluation.suite.tasks[{i}].data.{split}": path for split, path in task.data.items()})
        for field, path in named.items():
            if path is not None and not Path(str(path)).is_absolute():
                raise ValueError(f"{field} is {path!r}; give an absolute path")
        return self

    def read_only_paths(self) -> list[str]:
        """Host paths the job reads: source models, the parent tree, the folders of the evaluation's data files."""
        paths = list(self.models.values())
        if isinstance(self.work, CodeWork):
            paths.append(self.work.tree)
        for task in self.evaluation.suite.tasks if self.evaluation.suite else []:
            paths += [str(Path(path).parent) for path in task.data.values()]
        return sorted({str(Path(p).resolve()) for p in paths})

    def writable_paths(self) -> list[str]:
        """Host paths the job may write besides its job directory: the merge cache, when it has derived models."""
        return [str(Path(self.cache).resolve())] if self.cache and isinstance(self.work, MergeWork) and self.work.derived else []


class Timings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    materialize_s: float = 0.0
    evaluate_s: float = 0.0
    total_s: float = 0.0


class Result(BaseModel):
    model_config = ConfigDict(extra="forbid")
    schema_version: Literal[1] = RESULT_SCHEMA_VERSION
    job_id: str
    status: ResultStatus
    fitness: float | None = None
    evaluation: EvalResult | None = Field(default=None, description="the typed measurement: fitness, per task and metric, stage, examples")
    metrics: dict[str, Any] = Field(default_factory=dict, description="everything the evaluation printed (a command's own keys)")
    timings: Timings = Field(default_factory=Timings)
    peak_memory_mb: float | None = None
    device: str = "cpu"
    exit_code: int | None = None
    stdout: str = ""
    stderr: str = ""
    truncated: bool = False
    reason: str = ""
    backend: str = ""


def write_json_atomic(path: Path, model: BaseModel) -> None:
    """Write a model as JSON to `path` through a temporary file and a rename."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(model.model_dump_json(indent=2))
    os.replace(tmp, path)


def read_model(path: Path, cls: type[BaseModel], tags: dict[str, frozenset[str]] | None = None) -> Any:
    """Load and validate a JSON file; BadInput names the file and the first bad field (`tags`: see describe_validation_error)."""
    try:
        return cls.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise BadInput(f"{path}: no such file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadInput(f"{path}: not valid JSON ({exc})") from None
    except ValidationError as exc:
        raise BadInput(f"{path}: {describe_validation_error(exc, tags=tags or {})}") from None


def read_job(path: Path) -> Job:
    """A job.json; a bad field is named as written (`work.recipe`, not pydantic's `work.merge.recipe`)."""
    return read_model(path, Job, tags={"work": WORK_KINDS})
