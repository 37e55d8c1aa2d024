"""A sandbox that runs nothing: it replays scripted results, for tests of the planner and CLI.

    sandbox = FakeSandbox({"job-1": Result(job_id="job-1", status="ok", fitness=0.5)})
    sandbox.execute(job)  # -> that result; unknown ids -> a `failed` result saying so

It records every job it was given (`sandbox.jobs`), like a real backend's job directories.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from sandbox.job import Job, Result


class FakeSandbox:
    name = "fake"
    places_gpus = False  # the runner gives each GPU job its GPU
    runs_resident = False  # every job gets a fresh sandbox
    cluster = False  # no cluster: results are replayed
    cancels = False  # no cancel(job): a closing runner waits

    def __init__(self, results: Mapping[str, Result] | Callable[[Job], Result] | None = None):
        self.results = results or {}
        self.jobs: list[Job] = []
        self.gpus: list[list[int] | None] = []

    def close(self) -> None:
        """Nothing to remove: the fake writes no job directory."""

    def execute(self, job: Job, *, gpus: list[int] | None = None) -> Result:
        self.jobs.append(job)
        self.gpus.append(gpus)
        if callable(self.results):
            return self.results(job)
        if job.id in self.results:
            return self.results[job.id].model_copy(update={"job_id": job.id})
        return Result(job_id=job.id, status="failed", reason=f"FakeSandbox has no scripted result for job {job.id!r}")
