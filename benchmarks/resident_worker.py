"""Seconds per merge candidate on the tiny zoo: one-shot worker vs the resident worker.

    nice .venv/bin/python benchmarks/resident_worker.py [--candidates N] [--backend local|docker]

Both run the same N linear merges (different weights) through the same backend. One-shot:
`backend.execute(job)`, a fresh sandboxed `python -m sandbox.worker` per candidate (Python and
torch start-up, source loading, tokenisation every time). Resident: `ResidentPool.execute(job)`,
one worker that keeps the sources, the suite and the tokenizer; its first candidate pays the
start-up, the rest only merge and evaluate. Every fitness must agree between the two.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sandbox.config import DockerConfig, Limits, SandboxConfig  # noqa: E402
from sandbox.job import EvaluationSpec, Job, MergeWork  # noqa: E402
from sandbox.resident import ResidentPool  # noqa: E402


def suite_of(workspace):
    """The workspace's evaluation as a session's job carries it."""
    from agents.jobs import evaluation_config
    from agents.workspace import load_workspace

    return evaluation_config(load_workspace(workspace))


def jobs(zoo: Path, count: int) -> list[Job]:
    models = {name: str(zoo / "models" / name) for name in ("adder", "reverser", "sorter")}
    found = []
    for n in range(count):
        weight = 0.2 + 0.6 * n / max(1, count - 1)
        recipe = {
            "merge_method": "linear",
            "models": [{"model": "adder", "parameters": {"weight": weight}}, {"model": "sorter", "parameters": {"weight": 1 - weight}}],
        }
        found.append(
            Job(
                id=f"c{n}",
                work=MergeWork(recipe=recipe),
                models=models,
                evaluation=EvaluationSpec(suite=suite_of(zoo)),
                limits=Limits(wall_s=600),
            )
        )
    return found


def timed(run, items: list[Job]) -> tuple[list[float], list[float | None]]:
    seconds, fitness = [], []
    for job in items:
        start = time.perf_counter()
        result = run(job)
        seconds.append(time.perf_counter() - start)
        if result.status != "ok":
            raise SystemExit(f"{job.id}: {result.status}: {result.reason}\n{result.stderr[-2000:]}")
        fitness.append(result.fitness)
    return seconds, fitness


def backend_for(name: str, root: Path):
    if name == "docker":
        from sandbox.backends.docker import DockerBackend

        return DockerBackend(
            SandboxConfig(
                backend="docker",
                jobs_dir=str(root / "jobs"),
                docker=DockerConfig(image="clade-sandbox-test:latest", mount_host_python=True),
            )
        )
    from sandbox.backends.local import LocalBackend

    return LocalBackend(SandboxConfig(jobs_dir=str(root / "jobs")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=6)
    parser.add_argument("--backend", choices=["local", "docker"], default="local")
    args = parser.parse_args()
    from agents.init_cmd import copy_example

    root = Path(tempfile.mkdtemp(prefix="clade-bench-resident-"))
    copy_example("tiny-zoo", root / "zoo")
    subprocess.run(["chmod", "-R", "o+rX", str(root / "zoo")], check=True)  # the docker job's user (65534) reads it
    items, backend = jobs(root / "zoo", args.candidates), backend_for(args.backend, root)
    one_shot, expected = timed(backend.execute, items)
    with ResidentPool(backend, backend.config, [], root / "resident") as pool:
        resident, got = timed(pool.execute, items)
    assert got == expected, f"resident fitness {got} differs from one-shot {expected}"
    print(f"{args.candidates} tiny-zoo merge candidates, {args.backend} backend (seconds per candidate)")
    print(f"{'path':<34}{'first':>8}{'median rest':>13}{'mean':>8}")
    for name, seconds in (("one-shot (fresh worker each)", one_shot), ("resident (one worker)", resident)):
        print(f"{name:<34}{seconds[0]:>8.2f}{statistics.median(seconds[1:]):>13.2f}{statistics.mean(seconds):>8.2f}")


if __name__ == "__main__":
    main()
