"""GPU detection, slot policy and the job pool, with fake GPU lists (this machine has none)."""

from __future__ import annotations

import threading
import time

import pytest

from sandbox.backends.docker import container_options, device_requests
from sandbox.config import Limits, SandboxConfig
from sandbox.fake import FakeSandbox
from sandbox.job import CommandWork, DeviceRequest, Job, Result
from sandbox.scheduler import Scheduler, Slot, Slots, detect_gpus, parse_visible_devices


def job(name: str, gpus: int = 0) -> Job:
    return Job(id=name, work=CommandWork(argv=["true"]), device=DeviceRequest(gpus=gpus))


@pytest.mark.parametrize("value, expected", [("", []), ("-1", []), ("0,1", [0, 1]), ("2, 3", [2, 3])])
def test_parse_visible_devices(value, expected):
    assert parse_visible_devices(value) == expected


def test_detect_gpus_precedence():
    smi = lambda: 4  # noqa: E731 - a fake nvidia-smi that lists four GPUs
    assert detect_gpus([5, 6], {"CUDA_VISIBLE_DEVICES": "0"}, smi) == [5, 6]
    assert detect_gpus("none", {}, smi) == []
    assert detect_gpus("auto", {"CUDA_VISIBLE_DEVICES": "1,3"}, smi) == [1, 3]
    assert detect_gpus("auto", {}, smi) == [0, 1, 2, 3]
    assert detect_gpus("auto", {}, lambda: 0) == []


def test_slots_one_job_per_gpu_and_cpu_concurrency():
    slots = Slots([0, 1], cpu_slots=1)
    first, second = slots.take(job("a", 1)), slots.take(job("b", 1))
    assert (first, second, slots.take(job("c", 1))) == (Slot((0,)), Slot((1,)), None)
    assert slots.take(job("d")) == Slot() and slots.take(job("e")) is None
    slots.give(second)
    assert slots.take(job("c", 1)) == Slot((1,))


def test_gpu_job_runs_on_cpu_without_gpus():
    slots = Slots([], cpu_slots=2)
    assert slots.take(job("a", 1)) == Slot()


class RecordingSandbox(FakeSandbox):
    """Counts how many jobs run at once, and on which GPUs."""

    def __init__(self):
        super().__init__(lambda j: Result(job_id=j.id, status="ok"))
        self.lock, self.running, self.most = threading.Lock(), set(), 0

    def execute(self, job, *, gpus=None):
        with self.lock:
            assert not (set(gpus or []) & self.running), f"GPU {gpus} given twice"
            self.running |= set(gpus or [])
            self.most = max(self.most, len(self.running))
        time.sleep(0.05)
        with self.lock:
            self.running -= set(gpus or [])
        return super().execute(job, gpus=gpus)


def test_scheduler_spreads_gpu_jobs_one_per_gpu():
    sandbox = RecordingSandbox()
    scheduler = Scheduler(sandbox, gpus=[0, 1, 2], cpu_concurrency=1)
    results = list(scheduler.run([job(f"j{i}", 1) for i in range(9)]).values())
    scheduler.close()
    assert [r.status for r in results] == ["ok"] * 9
    assert sorted({g for gs in sandbox.gpus for g in gs}) == [0, 1, 2] and all(len(g) == 1 for g in sandbox.gpus)
    assert sandbox.most <= 3


def test_docker_device_request_names_exactly_the_given_gpu():
    (request,) = device_requests([2])
    assert request["DeviceIDs"] == ["2"] and request["Capabilities"] == [["gpu"]]
    assert device_requests([]) == []


def test_docker_container_options_isolate(tmp_path):
    config = SandboxConfig(backend="docker")
    limits = Limits(memory_mb=1000, max_procs=64, cpu_s=10)
    options = container_options(config, tmp_path, limits, ["/models/a"], [1], {"PATH": "/bin"})
    assert options["network_mode"] == "none" and options["read_only"] and options["cap_drop"] == ["ALL"]
    assert options["user"] != "0" and not options["user"].startswith("0:")
    assert (options["mem_limit"], options["memswap_limit"], options["pids_limit"]) == ("1000m", "1000m", 64)
    assert options["volumes"]["/models/a"]["mode"] == "ro" and options["volumes"][str(tmp_path)]["mode"] == "rw"
    assert options["device_requests"][0]["DeviceIDs"] == ["1"] and options["environment"] == {"PATH": "/bin"}


def test_scheduler_runs_real_jobs_on_the_local_backend(local_backend):
    from tests.sandbox.conftest import PY

    jobs = [Job(id=f"pool-{i}", work=CommandWork(argv=[PY, "-c", f"print('{{\"fitness\": {i}}}')"])) for i in range(3)]
    scheduler = Scheduler(local_backend, gpus=[], cpu_concurrency=2)
    results = list(scheduler.run(jobs).values())
    scheduler.close()
    assert [(r.job_id, r.status, r.fitness) for r in results] == [("pool-0", "ok", 0.0), ("pool-1", "ok", 1.0), ("pool-2", "ok", 2.0)]


def test_bwrap_gives_gpu_jobs_the_nvidia_devices(tmp_path):
    from sandbox.isolation import bwrap_argv, gpu_devices

    dev = tmp_path / "dev"
    (dev / "nvidia-caps").mkdir(parents=True)
    for name in ("nvidia0", "nvidia1", "nvidiactl", "nvidia-uvm", "null"):
        (dev / name).touch()
    found = gpu_devices(dev)
    assert [p.rsplit("/", 1)[1] for p in found] == ["nvidia-uvm", "nvidia0", "nvidia1", "nvidiactl", "nvidia-caps"]
    argv = bwrap_argv(("bwrap",), tmp_path / "job", [], found)
    assert argv[argv.index("--dev-bind") + 1] == found[0] and argv.count("--dev-bind") == 5
    assert "--dev-bind" not in bwrap_argv(("bwrap",), tmp_path / "job", [])


def test_missing_input_is_bad_input(local_backend, tmp_path):
    from tools.errors import BadInput

    with pytest.raises(BadInput, match="no-such-model: no such file"):
        local_backend.run(["true"], tmp_path, Limits(), read_only=[str(tmp_path / "no-such-model")])


def test_the_runner_and_backend_follow_the_config_and_the_declared_capabilities():
    from sandbox.api import make_backend
    from sandbox.backends.ray import RayBackend

    scheduler = Scheduler.for_config(SandboxConfig(gpus=[0, 1], cpu_concurrency=3), FakeSandbox(), env={})
    assert (scheduler.slots.gpus, scheduler.slots.free_cpu, scheduler.size, scheduler.resident) == ([0, 1], 3, 5, None)
    scheduler.close()
    assert Scheduler.for_config(SandboxConfig(), FakeSandbox(), env={"CUDA_VISIBLE_DEVICES": "3"}).slots.gpus == [3]
    ray = Scheduler.for_config(SandboxConfig(gpus=[0, 1]), RayBackend(SandboxConfig(backend="ray")))
    assert ray.gpus == [] and ray.resident is None  # Ray places GPUs itself: declared, not sniffed (no resident root: a code search)
    assert (RayBackend.cluster, RayBackend.runs_resident) == (True, False)  # its resident workers are actors (test_ray_cluster.py)
    assert [make_backend(SandboxConfig(), name).name for name in ("local", "docker", "ray")] == ["local", "docker", "ray"]
    assert [(b.places_gpus, b.runs_resident, b.cluster, b.cancels) for b in (make_backend(SandboxConfig(), "local"), FakeSandbox())] == [
        (False, True, False, True),
        (False, False, False, False),
    ]


def test_on_a_cluster_backend_the_resident_workers_are_its_actors_one_slot_each(monkeypatch, tmp_path):
    """A backend that declares `cluster` gets the Ray resident pool (stood in here), and one CPU slot per actor
    whatever cpu_concurrency says; a code search (no resident root) gets none."""
    import sandbox.ray_pool

    made = []

    class Actors:
        size = 3

        def __init__(self, backend, config, root):
            made.append((backend, root))

        def close(self, cancel: bool = False) -> None:
            pass

    class Cluster(FakeSandbox):
        cluster = True
        places_gpus = True

    monkeypatch.setattr(sandbox.ray_pool, "RayResidentPool", Actors)
    backend = Cluster()
    config = SandboxConfig(cpu_concurrency=1, jobs_dir=str(tmp_path))
    scheduler = Scheduler.for_config(config, backend, resident_root=tmp_path / "workers")
    assert isinstance(scheduler.resident, Actors) and scheduler.size == 3 and scheduler.gpus == []
    assert made == [(backend, tmp_path / "ray-workers")]
    scheduler.close()
    assert Scheduler.for_config(config, backend).resident is None


def test_a_slot_is_refilled_as_soon_as_it_frees():
    """One slot, a slow and two quick jobs: each starts the moment the one before ends, and on_done
    sees each result as it ends (not when the batch does)."""
    seen = []

    def run(j: Job) -> Result:
        time.sleep(0.2 if j.id == "slow" else 0.01)
        return Result(job_id=j.id, status="ok", fitness=1.0)

    scheduler = Scheduler(FakeSandbox(run), gpus=[], cpu_concurrency=2)
    slow = scheduler.submit(job("slow", 0), on_done=lambda r: seen.append(r.job_id))
    quick = [scheduler.submit(job(f"q{i}", 0), on_done=lambda r: seen.append(r.job_id)) for i in range(3)]
    assert [f.result().status for f in quick] == ["ok"] * 3 and not slow.done()
    assert seen == ["q0", "q1", "q2"]
    slow.result()
    scheduler.close()
    assert seen[-1] == "slow"


def test_fake_sandbox_replays_and_records():
    sandbox = FakeSandbox({"a": Result(job_id="x", status="ok", fitness=0.5)})
    assert sandbox.execute(job("a"), gpus=[1]).model_dump(include={"job_id", "fitness"}) == {"job_id": "a", "fitness": 0.5}
    missing = sandbox.execute(job("b"))
    assert missing.status == "failed" and "no scripted result for job 'b'" in missing.reason
    assert [j.id for j in sandbox.jobs] == ["a", "b"] and sandbox.gpus == [[1], None]


def test_gpu_uuids_are_refused_not_renumbered():
    from tools.errors import BadInput

    with pytest.raises(BadInput, match="CUDA_VISIBLE_DEVICES='GPU-aa,GPU-bb': GPU UUIDs and MIG names are not supported"):
        parse_visible_devices("GPU-aa,GPU-bb")


def test_closing_with_cancel_kills_running_jobs_and_never_starts_queued_ones(local_backend):
    from sandbox.job import JOB_FILE
    from tests.sandbox.conftest import PY

    hang = "print('started', flush=True); import time; time.sleep(600)"
    jobs = [Job(id=f"hang-{i}", work=CommandWork(argv=[PY, "-c", hang])) for i in range(2)]
    scheduler = Scheduler(local_backend, gpus=[], cpu_concurrency=1)
    running, queued = [scheduler.submit(job) for job in jobs]
    for _ in range(6000):  # the first job's directory is prepared: from then on a cancel reaches it (a minute at most)
        found = local_backend._root.job_dir("hang-0")
        if found is not None and (found / JOB_FILE).exists():
            break
        time.sleep(0.01)
    scheduler.close(cancel=True)
    result = running.result()
    assert result.status == "killed" and "cancelled" in result.reason
    assert queued.cancelled()


def test_concurrent_first_jobs_share_one_job_root_which_close_removes(tmp_path, monkeypatch):
    """Two threads start the first jobs of a fresh backend at once: both land under one root (so a
    cancel finds both), and closing the backend leaves no clade-jobs-* directory behind."""
    import sys
    import tempfile

    from sandbox.backends.local import LocalBackend
    from sandbox.config import Limits, SandboxConfig
    from sandbox.job import Job

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    argv = [sys.executable, "-c", "import json; print(json.dumps({'fitness': 1.0}))"]
    for attempt in range(3):
        backend = LocalBackend(SandboxConfig(isolation="auto"))
        start = threading.Barrier(2)
        results = []

        def run(n: int, start=start, results=results, backend=backend, attempt=attempt) -> None:
            start.wait()
            results.append(backend.execute(Job(id=f"j{attempt}-{n}", work=CommandWork(argv=argv), limits=Limits(wall_s=60))))

        threads = [threading.Thread(target=run, args=(n,)) for n in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert all(r.status == "ok" for r in results), [r.reason for r in results]
        roots = list(tmp_path.glob("clade-jobs-*"))
        assert len(roots) == 1 and {p.name for p in roots[0].iterdir()} == {f"j{attempt}-0", f"j{attempt}-1"}
        backend.close()
        assert list(tmp_path.glob("clade-jobs-*")) == []
