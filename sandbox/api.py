"""The sandbox's port: `execute(job) -> Result`, the backends behind it, and the job pool.

Callers (the planner) build a `Job`, pick a backend with `make_backend(config)` and run
many jobs through `sandbox.scheduler.Scheduler.for_config(config, backend)`; `sandbox.fake.FakeSandbox` stands in for a
real backend in tests of the layers above.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

from sandbox.config import Limits, SandboxConfig
from sandbox.job import Job, Result
from sandbox.outcome import RunOutcome


class Sandbox(Protocol):
    """A backend. Its capabilities are declared, never sniffed: `places_gpus` (it picks each job's GPU
    itself, so the runner detects none), `runs_resident` (resident merge workers run under its `run`),
    `cluster` (its jobs run on a cluster's nodes: the resident merge workers are actors there,
    `sandbox.ray_pool`), `cancels` (`cancel(job)` kills a job in flight)."""

    name: str
    places_gpus: bool
    runs_resident: bool
    cluster: bool
    cancels: bool

    def execute(self, job: Job, *, gpus: list[int] | None = None) -> Result:
        """Run the worker on `job` under the backend's isolation; never raises for the job's own failure."""

    def run(
        self,
        argv: Sequence[str],
        job_dir: Path,
        limits: Limits,
        *,
        read_only: Sequence[str] = (),
        gpus: list[int] | None = None,
        extra_env: Mapping[str, str] | None = None,
    ) -> RunOutcome:
        """Run any command under exactly the isolation a job gets."""

    def close(self) -> None:
        """Remove what the backend made on this host for its jobs (their temporary job directories)."""


def make_backend(config: SandboxConfig, name: str | None = None) -> Sandbox:
    """The backend `name` (default: clade.yaml's `sandbox.backend`)."""
    chosen = name or config.backend
    if chosen == "docker":
        from sandbox.backends.docker import DockerBackend

        return DockerBackend(config)
    if chosen == "ray":
        from sandbox.backends.ray import RayBackend

        return RayBackend(config)
    from sandbox.backends.local import LocalBackend

    return LocalBackend(config)
