"""Seconds per merge candidate on the tiny zoo: the ray backend before (one-shot task) and after
(resident actors), against the local backend's one-shot and warm resident worker.

    nice .venv/bin/python benchmarks/ray_resident.py [--candidates N] [--one-shot N] [--two-nodes]

All paths run the same linear merges (different weights) and must agree on every fitness.
- local one-shot: `LocalBackend.execute`, a fresh sandboxed worker per candidate;
- local resident: `ResidentPool.execute`, one warm worker (first candidate pays start-up);
- ray one-shot: `RayBackend.execute`, a Ray task running the local backend (what `--backend ray`
  did before resident actors);
- ray resident: `RayResidentPool.execute`, one actor holding one warm worker.
Ray is a local `ray.init(num_cpus=1)`, or with `--two-nodes` a real two-node cluster on this
machine (sandbox/ray_cluster.py; candidates then go to both nodes' actors, one at a time).
The one-shot paths run `--one-shot` candidates (default 3): each costs seconds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.resident_worker import jobs, timed
from sandbox.config import RayConfig, SandboxConfig
from sandbox.resident import ResidentPool


def row(name: str, seconds: list[float]) -> str:
    rest = statistics.median(seconds[1:]) if len(seconds) > 1 else float("nan")
    return f"{name:<40}{len(seconds):>4}{seconds[0]:>8.2f}{rest:>13.3f}{statistics.mean(seconds):>8.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=8)
    parser.add_argument("--one-shot", type=int, default=3)
    parser.add_argument("--two-nodes", action="store_true")
    args = parser.parse_args()
    from agents.init_cmd import copy_example
    from sandbox.backends.local import LocalBackend
    from sandbox.backends.ray import RayBackend
    from sandbox.ray_pool import RayResidentPool

    root = Path(tempfile.mkdtemp(prefix="clade-bench-ray-"))
    copy_example("tiny-zoo", root / "zoo")
    items = jobs(root / "zoo", args.candidates)
    local = LocalBackend(SandboxConfig(jobs_dir=str(root / "jobs"), threads=1))
    rows, fitness = [], {}
    seconds, fitness["local one-shot"] = timed(local.execute, items[: args.one_shot])
    rows.append(row("local one-shot (fresh worker each)", seconds))
    with ResidentPool(local, local.config, [], root / "resident") as pool:
        seconds, fitness["local resident"] = timed(pool.execute, items)
    rows.append(row("local resident (one warm worker)", seconds))

    cluster = None
    if args.two_nodes:
        from sandbox.ray_cluster import LocalRayCluster

        cluster = LocalRayCluster(root)
        os.environ.update(cluster.env)
        cluster.add_node("clade_head", num_cpus=1, head=True)
        cluster.add_node("clade_b", num_cpus=1)
    try:
        ray_config = RayConfig(address=cluster.address) if cluster else RayConfig(num_cpus=1)
        backend = RayBackend(SandboxConfig(backend="ray", jobs_dir=str(root / "ray-jobs"), threads=1, ray=ray_config))
        seconds, fitness["ray one-shot"] = timed(backend.execute, items[: args.one_shot])
        rows.append(row("ray one-shot task (before)", seconds))
        with RayResidentPool(backend, backend.config, root / "ray-resident") as pool:
            where = f"{pool.size} actor(s)"
            seconds, fitness["ray resident"] = timed(pool.execute, items)
        rows.append(row(f"ray resident ({where}, after)", seconds))
        backend.shutdown()
    finally:
        if cluster is not None:
            cluster.close()
    for name, got in fitness.items():
        assert got == fitness["local resident"][: len(got)], f"{name} fitness {got} differs from local resident {fitness['local resident']}"
    print(f"tiny-zoo merge candidates, seconds per candidate ({'two-node cluster' if cluster else 'local ray.init(num_cpus=1)'})")
    print(f"{'path':<40}{'n':>4}{'first':>8}{'median rest':>13}{'mean':>8}")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
