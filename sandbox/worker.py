"""The worker: the one entry point every backend runs inside its isolation.

    python -m sandbox.worker JOB_DIR

It reads JOB_DIR/job.json, materializes the job's work (a merge recipe through
tools.merge.api, a copy of the code tree with the candidate's files written over it, or an
empty directory for a bare command), evaluates it (the suite the job carries through
tools.evaluate.api, or the evaluation command, or the command itself) and writes
JOB_DIR/result.json. Any failure of the work becomes a `failed` result whose reason names what
went wrong; the traceback goes to stderr, which the sandbox keeps (truncated) in the result.
The worker exits 0 whenever it wrote a result. A job.json that is not a valid job (unknown
`work.kind`, a missing recipe, an `argv` that is not a list, a field the contract does not have)
is bad input: one line on stderr naming the field, exit code 2, nothing written.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from sandbox.job import (
    JOB_FILE,
    RESULT_FILE,
    CodeWork,
    CommandWork,
    Job,
    Result,
    Timings,
    read_job,
    write_json_atomic,
)
from tools.errors import BadInput
from tools.evaluate.result import EvalResult

WORK_DIR = "work"  # JOB_DIR/work: where a code or command job runs


def device_for(job: Job) -> str:
    """'cuda' when the job was given a GPU and torch sees it, else 'cpu'."""
    if job.device.gpus == 0 or not os.environ.get("CUDA_VISIBLE_DEVICES"):
        return "cpu"
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def materialize_code(code: CodeWork, work_dir: Path) -> Path:
    """Copy the parent tree to `work_dir` and write the candidate's files over it."""
    shutil.copytree(code.tree, work_dir, symlinks=True)
    for relative, content in code.files.items():
        target = (work_dir / relative).resolve()
        if not target.is_relative_to(work_dir.resolve()):
            raise BadInput(f"job work.files: {relative!r} points outside the work tree; use a relative path inside it")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
    return work_dir


def run_command(job: Job, work_dir: Path) -> dict[str, Any]:
    from tools.evaluate.api import run_command_evaluator

    argv = job.work.argv if isinstance(job.work, CommandWork) else job.evaluation.command
    if not argv:
        raise BadInput(f"job {job.id}: a code job needs evaluation.command (the command that measures its tree)")
    timeout = job.evaluation.timeout_s or job.limits.wall_s
    return dict(run_command_evaluator(list(argv), work_dir, timeout_s=timeout))


def merge_and_evaluate(job: Job, device: str, timings: Timings) -> tuple[Any, dict[str, Any]]:
    from sandbox.merge_job import merge_and_evaluate as run

    return run(job, device, timings)


def fitness_of(metrics: dict[str, Any], key: str) -> float:
    value = metrics.get(key)
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise BadInput(
            f"the evaluation printed no numeric {key!r} in its metrics {sorted(metrics)}; print it in the last stdout line's JSON object"
        )
    return float(value)


def run_job(job: Job, job_dir: Path) -> Result:
    device, timings = device_for(job), Timings()
    if job.kind == "merge":
        evaluated, metrics = merge_and_evaluate(job, device, timings)
        return Result(
            job_id=job.id, status="ok", fitness=evaluated.fitness, evaluation=evaluated, metrics=metrics, timings=timings, device=device
        )
    start = time.monotonic()
    work_dir = job_dir / WORK_DIR
    if isinstance(job.work, CodeWork):
        materialize_code(job.work, work_dir)
    else:
        work_dir.mkdir(exist_ok=True)
    timings.materialize_s = time.monotonic() - start
    metrics = run_command(job, work_dir)
    timings.evaluate_s = time.monotonic() - start - timings.materialize_s
    fitness = fitness_of(metrics, job.evaluation.fitness_key)
    return Result(
        job_id=job.id,
        status="ok",
        fitness=fitness,
        evaluation=command_evaluation(metrics, fitness, job.evaluation.split),
        metrics=metrics,
        timings=timings,
        device=device,
    )


def command_evaluation(metrics: dict[str, Any], fitness: float, split: str) -> EvalResult:
    """A command's printed metrics as the typed evaluation: its numbers under the one task `command`."""
    flat = {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    return EvalResult(fitness=fitness, split=split, tasks={"command": flat} if flat else {})


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m sandbox.worker JOB_DIR", file=sys.stderr)
        return 2
    job_dir = Path(argv[0]).resolve()
    try:
        job = read_job(job_dir / JOB_FILE)
    except BadInput as exc:  # not a job: nothing to run, nothing written
        print(f"clade worker: {exc}", file=sys.stderr)
        return 2
    try:
        result = run_job(job, job_dir)
    except Exception as exc:  # recorded as the job's failure, with the traceback on stderr
        sys.stdout.write(getattr(exc, "stdout", ""))  # the evaluated command's own output, if any
        sys.stderr.write(getattr(exc, "stderr", ""))
        traceback.print_exc()
        result = Result(job_id=job.id, status="failed", reason=f"{type(exc).__name__}: {exc}")
    write_json_atomic(job_dir / RESULT_FILE, result)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
