"""GPU detection and the job pool: one job per GPU at a time, CPU jobs up to a set concurrency.

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
        raise BadInput(f"CUDA_VISIBLE_DEVICES={value!r}: GPU UUIDs and MIG names are not supported yet; "
                       "name GPU indices there or in clade.yaml (sandbox.gpus: [0, 1])")
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
    """Runs jobs on a backend concurrently within the slots: `submit(job) -> Future[Result]`."""

    def __init__(self, backend, gpus: Iterable[int], cpu_concurrency: int):
        self.backend, self.slots = backend, Slots(gpus, cpu_concurrency)
        self._ready = threading.Condition()
        self._running: dict[str, Job] = {}
        self._pool = ThreadPoolExecutor(max_workers=len(self.slots.gpus) + cpu_concurrency)

    def submit(self, job: Job) -> Future:
        return self._pool.submit(self._run, job)

    def run_all(self, jobs: Iterable[Job]) -> list[Result]:
        return [future.result() for future in [self.submit(job) for job in jobs]]

    def _run(self, job: Job) -> Result:
        with self._ready:
            slot = self._ready.wait_for(lambda: self.slots.take(job))
            self._running[job.id] = job
        try:
            return self.backend.execute(job, gpus=list(slot.gpus) or None)
        finally:
            with self._ready:
                self._running.pop(job.id, None)
                self.slots.give(slot)
                self._ready.notify_all()

    def close(self, *, cancel: bool = False) -> None:
        """Wait for every job; with `cancel` (Ctrl-C), jobs not started never start and running ones are
        killed through the backend (its `cancel(job)`: the watch loop's cancel file) before waiting."""
        if cancel:
            self._pool.shutdown(wait=False, cancel_futures=True)
            with self._ready:
                running = list(self._running.values())
            for job in running:
                if hasattr(self.backend, "cancel"):
                    self.backend.cancel(job)
        self._pool.shutdown(wait=True)
