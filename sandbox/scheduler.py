"""GPU detection and the runner: one job per GPU at a time, CPU jobs up to a set concurrency.

A job that asks for a GPU gets one whole GPU (its CUDA_VISIBLE_DEVICES, or the container's
device request, names exactly that one) and waits while all are busy; on a machine with no
GPU it runs as a CPU job (its result says `device: cpu`). CPU jobs take one of
`cpu_concurrency` slots. The slot logic is pure (`Slots`), so it is tested with fake GPU lists.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from sandbox.job import Job, Result
from tools.errors import BadInput


def parse_visible_devices(value: str) -> list[int]:
    """GPU indices named by CUDA_VISIBLE_DEVICES ('' or '-1' means none).

    UUIDs and MIG names are refused rather than renumbered: a job given index 0 would land on
    physical GPU 0, which may not be one the host allowed."""
    items = [v.strip() for v in value.split(",") if v.strip()]
    if not items or items[0] == "-1":
        return []
    if not all(v.isdigit() for v in items):
        raise BadInput(
            f"CUDA_VISIBLE_DEVICES={value!r}: GPU UUIDs and MIG names are not supported yet; "
            "name GPU indices there or in clade.yaml (sandbox.gpus: [0, 1])"
        )
    return [int(v) for v in items]


def nvidia_smi_count() -> int:
    """GPUs `nvidia-smi -L` lists (0 when it is absent or fails)."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return 0
    try:
        listing = subprocess.run([exe, "-L"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return 0
    return sum(line.startswith("GPU ") for line in listing.stdout.splitlines()) if listing.returncode == 0 else 0


def detect_gpus(setting: str | list[int], env: Mapping[str, str], smi_count: Callable[[], int] = nvidia_smi_count) -> list[int]:
    """The GPUs jobs may use: clade.yaml's list, else CUDA_VISIBLE_DEVICES, else what nvidia-smi lists."""
    if isinstance(setting, list):
        return list(setting)
    if setting == "none":
        return []
    if "CUDA_VISIBLE_DEVICES" in env:
        return parse_visible_devices(env["CUDA_VISIBLE_DEVICES"])
    return list(range(smi_count()))


@dataclass(frozen=True)
class Slot:
    """What a running job holds: GPUs, or (empty) one CPU slot. Always truthy."""

    gpus: tuple[int, ...] = ()


class Slots:
    """Free GPUs and CPU slots; `take` and `give` are the whole scheduling policy."""

    def __init__(self, gpus: Iterable[int], cpu_slots: int):
        self.gpus, self.free_gpus, self.free_cpu = list(gpus), list(gpus), cpu_slots

    def take(self, job: Job) -> Slot | None:
        """A GPU (for a GPU job, when the machine has any) or a CPU slot; None when it must wait."""
        if job.device.gpus and self.gpus:
            return Slot((self.free_gpus.pop(0),)) if self.free_gpus else None
        if self.free_cpu == 0:
            return None
        self.free_cpu -= 1
        return Slot()

    def give(self, slot: Slot) -> None:
        if slot.gpus:
            self.free_gpus = sorted([*self.free_gpus, *slot.gpus])
        else:
            self.free_cpu += 1


class Scheduler:
    """The one runner of batch execution: jobs run on a backend concurrently within the slots.

    `submit(job, on_done) -> Future[Result]` queues a job; it starts as soon as a slot of its kind
    frees (no waiting for a batch). `run(jobs, on_done)` runs a batch and returns its results by
    job id. `close(cancel)` waits, or kills what runs and starts nothing queued. Merge jobs go to
    the resident worker of their slot when there is a pool (`resident`); every other job gets a
    fresh sandbox from the backend. `on_done(result)` is called in the job's thread as soon as it ends.
    """

    def __init__(self, backend, gpus: Iterable[int], cpu_concurrency: int, *, resident=None):
        self.backend, self.slots, self.resident = backend, Slots(gpus, cpu_concurrency), resident
        self.size = len(self.slots.gpus) + cpu_concurrency
        self._ready = threading.Condition()
        self._running: dict[str, Job] = {}
        self._pool = ThreadPoolExecutor(max_workers=self.size, thread_name_prefix="clade-job")

    @classmethod
    def for_config(cls, config, backend, *, env: Mapping[str, str] | None = None, resident_root=None) -> Scheduler:
        """The runner clade.yaml's `sandbox:` asks for: a slot per GPU the backend may use (none when the
        backend places GPUs itself), `cpu_concurrency` CPU slots, and resident merge workers under
        `resident_root` when given and the backend runs them. On a cluster backend the resident workers
        are actors on its nodes (`sandbox.ray_pool.RayResidentPool`) and there is one slot per actor."""
        import os

        gpus = [] if backend.places_gpus else detect_gpus(config.gpus, os.environ if env is None else env)
        resident, cpu_slots = None, config.cpu_concurrency
        if resident_root is not None and backend.cluster:
            from sandbox.ray_pool import RayResidentPool

            resident = RayResidentPool(backend, config, Path(config.jobs_dir) / "ray-workers" if config.jobs_dir else None)
            cpu_slots = resident.size
        elif resident_root is not None and backend.runs_resident:
            from sandbox.resident import ResidentPool

            resident = ResidentPool(backend, config, gpus, resident_root)
        return cls(backend, gpus, cpu_slots, resident=resident)

    @property
    def gpus(self) -> list[int]:
        return list(self.slots.gpus)

    def submit(self, job: Job, on_done: Callable[[Result], None] | None = None) -> Future:
        return self._pool.submit(self._run, job, on_done)

    def run(self, jobs: Iterable[Job], on_done: Callable[[Result], None] | None = None) -> dict[str, Result]:
        """Every job, each started as soon as a slot frees; their results by job id."""
        futures = [self.submit(job, on_done) for job in jobs]
        return {result.job_id: result for result in (future.result() for future in futures)}

    def _run(self, job: Job, on_done: Callable[[Result], None] | None) -> Result:
        with self._ready:
            slot = self._ready.wait_for(lambda: self.slots.take(job))
            self._running[job.id] = job
        try:
            if job.kind == "merge" and self.resident is not None:
                result = self.resident.execute(job)
            else:
                result = self.backend.execute(job, gpus=list(slot.gpus) or None)
        finally:
            with self._ready:
                self._running.pop(job.id, None)
                self.slots.give(slot)
                self._ready.notify_all()
        if on_done is not None:
            on_done(result)
        return result

    def close(self, *, cancel: bool = False) -> None:
        """Wait for every job; with `cancel` (Ctrl-C), jobs not started never start and running ones are
        killed (resident workers cancelled; fresh sandboxes through the backend's `cancel(job)`, when it
        `cancels`) before waiting. Then the backend removes its job directories."""
        if cancel:
            self._pool.shutdown(wait=False, cancel_futures=True)
            with self._ready:
                running = list(self._running.values())
            if self.backend.cancels:
                for job in running:
                    self.backend.cancel(job)
            if self.resident is not None:
                self.resident.close(cancel=True)
        self._pool.shutdown(wait=True)
        if self.resident is not None and not cancel:
            self.resident.close()
        self.backend.close()
