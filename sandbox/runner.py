"""The host side of the job contract, shared by every backend.

`prepare` makes the job directory and writes job.json; the backend runs the worker there
under its isolation; `finish` reads what the worker wrote, folds in what the sandbox saw
(limit breaches, exit status, logs, peak memory) and writes the final result.json.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from pathlib import Path

from pydantic import ValidationError

from sandbox.job import JOB_FILE, RESULT_FILE, Job, Result, Timings, write_json_atomic
from sandbox.outcome import RunOutcome
from tools.errors import BadInput

WORKER_MODULE = "sandbox.worker"
RESULT_LOG_CHARS = 8000  # of each log kept in result.json: the head and the tail, half each


def head_and_tail(text: str, keep: int = RESULT_LOG_CHARS) -> tuple[str, bool]:
    """`text` cut to its first and last keep/2 characters, with a marker saying how much went."""
    if len(text) <= keep:
        return text, False
    half = keep // 2
    return f"{text[:half]}\n[... clade cut {len(text) - keep} characters ...]\n{text[-half:]}", True


def jobs_root(configured: str | None) -> Path:
    """The directory job directories go in: the configured one, or a fresh temporary one."""
    if configured:
        root = Path(configured).expanduser().resolve()
        root.mkdir(parents=True, exist_ok=True)
        return root
    return Path(tempfile.mkdtemp(prefix="clade-jobs-"))


class JobsRoot:
    """A backend's job directory root: made once on first use, whichever thread comes first (two
    concurrent first jobs share it, so a cancel finds both); `close()` removes a temporary one
    (a configured `jobs_dir` is the user's and stays)."""

    def __init__(self, configured: str | None):
        self.configured, self._path, self._lock = configured, None, threading.Lock()

    def get(self) -> Path:
        with self._lock:
            if self._path is None:
                self._path = jobs_root(self.configured)
            return self._path

    def job_dir(self, job_id: str) -> Path | None:
        """The directory of `job_id` when it exists (the job ran or runs here), else None."""
        path = self._path
        return path / job_id if path is not None and (path / job_id).is_dir() else None

    def close(self) -> None:
        with self._lock:
            path, self._path = self._path, None
        if path is not None and not self.configured:
            shutil.rmtree(path, ignore_errors=True)


def prepare(job: Job, root: Path) -> Path:
    """A fresh, empty directory for `job` holding job.json (an earlier run's is replaced)."""
    job_dir = (root / job.id).resolve()
    if job_dir.exists():
        shutil.rmtree(job_dir)
    job_dir.mkdir(parents=True)
    write_json_atomic(job_dir / JOB_FILE, job)
    return job_dir


def check_inputs(paths) -> None:
    """Every read-only input of a job exists (a missing model directory is the caller's to fix)."""
    for path in paths:
        if not Path(path).exists():
            raise BadInput(
                f"{path}: no such file or directory (a model, tree or workspace the job reads); fix the path in clade.yaml or the job"
            )


def worker_argv(python: str, job_dir: Path) -> list[str]:
    return [python, "-m", WORKER_MODULE, str(job_dir)]


def _inner_result(job_dir: Path) -> tuple[Result | None, str]:
    path = job_dir / RESULT_FILE
    if not path.is_file():
        return None, "the worker ended without writing result.json"
    try:
        return Result.model_validate_json(path.read_bytes()), ""
    except (ValidationError, ValueError) as exc:
        return None, f"result.json written in the job is not a valid result ({str(exc).splitlines()[0]})"


def finish(job: Job, job_dir: Path, outcome: RunOutcome) -> Result:
    """The final result: the worker's own, overruled by the sandbox's verdict when it broke a limit."""
    inner, problem = _inner_result(job_dir)
    said = outcome.stderr.strip().splitlines()[-1:] if inner is None else []
    problem += f" (the last line of its stderr: {said[0][:300]})" if said and problem else ""
    result = inner.model_copy() if inner is not None else Result(job_id=job.id, status="failed", reason=problem)
    if outcome.status != "ok" or inner is None:
        result.status = outcome.status if outcome.status != "ok" else "failed"
        parts = (problem, inner.reason if inner is not None and inner.status != "ok" else "", outcome.reason)
        result.reason = "; ".join(p for p in parts if p)
        result.fitness = None
    result.job_id, result.exit_code, result.backend = job.id, outcome.exit_code, outcome.backend
    (result.stdout, cut_out), (result.stderr, cut_err) = head_and_tail(outcome.stdout), head_and_tail(outcome.stderr)
    result.truncated = outcome.truncated or cut_out or cut_err
    result.peak_memory_mb = outcome.peak_memory_mb
    result.timings = Timings(materialize_s=result.timings.materialize_s, evaluate_s=result.timings.evaluate_s, total_s=outcome.wall_s)
    write_json_atomic(job_dir / RESULT_FILE, result)
    return result
