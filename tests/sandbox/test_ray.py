"""The ray backend (one-shot Ray tasks) on the test session's two-node cluster: the same isolation and contract as local.

Kept to a few tests: Ray takes seconds to start on a small machine.
"""

from __future__ import annotations

import pytest

from sandbox.config import Limits, RayConfig, SandboxConfig
from tests.sandbox.conftest import PY

ray = pytest.importorskip("ray", reason="Ray is not installed (optional extra: pip install 'clade[ray]')")


@pytest.fixture(scope="module")
def ray_backend(ray_cluster, tmp_path_factory):
    from sandbox.backends.ray import RayBackend

    jobs = tmp_path_factory.mktemp("ray-jobs")
    backend = RayBackend(SandboxConfig(backend="ray", jobs_dir=str(jobs), ray=RayConfig(address=ray_cluster.address)))
    backend.run([PY, "-c", "pass"], jobs / "warm-up", Limits(wall_s=60))
    return backend  # the driver stays connected: the session's cluster fixture disconnects it


def test_ray_task_times_out_then_normal_job_runs_isolated(ray_backend, tmp_path):
    outcome = ray_backend.run([PY, "-c", "while True: pass"], tmp_path / "hang", Limits(wall_s=1))
    assert (outcome.status, outcome.backend) == ("timeout", "ray")
    outcome = ray_backend.run(
        [PY, "-c", "import os; print(os.getuid(), 'OPENAI_API_KEY' in os.environ)"], tmp_path / "ok", Limits(wall_s=30)
    )
    assert outcome.status == "ok" and outcome.stdout.split()[1] == "False"


def test_ray_executes_a_job_through_the_worker(ray_backend):
    from sandbox.job import CommandWork, Job

    job = Job(id="ray-cmd", work=CommandWork(argv=[PY, "-c", "print('{\"fitness\": 0.25}')"]))
    result = ray_backend.execute(job)
    assert (result.status, result.fitness, result.job_id) == ("ok", 0.25, "ray-cmd"), result.reason
