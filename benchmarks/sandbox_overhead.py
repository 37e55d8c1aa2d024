"""Per-job overhead of the sandbox: start to result for an empty job, per backend.

    nice .venv/bin/python benchmarks/sandbox_overhead.py [--reps N] [--docker-image IMAGE]

Rows: a bare subprocess (`/bin/true`, no sandbox) as the floor; `/bin/true` under the local
and docker backends (`run`, exactly what `clade sandbox exec` does); and a whole empty job
through the worker (`execute`: job.json, Python start-up, result.json), next to the same worker run as a
bare subprocess. The added cost of isolation is a row's median minus its bare counterpart's. Targets: local < 150 ms, docker < 1.5 s.
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
from sandbox.job import CommandWork, EvaluationSpec, Job  # noqa: E402
from sandbox.runner import prepare  # noqa: E402

EMPTY = [sys.executable, "-c", "import json; print(json.dumps({'fitness': 0.0}))"]


def timed(fn, reps: int) -> list[float]:
    fn()  # warm-up: detection probes, image cache, imports
    samples = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples


def backends(image: str, root: Path) -> dict:
    from sandbox.backends.local import LocalBackend

    found = {"local": LocalBackend(SandboxConfig(jobs_dir=str(root / "local")))}
    try:
        from sandbox.backends.docker import DockerBackend, connect

        connect()
        found["docker"] = DockerBackend(
            SandboxConfig(backend="docker", jobs_dir=str(root / "docker"), docker=DockerConfig(image=image, mount_host_python=True))
        )
    except Exception as exc:  # the table says why docker is missing
        print(f"docker: skipped ({exc})", file=sys.stderr)
    return found


def rows(reps: int, image: str) -> list[tuple[str, list[float]]]:
    root = Path(tempfile.mkdtemp(prefix="clade-bench-"))
    table = [("bare subprocess /bin/true", timed(lambda: subprocess.run(["/bin/true"], check=True), reps))]
    job = Job(id="empty", work=CommandWork(argv=EMPTY), evaluation=EvaluationSpec(), limits=Limits(wall_s=60))
    bare_dir = prepare(job, root / "bare")
    bare = [sys.executable, "-m", "sandbox.worker", str(bare_dir)]
    table.append(("bare subprocess: worker on empty job", timed(lambda: subprocess.run(bare, check=True, cwd=bare_dir), reps)))
    for name, backend in backends(image, root).items():
        job_dir = root / f"{name}-exec"
        job_dir.mkdir()
        table.append((f"{name}: run /bin/true", timed(lambda b=backend, d=job_dir: b.run(["/bin/true"], d, Limits(wall_s=60)), reps)))
        table.append((f"{name}: execute empty job (worker)", timed(lambda b=backend: b.execute(job), reps)))
    return table


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=10)
    parser.add_argument("--docker-image", default="clade-sandbox-test:latest")
    args = parser.parse_args()
    table = rows(args.reps, args.docker_image)
    floors = {"run": statistics.median(table[0][1]), "execute": statistics.median(table[1][1])}
    print(f"{'case':<42} {'median ms':>10} {'p90 ms':>8} {'added by isolation ms':>22}")
    for name, samples in table:
        med, p90 = statistics.median(samples), sorted(samples)[int(0.9 * (len(samples) - 1))]
        floor = floors["execute" if "worker" in name else "run"]
        print(f"{name:<42} {med * 1000:>10.1f} {p90 * 1000:>8.1f} {(med - floor) * 1000:>22.1f}")


if __name__ == "__main__":
    main()
