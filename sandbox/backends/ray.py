"""The `ray` backend: a job is a Ray task that runs the local backend on the node Ray picks.

`ray.init()` starts a local Ray (`sandbox.ray.num_cpus` CPUs) or joins the cluster at
`sandbox.ray.address`. Each job is a task asking Ray for `job.device.gpus` GPUs and one
CPU; on the node, the task runs the same worker under the same local isolation, with the
GPUs Ray assigned as its CUDA_VISIBLE_DEVICES, and returns the result. Every node needs
Clade installed (`pip install 'clade[ray]'`), bubblewrap for full isolation, and the
source models at the paths the job names (a shared file system).

Protects against: everything the local backend does, on the node (see local.py), and
nothing more. Ray itself is not a security boundary: whoever reaches the Ray cluster can
run code on it, so keep the cluster on a private network. The task's own retries are off
(a job is run once; a failure is a result).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from sandbox.config import Limits, SandboxConfig
from sandbox.job import Job, Result
from sandbox.outcome import RunOutcome
from tools.errors import BadInput


def _execute_on_node(job: dict, config: dict) -> dict:
    import ray

    from sandbox.backends.local import LocalBackend

    gpus = [int(g) for g in ray.get_gpu_ids()]
    result = LocalBackend(SandboxConfig.model_validate(config)).execute(Job.model_validate(job), gpus=gpus or None)
    return result.model_dump(mode="json")


def _run_on_node(argv: list[str], job_dir: str, limits: dict, read_only: list[str], extra_env: dict, config: dict) -> dict:
    from sandbox.backends.local import LocalBackend

    Path(job_dir).mkdir(parents=True, exist_ok=True)
    backend = LocalBackend(SandboxConfig.model_validate(config))
    outcome = backend.run(argv, Path(job_dir), Limits.model_validate(limits), read_only=read_only, extra_env=extra_env)
    return outcome.model_copy(update={"backend": "ray"}).model_dump(mode="json")


class RayBackend:
    name = "ray"
    places_gpus = True  # Ray picks each job's GPU itself
    runs_resident = False  # every job gets a fresh sandbox
    cluster = True  # resident merge workers are Ray actors on the nodes (sandbox.ray_pool)
    cancels = False  # no cancel(job): a closing runner waits

    def __init__(self, config: SandboxConfig | None = None):
        self.config = config or SandboxConfig(backend="ray")

    def _ray(self):
        try:
            import ray
        except ImportError:
            raise BadInput("clade.yaml sandbox.backend is 'ray' but Ray is not installed; pip install 'clade[ray]'") from None
        if not ray.is_initialized():
            ray.init(
                address=self.config.ray.address,
                num_cpus=self.config.ray.num_cpus,
                include_dashboard=False,
                log_to_driver=False,
                configure_logging=False,
            )
        return ray

    def execute(self, job: Job, *, gpus: list[int] | None = None) -> Result:
        """Run the job as a Ray task with the job's GPU request (Ray, not `gpus`, picks the GPU)."""
        refuse_cache(job)
        ray = self._ray()
        task = ray.remote(num_cpus=1, num_gpus=job.device.gpus, max_retries=0)(_execute_on_node)
        return Result.model_validate(ray.get(task.remote(job.model_dump(mode="json"), self.config.model_dump(mode="json"))))

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
        ray = self._ray()
        task = ray.remote(num_cpus=1, num_gpus=len(gpus or []), max_retries=0)(_run_on_node)
        ref = task.remote(
            list(argv),
            str(Path(job_dir).resolve()),
            limits.model_dump(mode="json"),
            list(read_only),
            dict(extra_env or {}),
            self.config.model_dump(mode="json"),
        )
        return RunOutcome.model_validate(ray.get(ref))

    def close(self) -> None:
        """Nothing to remove on this host: each job's directory lives on the node that ran it."""

    def shutdown(self) -> None:
        import ray

        ray.shutdown()


def refuse_cache(job: Job) -> None:
    """A job with derived models needs the host's merge cache, which a cluster node does not share."""
    if job.writable_paths():
        raise BadInput(
            f"job {job.id}: its recipe uses a merged candidate as a model (work.derived), which needs the host's merge cache; "
            "sandbox.backend ray cannot reach it (planner.evolution.space `both` runs on the local or docker backend)"
        )
