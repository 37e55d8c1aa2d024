"""Running a batch of candidates' jobs in parallel, up to the machine's slots.

Slots are the GPUs jobs may use (`sandbox.scheduler.detect_gpus`), else
`sandbox.cpu_concurrency`. Merge jobs go to the long-lived sandboxed merge worker per device
(`sandbox.resident.ResidentPool`; on the ray backend `sandbox.ray_pool.RayResidentPool`, one
slot per resident actor on the cluster) when one is given; code jobs (and merge jobs without a
resident pool) get a fresh sandbox each, through the scheduler. A backend failure that is
not the job's own (the sandbox could not start) propagates: the candidates stay `running`
and the next `clade run --resume` runs them again.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from agents.config import Workspace
from agents.jobs import merge_job, source_recipe
from archive.record import Candidate
from sandbox.job import Job, Result


def build_job(workspace: Workspace, candidate: Candidate, *, split: str, seed: int, gpus: int) -> Job:
    """The sandbox job that measures `candidate` on `split`."""
    if candidate.kind == "merge":
        return merge_job(workspace, candidate.id, candidate.genotype.recipe, split=split, seed=seed, gpus=gpus)
    if candidate.kind == "source" and workspace.config.code is None:
        return merge_job(workspace, candidate.id, source_recipe(candidate.genotype.name), split=split, seed=seed, gpus=gpus)
    from agents.code.jobs import code_job

    return code_job(workspace, candidate.id, candidate.genotype.files, split=split, seed=seed, gpus=gpus)


class Executor:
    """`run(jobs) -> {job id: Result}`: one batch, every job in parallel within the slots."""

    def __init__(self, scheduler: Any, *, slots: int, gpus: list[int], resident: Any = None):
        self.scheduler, self.slots, self.gpus, self.resident = scheduler, slots, gpus, resident
        self._merge_pool = ThreadPoolExecutor(max_workers=slots) if resident is not None else None

    def run(self, jobs: list[Job], on_done: Callable[[Result], None] | None = None) -> dict[str, Result]:
        futures = [self._submit(job) for job in jobs]
        results = {}
        for future in futures:
            result = future.result()
            results[result.job_id] = result
            if on_done is not None:
                on_done(result)
        return results

    def _submit(self, job: Job) -> Future:
        if job.kind == "merge" and self._merge_pool is not None:
            return self._merge_pool.submit(self.resident.execute, job)
        return self.scheduler.submit(job)

    def close(self, *, cancel: bool = False) -> None:
        """Stop the workers; with `cancel` (Ctrl-C) kill the jobs in flight instead of waiting for them."""
        if self.resident is not None:
            self.resident.close(cancel=cancel)
        if self._merge_pool is not None:
            self._merge_pool.shutdown(wait=not cancel, cancel_futures=cancel)
        self.scheduler.close(cancel=cancel)


def make_executor(workspace: Workspace, backend: Any, *, resident: bool = True) -> Executor:
    """The executor for `workspace` on `backend` (a real backend or sandbox.fake.FakeSandbox)."""
    from sandbox.scheduler import Scheduler, detect_gpus

    config = workspace.config.sandbox
    gpus = [] if getattr(backend, "name", "") == "ray" else detect_gpus(config.gpus, os.environ)
    scheduler = Scheduler(backend, gpus, config.cpu_concurrency)
    pool = _resident_pool(workspace, backend, gpus) if resident and workspace.config.code is None else None
    slots = getattr(pool, "size", None) or len(gpus) or config.cpu_concurrency  # Ray: one slot per resident actor
    return Executor(scheduler, slots=slots, gpus=gpus, resident=pool)


def _resident_pool(workspace: Workspace, backend: Any, gpus: list[int]) -> Any:
    if getattr(backend, "name", "") == "fake":
        return None  # FakeSandbox replays results
    if getattr(backend, "name", "") == "ray":  # resident actors on the nodes that hold the sources (sandbox/ray_pool.py)
        from sandbox.ray_pool import RayResidentPool

        config = workspace.config.sandbox
        return RayResidentPool(backend, config, Path(config.jobs_dir) / "ray-workers" if config.jobs_dir else None)
    from sandbox.resident import ResidentPool

    return ResidentPool(backend, workspace.config.sandbox, gpus, workspace.root / ".clade" / "workers")
