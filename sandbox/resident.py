"""The host side of the resident merge worker: `ResidentPool.execute(job) -> Result`.

A merge candidate is data (a recipe), not code, so one long-lived sandboxed worker per
device can serve them all while keeping the sources, the tensors already read, the loaded
suite and the tokenizer in memory (sandbox/resident_worker.py). Each worker runs under the
backend's ordinary `run(...)`: the same isolation as a one-shot job, with the limits of the
job that started it except the wall clock (`worker_wall_s`, large) and CPU seconds (not
enforced: they would add up over jobs). Per job:
- the job's `limits.wall_s` is enforced here: no result in time -> the worker is cancelled
  (a `cancel` file, which the backend's watch loop obeys) and the job gets `timeout`;
- a worker that dies (OOM kill, crash, output flood) gives the job in flight a `failed` or
  `killed` result carrying the backend's reason and the stderr tail;
- either way the next job starts a fresh worker.
Code and command jobs are never served by a resident worker: `execute` runs them through
`backend.execute` (a fresh sandbox), in the same slots.

Slots mirror the scheduler's: one worker per GPU for jobs asking for a GPU (when the machine
has any), and `config.cpu_concurrency` CPU workers. A worker serves a job when the job's
read-only paths lie inside those it was started with and its other limits are the same;
otherwise that slot's worker is stopped and a new one started. Workers start lazily.
"""

from __future__ import annotations

import itertools
import os
import sys
import threading
import time
from pathlib import Path

from sandbox.config import Limits, SandboxConfig
from sandbox.isolation import REPO_ROOT
from sandbox.job import Job, Result
from sandbox.monitor import CANCEL
from sandbox.resident_worker import (
    HEARTBEAT,
    INBOX,
    OUTBOX,
    SETTINGS,
    STOP,
    ServiceSettings,
)
from sandbox.runner import check_inputs, head_and_tail
from tools.errors import BadInput, CladeError

DEFAULT_WORKER_WALL_S = 7 * 24 * 3600.0
STOP_WAIT_S = 30.0
WAIT_POLL_S = 0.02
_SERIAL = itertools.count(1)  # service directories are unique per process, whatever the pool


def worker_command(backend, service_dir: Path) -> tuple[list[str], dict[str, str]]:
    """argv and extra environment that start the resident worker the way the backend starts its worker."""
    python = backend.python()
    env = {"PYTHONPATH": str(REPO_ROOT)} if python == sys.executable else {}
    return [python, "-m", "sandbox.resident_worker", str(service_dir)], env


def worker_limits(limits: Limits, wall_s: float) -> Limits:
    return limits.model_copy(update={"wall_s": wall_s, "cpu_s": None})


def write_job(path: Path, job: Job) -> None:
    """Write the job atomically, readable by the container's user (mkstemp would make it 0600)."""
    tmp = path.parent / f".{path.name}.{os.getpid()}.{threading.get_ident()}"
    tmp.write_text(job.model_dump_json(), encoding="utf-8")
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


class Worker:
    """One resident worker process, run by `backend.run` in a background thread."""

    def __init__(self, service_dir: Path, read_only: list[str], limits: Limits, gpus: list[int], writable: list[str] | None = None):
        self.dir, self.read_only, self.limits, self.gpus = service_dir, read_only, limits, gpus
        self.writable = writable or []  # the merge cache, for jobs with derived models
        self.outcome, self.error, self.thread = None, None, None

    def start(self, backend, settings: ServiceSettings) -> None:
        for sub in (INBOX, OUTBOX):
            (self.dir / sub).mkdir(parents=True)
        (self.dir / SETTINGS).write_text(settings.model_dump_json(), encoding="utf-8")
        self.beat()
        argv, env = worker_command(backend, self.dir)
        self.thread = threading.Thread(target=self._run, args=(backend, argv, env), daemon=True, name=f"clade-{self.dir.name}")
        self.thread.start()

    def _run(self, backend, argv: list[str], env: dict[str, str]) -> None:
        try:
            extra = {"writable": self.writable} if self.writable else {}
            self.outcome = backend.run(
                argv, self.dir, self.limits, read_only=self.read_only, gpus=self.gpus or None, extra_env=env, **extra
            )
        except BaseException as exc:  # handed to the caller waiting on this worker
            self.error = exc

    def alive(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def serves(self, job: Job) -> bool:
        if not self.alive() or worker_limits(job.limits, self.limits.wall_s) != self.limits:
            return False
        if not set(job.writable_paths()) <= set(self.writable):
            return False
        return all(any(Path(p).is_relative_to(r) for r in self.read_only) for p in job.read_only_paths())

    def beat(self) -> None:
        try:
            (self.dir / HEARTBEAT).touch()
        except FileNotFoundError:
            pass

    def submit(self, job: Job) -> None:
        write_job(self.dir / INBOX / f"{job.id}.json", job)

    def answer(self, job: Job) -> Result | None:
        """The worker's result for `job` once it has written one (taken out of the outbox)."""
        path = self.dir / OUTBOX / f"{job.id}.json"
        if not path.exists():
            return None
        try:
            result = Result.model_validate_json(path.read_bytes())
        except ValueError as exc:
            result = Result(
                job_id=job.id, status="failed", reason=f"the resident worker wrote an invalid result ({str(exc).splitlines()[0]})"
            )
        path.unlink()
        return result

    def signal(self, name: str) -> None:
        (self.dir / name).touch()

    def stop(self, wait_s: float) -> None:
        """Ask the worker to exit between jobs; cancel it if it has not within `wait_s`."""
        if self.alive():
            self.signal(STOP)
            self.thread.join(wait_s)
        if self.alive():
            self.cancel()

    def cancel(self) -> None:
        self.signal(CANCEL)
        self.thread.join()


class _Slot:
    def __init__(self, name: str, gpus: list[int]):
        self.name, self.gpus, self.worker, self.busy = name, gpus, None, False


class ResidentPool:
    """Merge jobs through resident workers, one per slot; thread-safe; `close()` stops them all."""

    def __init__(
        self,
        backend,
        config: SandboxConfig,
        gpus: list[int],
        root: Path,
        *,
        settings: ServiceSettings | None = None,
        worker_wall_s: float = DEFAULT_WORKER_WALL_S,
    ):
        if not backend.runs_resident:
            raise BadInput("clade.yaml sandbox.backend: the resident merge worker runs on this machine; use backend local or docker")
        self.backend, self.root, self.worker_wall_s = backend, Path(root).resolve(), worker_wall_s
        self.settings, self.name = settings or ServiceSettings(), f"{backend.name}+resident"
        self.slots = [_Slot(f"gpu{g}", [g]) for g in gpus] + [_Slot(f"cpu{i}", []) for i in range(config.cpu_concurrency)]
        self._ready, self._closed, self._cancelling = threading.Condition(), False, False
        self._stopping = threading.Event()
        self._beats = threading.Thread(target=self._beat_loop, daemon=True, name="clade-resident-heartbeat")
        self._beats.start()

    def execute(self, job: Job) -> Result:
        """Run `job` (blocks until its result); never raises for the job's own failure."""
        slot = self._take(job)
        try:
            if job.kind != "merge":  # code candidates always get a fresh sandbox
                return self.backend.execute(job, gpus=slot.gpus or None)
            return self._serve(slot, job)
        finally:
            with self._ready:
                slot.busy = False
                self._ready.notify_all()

    def close(self, *, cancel: bool = False) -> None:
        """Stop every worker; waits for jobs in flight, or with `cancel` kills them (their result: `killed`)."""
        with self._ready:
            self._closed, self._cancelling = True, self._cancelling or cancel
            self._ready.notify_all()
        with self._ready:
            self._ready.wait_for(lambda: not any(s.busy for s in self.slots))
        for slot in self.slots:
            self._retire(slot)
        self._stopping.set()
        self._beats.join()

    def __enter__(self) -> ResidentPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _take(self, job: Job) -> _Slot:
        with self._ready:
            self._ready.wait_for(lambda: self._closed or self._free_slot(job) is not None)
            if self._closed:
                raise CladeError(f"job {job.id}: the resident pool is closed; make a new ResidentPool")
            slot = self._free_slot(job)
            slot.busy = True
            return slot

    def _free_slot(self, job: Job) -> _Slot | None:
        """A free slot of the job's kind: one whose worker serves it as it is, else one with no live
        worker, else any (its worker, started for other inputs or limits, is then replaced)."""
        wants_gpu = job.device.gpus > 0 and any(s.gpus for s in self.slots)
        free = [s for s in self.slots if not s.busy and bool(s.gpus) == wants_gpu]
        ready = [s for s in free if s.worker is not None and s.worker.serves(job)]
        empty = [s for s in free if s.worker is None or not s.worker.alive()]
        return (ready or empty or free or [None])[0]

    def _serve(self, slot: _Slot, job: Job) -> Result:
        check_inputs(job.read_only_paths())
        worker = self._worker_for(slot, job)
        started = time.monotonic()
        worker.submit(job)
        result = self._await(slot, worker, job, started + job.limits.wall_s)
        result.timings.total_s = round(time.monotonic() - started, 4)
        result.job_id, result.backend = job.id, self.name
        return result

    def _worker_for(self, slot: _Slot, job: Job) -> Worker:
        if slot.worker is not None and slot.worker.serves(job):
            return slot.worker
        self._retire(slot)
        limits = worker_limits(job.limits, self.worker_wall_s)
        slot.worker = Worker(
            self.root / f"{slot.name}-{os.getpid()}-{next(_SERIAL)}", job.read_only_paths(), limits, slot.gpus, job.writable_paths()
        )
        slot.worker.start(self.backend, self.settings)
        return slot.worker

    def _await(self, slot: _Slot, worker: Worker, job: Job, deadline: float) -> Result:
        while True:
            result = worker.answer(job)
            if result is not None:
                return result
            if not worker.alive():
                return worker.answer(job) or self._died(slot, worker, job)
            if self._cancelling or time.monotonic() >= deadline:
                return self._abandon(slot, worker, job)
            time.sleep(WAIT_POLL_S)

    def _died(self, slot: _Slot, worker: Worker, job: Job) -> Result:
        slot.worker = None
        if worker.error is not None:  # the backend refused to start it (bad input, no engine): not the job's failure
            raise worker.error
        outcome = worker.outcome
        return _from_outcome(
            job,
            "failed" if outcome.status == "ok" else outcome.status,
            f"the resident worker ended while serving this job: {outcome.reason}; the next job starts a fresh worker",
            outcome,
        )

    def _abandon(self, slot: _Slot, worker: Worker, job: Job) -> Result:
        """Cancel the worker serving `job`: past the job's deadline, or because the pool is closing."""
        worker.cancel()
        slot.worker = None
        if self._cancelling:
            return _from_outcome(job, "killed", "cancelled by the host: the resident pool was closed with cancel=True", worker.outcome)
        reason = (
            f"exceeded the wall-clock limit of {job.limits.wall_s:g} s; cancelled the resident worker (the next job starts a fresh one)"
        )
        return _from_outcome(job, "timeout", reason, worker.outcome)

    def _retire(self, slot: _Slot) -> None:
        if slot.worker is not None:
            slot.worker.stop(STOP_WAIT_S)
            slot.worker = None

    def _beat_loop(self) -> None:
        while not self._stopping.wait(self.settings.heartbeat_s):
            for slot in self.slots:
                worker = slot.worker
                if worker is not None:
                    worker.beat()


def _from_outcome(job: Job, status: str, reason: str, outcome) -> Result:
    if outcome is None:
        return Result(job_id=job.id, status=status, reason=reason)
    (stdout, cut_out), (stderr, cut_err) = head_and_tail(outcome.stdout), head_and_tail(outcome.stderr)
    return Result(
        job_id=job.id,
        status=status,
        reason=reason,
        exit_code=outcome.exit_code,
        stdout=stdout,
        stderr=stderr,
        truncated=outcome.truncated or cut_out or cut_err,
        peak_memory_mb=outcome.peak_memory_mb,
    )
