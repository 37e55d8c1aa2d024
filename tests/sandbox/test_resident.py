"""The resident merge worker on the tiny zoo, through the real local backend (and docker where
an engine answers): caches kept across jobs with the one-shot worker's exact fitness, a job's
own failure contained, per-job timeouts, a killed worker, a stale heartbeat, and no process
left behind. A job that never ends reads its data from a FIFO nobody writes to."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import psutil
import pytest

from sandbox.config import Limits, SandboxConfig
from sandbox.isolation import REPO_ROOT
from sandbox.job import DeviceRequest, EvaluationSpec, Job, MergeWork
from sandbox.resident import ResidentPool
from sandbox.resident_worker import HEARTBEAT, INBOX, OUTBOX, SETTINGS, ServiceSettings
from tests.sandbox.conftest import make_backend

RECIPE_A = {
    "merge_method": "linear",
    "models": [{"model": "adder", "parameters": {"weight": 0.5}}, {"model": "sorter", "parameters": {"weight": 0.5}}],
}
RECIPE_B = {
    "merge_method": "task_arithmetic",
    "base_model": "base",
    "models": [{"model": "adder", "parameters": {"weight": 0.6}}, {"model": "reverser", "parameters": {"weight": 0.4}}],
}
BAD_RECIPE = {"merge_method": "linear", "models": [{"model": "nobody", "parameters": {"weight": 1.0}}]}
LIMITS = Limits(wall_s=300, memory_mb=4096)


def suite_of(workspace):
    """The workspace's evaluation as a session's job carries it."""
    from agents.jobs import evaluation_config
    from agents.workspace import load_workspace

    return evaluation_config(load_workspace(workspace))


@pytest.fixture(scope="module")
def zoo(tmp_path_factory) -> Path:
    """The tiny zoo, plus `hang/`: a workspace inside it whose only data file is a FIFO (a job that never ends)."""
    from agents.init_cmd import copy_example

    root = tmp_path_factory.mktemp("resident") / "zoo"
    copy_example("tiny-zoo", root)
    (root / "hang").mkdir()
    (root / "hang" / "clade.yaml").write_text(
        "version: 1\nevaluation:\n  tasks:\n    - {name: ppl, kind: perplexity, data: {search: never.jsonl, test: never.jsonl}}\n"
    )
    os.mkfifo(root / "hang" / "never.jsonl")
    subprocess.run(["chmod", "-R", "o+rX", str(root)], check=True)  # the docker job's user (65534) reads it
    return root


def job(zoo: Path, job_id: str, recipe: dict, *, workspace: Path | None = None, wall_s: float = 300) -> Job:
    models = {name: str(zoo / "models" / name) for name in ("base", "adder", "reverser", "sorter")}
    return Job(
        id=job_id,
        work=MergeWork(recipe=recipe),
        models=models,
        seed=5,
        evaluation=EvaluationSpec(suite=suite_of(workspace or zoo)),
        limits=LIMITS.model_copy(update={"wall_s": wall_s}),
    )


def pool_of(backend, tmp_path: Path, **settings) -> ResidentPool:
    return ResidentPool(backend, backend.config, [], tmp_path / "resident", settings=ServiceSettings(**settings))


def worker_processes(root: Path) -> list[psutil.Process]:
    """Every process (bwrap, shim or python) whose command line names a service directory under `root`."""
    found = []
    for process in psutil.process_iter():
        try:
            if any(str(root) in part for part in process.cmdline()) and process.status() != psutil.STATUS_ZOMBIE:
                found.append(process)
        except psutil.Error:
            continue
    return found


def serving(root: Path, job_id: str) -> psutil.Process:
    """The Python process of the resident worker that has `job_id` in its inbox, once it has
    (a bound only so that a bug fails instead of hanging)."""
    for _ in range(6000):
        for inbox in root.glob(f"*/{INBOX}/{job_id}.json"):
            for process in worker_processes(inbox.parent.parent):
                if process.cmdline()[:3] == [sys.executable, "-m", "sandbox.resident_worker"]:
                    return process
        threading.Event().wait(0.05)
    raise AssertionError(f"no resident worker under {root} took job {job_id}")


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    backend = make_backend("local", tmp_path_factory.mktemp("local"))
    with pool_of(backend, tmp_path_factory.mktemp("pool")) as served:
        yield served


def test_second_job_reuses_the_caches_and_scores_exactly_as_the_one_shot_worker(pool, zoo, tmp_path):
    first, second = pool.execute(job(zoo, "a", RECIPE_A)), pool.execute(job(zoo, "b", RECIPE_B))
    assert first.status == "ok" and second.status == "ok", (first.reason, second.reason, second.stderr[-2000:])
    assert first.metrics["resident"] == {"sources_cached": False, "suite_cached": False, "tokenizer_cached": False, "jobs_before": 0}
    assert second.metrics["resident"]["sources_cached"] and second.metrics["resident"]["suite_cached"]
    assert second.metrics["resident"]["jobs_before"] == 1  # (its tokenizer comes from `base`, not read before)
    one_shot = make_backend("local", tmp_path).execute(job(zoo, "b", RECIPE_B))
    assert one_shot.status == "ok", one_shot.reason
    assert second.fitness == one_shot.fitness and second.metrics["tasks"] == one_shot.metrics["tasks"]
    assert second.backend == "local+resident" and second.device == "cpu" and second.peak_memory_mb
    assert second.timings.materialize_s > 0 and second.timings.evaluate_s > 0 and second.timings.total_s > 0


def test_a_bad_recipe_fails_that_job_only(pool, zoo):
    before = pool.execute(job(zoo, "before-bad", RECIPE_A))
    bad = pool.execute(job(zoo, "bad", BAD_RECIPE))
    assert bad.status == "failed" and "nobody" in bad.reason and "Traceback" in bad.stderr
    assert bad.fitness is None and bad.job_id == "bad"
    good = pool.execute(job(zoo, "after-bad", RECIPE_A))
    assert good.status == "ok" and good.metrics["resident"]["jobs_before"] == before.metrics["resident"]["jobs_before"] + 2, good.reason
    assert good.metrics["resident"]["tokenizer_cached"] and good.metrics["resident"]["sources_cached"]
    assert "Traceback" not in good.stderr  # each job's log holds its own output only


def test_a_job_past_its_wall_limit_is_cancelled_and_the_next_gets_a_fresh_worker(pool, zoo):
    before = {p.pid for p in worker_processes(pool.root)}
    late = pool.execute(job(zoo, "late", RECIPE_A, workspace=zoo / "hang", wall_s=3))
    assert late.status == "timeout" and "wall-clock limit of 3 s" in late.reason and late.fitness is None
    assert not before & {p.pid for p in worker_processes(pool.root)}  # the old worker is gone
    after = pool.execute(job(zoo, "after-late", RECIPE_B))
    assert after.status == "ok" and after.metrics["resident"]["jobs_before"] == 0, after.reason


def test_a_worker_killed_mid_job_fails_that_job_and_restarts(pool, zoo):
    results = []
    stuck = threading.Thread(target=lambda: results.append(pool.execute(job(zoo, "stuck", RECIPE_A, workspace=zoo / "hang"))))
    stuck.start()
    serving(pool.root, "stuck").kill()
    stuck.join()
    assert results[0].status in ("failed", "killed") and "resident worker ended while serving this job" in results[0].reason
    assert "SIGKILL" in results[0].reason or "137" in results[0].reason, results[0].reason
    again = pool.execute(job(zoo, "again", RECIPE_A))
    assert again.status == "ok" and again.metrics["resident"]["jobs_before"] == 0, again.reason


def test_close_cancels_a_job_in_flight_and_leaves_no_process(local_backend, zoo, tmp_path):
    pool = pool_of(local_backend, tmp_path)
    results = []
    stuck = threading.Thread(target=lambda: results.append(pool.execute(job(zoo, "stuck", RECIPE_A, workspace=zoo / "hang"))))
    stuck.start()
    serving(pool.root, "stuck")
    pool.close(cancel=True)
    stuck.join()
    assert results[0].status == "killed" and "cancelled by the host" in results[0].reason
    assert worker_processes(tmp_path) == []


def test_close_stops_idle_workers_and_leaves_no_process(local_backend, zoo, tmp_path):
    pool = pool_of(local_backend, tmp_path)
    assert pool.execute(job(zoo, "one", BAD_RECIPE)).status == "failed"  # served (and cheaper than a merge)
    assert worker_processes(tmp_path)
    pool.close()
    assert worker_processes(tmp_path) == []
    with pytest.raises(Exception, match="pool is closed"):
        pool.execute(job(zoo, "late", RECIPE_A))


def test_a_stale_heartbeat_stops_the_worker(local_backend, tmp_path):
    service = tmp_path / "service"
    for sub in (INBOX, OUTBOX):
        (service / sub).mkdir(parents=True)
    (service / SETTINGS).write_text(ServiceSettings(heartbeat_grace_s=1.0).model_dump_json())
    (service / HEARTBEAT).touch()  # and never again: the host is gone
    argv = [sys.executable, "-m", "sandbox.resident_worker", str(service)]
    outcome = local_backend.run(argv, service, Limits(wall_s=600), extra_env={"PYTHONPATH": str(REPO_ROOT)})
    assert outcome.status == "failed" and outcome.exit_code == 3, outcome
    assert "heartbeat is older than 1 s" in outcome.stderr


def test_a_cancel_file_kills_the_whole_job(backend, job_dir, limits):
    outcome = backend.run(["/bin/sh", "-c", "touch cancel; sleep 600"], job_dir, limits)
    assert outcome.status == "killed" and "cancelled by the host" in outcome.reason


@pytest.mark.docker
def test_docker_resident_worker_serves_two_jobs_like_local(pool, zoo, tmp_path):
    docker = make_backend("docker", tmp_path)
    with pool_of(docker, tmp_path) as served:
        first, second = served.execute(job(zoo, "a", RECIPE_A)), served.execute(job(zoo, "b", RECIPE_B))
    assert first.status == "ok" and second.status == "ok", (first.reason, first.stderr[-2000:], second.reason)
    assert second.metrics["resident"]["sources_cached"] and second.backend == "docker+resident"
    assert second.fitness == pool.execute(job(zoo, "b-local", RECIPE_B)).fitness


class _Stub:
    """Stands in for a slot's worker in the pure slot-choice test: alive, serving what it is told."""

    def __init__(self, serves: bool):
        self._serves = serves

    def alive(self) -> bool:
        return True

    def serves(self, job: Job) -> bool:
        return self._serves


def test_slots_follow_the_device_request_and_prefer_a_worker_that_serves_the_job(zoo, tmp_path):
    class NoBackend:
        name, places_gpus, runs_resident, cluster, cancels = "none", False, True, False, False  # declared, as every backend does

    pool = ResidentPool(NoBackend(), SandboxConfig(cpu_concurrency=3), [4], tmp_path)
    gpu_job = job(zoo, "g", RECIPE_A).model_copy(update={"device": DeviceRequest(gpus=1)})
    assert pool._free_slot(gpu_job).name == "gpu4" and pool._free_slot(job(zoo, "c", RECIPE_A)).name == "cpu0"
    pool.slots[1].worker, pool.slots[3].worker = _Stub(serves=False), _Stub(serves=True)
    assert pool._free_slot(job(zoo, "c", RECIPE_A)).name == "cpu2"  # the one that serves it
    pool.slots[3].busy = True
    assert pool._free_slot(job(zoo, "c", RECIPE_A)).name == "cpu1"  # an empty slot before replacing a live worker
    cpu_only = ResidentPool(NoBackend(), SandboxConfig(cpu_concurrency=1), [], tmp_path)
    assert cpu_only._free_slot(gpu_job).name == "cpu0"  # no GPU on this machine: the GPU job runs on CPU
    pool.slots[1].worker, pool.slots[3].worker, pool.slots[3].busy = None, None, False
    for closing in (pool, cpu_only):
        closing.close()
