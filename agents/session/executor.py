"""The session's view of the sandbox runner: jobs in flight by candidate, results attached as they end.

Slots are the GPUs jobs may use (`sandbox.scheduler.detect_gpus`), else `sandbox.cpu_concurrency`.
The runner (`sandbox.scheduler.Scheduler`) owns execution: merge jobs on the slot's resident
merge worker (on the ray backend, a resident actor on a
cluster node: `sandbox.ray_pool.RayResidentPool`), code jobs in a fresh sandbox. `start(candidate, job)` hands a job over and returns
at once; its result is attached to the archive the moment the job ends (in the job's thread),
so a kill afterwards never runs it again. `wait()` returns the candidates finished since the
last call, blocking until one is when asked to. A backend failure that is not the job's own
(the sandbox could not start) is raised by `wait()`: the candidate stays `running` and the next
`clade run --resume` runs it again. Closing with `cancel` (Ctrl-C) attaches nothing more.
"""

from __future__ import annotations

import queue
from collections.abc import Callable

from agents.config import Workspace
from agents.jobs import merge_job, source_recipe
from archive.record import Candidate
from sandbox.job import Job, Result
from tools.evaluate.spec import EvaluationConfig


def build_job(
    workspace: Workspace,
    candidate: Candidate,
    *,
    split: str,
    seed: int,
    gpus: int,
    evaluation: EvaluationConfig | None = None,
    archive=None,
) -> Job:
    """The sandbox job that measures `candidate` on `split`; `evaluation`: the session's evaluation configuration;
    `archive`: resolves the merged candidates a recipe names as models."""
    if candidate.kind == "merge":
        return merge_job(
            workspace, candidate.id, candidate.genotype.recipe, split=split, seed=seed, gpus=gpus, evaluation=evaluation, archive=archive
        )
    if candidate.kind == "source" and workspace.config.code is None:
        return merge_job(
            workspace, candidate.id, source_recipe(candidate.genotype.name), split=split, seed=seed, gpus=gpus, evaluation=evaluation
        )
    from agents.code.jobs import code_job

    return code_job(workspace, candidate.id, candidate.genotype.files, split=split, seed=seed, gpus=gpus)


class Executor:
    """Candidates' jobs on the runner: `start` (returns at once), `wait` (finished ones), `run` (a batch)."""

    def __init__(self, scheduler):
        self.scheduler, self.slots, self.gpus = scheduler, scheduler.size, scheduler.gpus
        self.in_flight: set[str] = set()
        self._finished: queue.Queue = queue.Queue()
        self._closing = False

    def free(self) -> int:
        """Slots with no job of this session in them."""
        return self.slots - len(self.in_flight)

    def start(self, cid: str, job: Job, on_result: Callable[[str, Result], None]) -> None:
        """Run `job` for candidate `cid`; `on_result(cid, result)` runs as soon as it ends (not after a cancel)."""
        self.in_flight.add(cid)

        def done(future) -> None:
            error = future.exception() if not future.cancelled() else None
            if error is None and not future.cancelled() and not self._closing:
                try:
                    on_result(cid, future.result())
                except BaseException as exc:  # noqa: BLE001 (handed to the session thread by wait(), raised there)
                    error = exc
            self._finished.put((cid, error))

        self.scheduler.submit(job).add_done_callback(done)

    def wait(self, *, block: bool) -> list[str]:
        """Candidates whose jobs ended since the last call (at least one when `block` and any is in flight)."""
        ended = []
        if block and self.in_flight:
            ended.append(self._finished.get())
        while True:
            try:
                ended.append(self._finished.get_nowait())
            except queue.Empty:
                break
        for cid, _ in ended:
            self.in_flight.discard(cid)
        for _, error in ended:
            if error is not None:
                raise error
        return [cid for cid, _ in ended]

    def run(self, jobs: list[Job], on_done: Callable[[Result], None] | None = None) -> dict[str, Result]:
        """A batch (sources, the held-out measurement): every job within the slots, results by job id."""
        return self.scheduler.run(jobs, on_done)

    def close(self, *, cancel: bool = False) -> None:
        """Stop the runner; with `cancel` (Ctrl-C) kill the jobs in flight instead of waiting for them."""
        self._closing = self._closing or cancel
        self.scheduler.close(cancel=cancel)


def make_executor(workspace: Workspace, backend) -> Executor:
    """The executor for `workspace` on `backend` (a real backend or sandbox.fake.FakeSandbox)."""
    from sandbox.scheduler import Scheduler

    code = workspace.config.code is not None
    root = None if code else workspace.root / ".clade" / "workers"  # resident merge workers (code jobs never use them)
    return Executor(Scheduler.for_config(workspace.config.sandbox, backend, resident_root=root))
