"""Resident merge workers on a real two-node Ray cluster on this machine (sandbox/ray_pool.py).

The fixture starts a head (`ray start --head --block`, custom resource `clade_head`, 1 CPU) and
a second node (`ray start --address ...`, custom resource `clade_b`, 1 CPU, its own node id),
each in its own process tree with its own ports and temp dir, and ends exactly those trees
after (never `ray stop`, which would end every Ray process on the machine). Node b holds its
own copy of the workspace (clade.yaml `sandbox.ray.nodes[].paths`). The last test kills node b
while it serves a candidate. Slow to start (tens of seconds): one cluster for the module.
"""

from __future__ import annotations

import io
import json
import shutil
import threading
import time
from pathlib import Path

import pytest
import yaml

from sandbox.config import RayConfig, RayNode, SandboxConfig
from sandbox.job import EvaluationSpec, Job, Limits, MergeWork
from sandbox.ray_pool import map_job, plan_placements
from tools.evaluate.spec import EvaluationConfig, GenerationTask

ray = pytest.importorskip("ray", reason="Ray is not installed (optional extra: pip install 'clade[ray]')")

NODES = [
    {"NodeID": "a" * 56, "Alive": True, "NodeManagerAddress": "10.0.0.1", "Resources": {"CPU": 4.0, "clade_head": 1.0}},
    {"NodeID": "b" * 56, "Alive": True, "NodeManagerAddress": "10.0.0.2", "Resources": {"CPU": 8.0, "GPU": 2.0}},
    {"NodeID": "c" * 56, "Alive": False, "NodeManagerAddress": "10.0.0.3", "Resources": {"CPU": 8.0}},
]


def test_placements_follow_gpus_cpus_and_the_nodes_that_hold_the_sources():
    shared = plan_placements(NODES, RayConfig(cpus_per_worker=2))
    assert [(p.label, p.gpu, p.cpus) for p in shared] == [("10.0.0.1-aaaaaaaa", False, 2)] * 2 + [("10.0.0.2-bbbbbbbb", True, 1)] * 2
    listed = plan_placements(
        NODES, RayConfig(workers_per_node=1, nodes=[RayNode(match="10.0.0.2", paths={"/data": "/nvme/data"}), RayNode(match="10.0.0.3")])
    )
    assert [(p.label, p.gpu, p.paths) for p in listed] == [("10.0.0.2", True, (("/data", "/nvme/data"),))]
    assert [p.label for p in plan_placements(NODES, RayConfig(nodes=[RayNode(match="clade_head")]))] == ["clade_head"] * 4


def test_a_job_is_rewritten_to_the_nodes_copy_of_its_inputs():
    task = GenerationTask(kind="generation", name="t", data={"search": "/data/tasks/s.jsonl", "test": "/elsewhere/t.jsonl"})
    job = Job(
        id="j",
        work=MergeWork(recipe={}),
        models={"a": "/data/models/a", "b": "/elsewhere/b"},
        evaluation=EvaluationSpec(suite=EvaluationConfig(tasks=[task])),
    )
    mapped = map_job(job, (("/data/models", "/fast/models"), ("/data", "/nvme/data")))
    assert mapped.models == {"a": "/fast/models/a", "b": "/elsewhere/b"}
    assert mapped.evaluation.suite.tasks[0].data == {"search": "/nvme/data/tasks/s.jsonl", "test": "/elsewhere/t.jsonl"}
    assert "/nvme/data/tasks" in mapped.read_only_paths() and "/data/tasks" not in mapped.read_only_paths()
    assert job.evaluation.suite.tasks[0].data["search"] == "/data/tasks/s.jsonl"  # the head's job is left as it was
    assert map_job(job, ()) is job


@pytest.fixture(scope="module")
def cluster(ray_cluster):
    return ray_cluster  # tests/sandbox/conftest.py: one two-node cluster for the whole test session


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    """The tiny-zoo workspace at the head's path, and node b's own copy of it."""
    from agents.init_cmd import copy_example

    root = tmp_path_factory.mktemp("ray-zoo")
    copy_example("tiny-zoo", root / "ws")
    shutil.copytree(root / "ws", root / "ws-b", symlinks=True)
    return root


def ray_config(cluster, zoo: Path) -> SandboxConfig:
    nodes = [RayNode(match="clade_head"), RayNode(match="clade_b", paths={str(zoo / "ws"): str(zoo / "ws-b")})]
    return SandboxConfig(backend="ray", threads=1, jobs_dir=str(zoo / "jobs"), ray=RayConfig(address=cluster.address, nodes=nodes))


def merge_job(zoo: Path, n: int, weight: float) -> Job:
    from agents.jobs import evaluation_config
    from agents.workspace import load_workspace

    ws = zoo / "ws"
    recipe = {
        "merge_method": "linear",
        "models": [{"model": "adder", "parameters": {"weight": weight}}, {"model": "sorter", "parameters": {"weight": 1 - weight}}],
    }
    return Job(
        id=f"c{n}",
        work=MergeWork(recipe=recipe),
        models={m: str(ws / "models" / m) for m in ("adder", "sorter")},
        evaluation=EvaluationSpec(suite=evaluation_config(load_workspace(ws))),
        limits=Limits(wall_s=600),
    )


def test_resident_actors_on_both_nodes_serve_warm_candidates_from_their_own_copies(cluster, zoo):
    from concurrent.futures import ThreadPoolExecutor

    from sandbox.backends.ray import RayBackend
    from sandbox.ray_pool import RayResidentPool

    backend = RayBackend(ray_config(cluster, zoo))
    with RayResidentPool(backend, backend.config, zoo / "jobs" / "pool") as pool:
        where = pool.where()
        assert sorted(w["label"] for w in where) == ["clade_b", "clade_head"] and len({w["node"] for w in where}) == 2
        jobs = [merge_job(zoo, n, w) for n, w in enumerate((0.2, 0.4, 0.6, 0.8, 0.2, 0.4))]
        with ThreadPoolExecutor(pool.size) as threads:
            results = list(threads.map(pool.execute, jobs))
    assert [r.status for r in results] == ["ok"] * 6, [r.reason for r in results]
    assert results[0].fitness == results[4].fitness and results[1].fitness == results[5].fitness
    assert {r.backend for r in results} == {"ray+resident"}
    assert max(r.metrics["resident"]["jobs_before"] for r in results) >= 2  # warm: a worker served several without reloading
    assert list((zoo / "jobs" / "pool").glob("clade_b-0/*/cpu0-*")), "node b's actor started no resident worker"


def test_doctor_says_what_ray_sees_and_where_the_sources_are(cluster, zoo):
    from sandbox.doctor import ray_report, render_ray

    config = ray_config(cluster, zoo)
    sources = {"adder": str(zoo / "ws" / "models" / "adder"), "sorter": str(zoo / "ws" / "models" / "sorter")}
    shutil.rmtree(zoo / "ws-b" / "models" / "sorter")  # node b's copy lacks one source
    try:
        report = ray_report(config, sources)
    finally:
        shutil.copytree(zoo / "ws" / "models" / "sorter", zoo / "ws-b" / "models" / "sorter")
    nodes = {n["label"]: n for n in report["nodes"]}
    assert set(nodes) == {"clade_head", "clade_b"} and all(n["cpus"] == 1 and n["gpus"] == 0 and n["workers"] == 1 for n in nodes.values())
    assert nodes["clade_head"]["missing"] == [] and nodes["clade_b"]["missing"] == [f"sorter ({zoo}/ws-b/models/sorter)"]
    text = render_ray(report)
    assert "2 alive node(s)" in text and "clade_b" in text and "MISSING sorter" in text


def test_a_node_killed_mid_session_loses_no_candidate(cluster, zoo, capfd):
    from agents.budget import BudgetConfig
    from agents.session import records
    from agents.session.display import PlainDisplay
    from agents.session.runner import Session, run_session
    from agents.workspace import load_workspace
    from archive.secrets import Redactor
    from archive.store import Archive
    from sandbox.backends.ray import RayBackend
    from tests.session.conftest import ScriptedStrategy

    config = ray_config(cluster, zoo)
    clade_yaml = zoo / "ws" / "clade.yaml"
    data = yaml.safe_load(clade_yaml.read_text())
    data["sandbox"] = config.model_dump(mode="json", exclude_defaults=True)
    clade_yaml.write_text(yaml.safe_dump(data))
    workspace = load_workspace(zoo / "ws")
    seen: list[dict] = []

    def kill_b_once_it_serves() -> None:  # node b's resident worker has a job in its inbox: kill the node under it
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            inbox = sorted((zoo / "jobs" / "ray-workers").glob("clade_b-0/*/*/inbox/*.json"))
            if inbox:
                try:
                    seen.append(json.loads(inbox[0].read_text()))
                except (OSError, ValueError):
                    continue
                cluster.kill_node(cluster.b)
                return
            time.sleep(0.01)

    killer = threading.Thread(target=kill_b_once_it_serves, daemon=True)
    killer.start()
    record = records.SessionRecord(
        id=records.new_session_id(), strategy="scripted", seed=0, budget=BudgetConfig(candidates=4), backend="ray"
    )
    strategy = ScriptedStrategy([0.1, 0.3, 0.5, 0.7])
    with Archive.open(workspace.path("archive"), create=True, redactor=Redactor()) as archive:
        summary = run_session(
            Session(workspace=workspace, record=record, strategy=strategy, backend=RayBackend(config), display=PlainDisplay(io.StringIO())),
            archive,
        )
        killer.join(5)
        mine = [archive.get(cid) for cid in archive.session_candidates(record.id)]
    assert seen and cluster.b.proc.poll() is not None, "node b never got a job"
    assert all(p.startswith(str(zoo / "ws-b")) for p in seen[0]["models"].values())  # node b read its own copy
    assert all(p.startswith(str(zoo / "ws-b")) for t in seen[0]["evaluation"]["suite"]["tasks"] for p in t["data"].values())
    assert summary.candidates == 4 and len(mine) == 4 and len({c.genotype_hash() for c in mine}) == 4
    assert all(c.status == "succeeded" and c.fitness("search") is not None for c in mine), [(c.status, c.reason) for c in mine]
    assert f"the worker on node clade_b died while serving job {seen[0]['id']}" in capfd.readouterr().err
