"""Scale of the lineage archive: ingest, queries and reindex for N synthetic candidates.

    python benchmarks/archive_scale.py --n 10000 [--json] [--keep DIR]

The lineage is realistic: 8 sources, then each candidate a merge (75%) or a code edit
(25%) of one or two parents drawn from the 200 best succeeded so far (crossover 40%),
recorded as `proposed` and then given a result (succeeded 80%, failed 12%, invalid 8%,
with reasons), three tasks of metrics and a fitness; every 50th gets a review. Ingest
goes through the public API, one `record` and one `attach_result` per candidate, exactly
as a search does. Queries are the median of 20 runs. `cli_candidates_s` is the wall time
of a cold `clade candidates --json` subprocess; `ingest_cpu_s` the CPU time the ingest
took in this process, a figure that depends less on how busy the machine is, and
`calibration_s` a fixed CPU loop (about 0.15-0.2 s on an idle core) to judge that. Targets at N = 10,000 on 2 cores:
ingest <= 60 s, each query <= 100 ms, reindex <= 10 s, `clade candidates` < 1.5 s.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from archive import Archive, Candidate, Proposer, ResultEvent, Review, SplitMetrics  # noqa: E402
from archive.secrets import Redactor  # noqa: E402

TASKS = {"arc": ("acc", "acc_norm"), "gsm8k": ("exact_match",), "ppl": ("bits_per_byte",)}


def synthetic(rng: random.Random, parents: list[str], i: int) -> Candidate:
    strategy = rng.choice(["evolution", "llm", "hybrid"])
    proposer = Proposer(
        strategy=strategy,
        model="gpt-4o-mini" if strategy != "evolution" else None,
        template_hash=f"{rng.getrandbits(64):016x}",
        rationale=f"Candidate {i}: " + "shift weight toward the math parent; " * rng.randint(1, 4),
    )
    if rng.random() < 0.75:
        recipe = {
            "merge_method": rng.choice(["linear", "ties", "dare_ties", "slerp"]),
            "base_model": "base",
            "dtype": "float32",
            "models": [
                {
                    "model": f"src{rng.randrange(8)}",
                    "parameters": {"weight": round(rng.random(), 3), "density": [round(rng.random(), 2) for _ in range(4)]},
                }
                for _ in range(2)
            ],
        }
        return Candidate(kind="merge", parents=parents, genotype={"recipe": recipe}, proposer=proposer)
    files = {
        "train.py": f"lr = {rng.random():.5f}\nsteps = {rng.randrange(100, 1000)}\n" * 5,
        "model/config.py": f"layers = {rng.randrange(2, 12)}\n",
    }
    return Candidate(kind="code", parents=parents, genotype={"files": files, "command": ["python", "train.py"]}, proposer=proposer)


def result(rng: random.Random, parent_fitness: float) -> ResultEvent:
    roll = rng.random()
    if roll > 0.92:
        return ResultEvent(status="invalid", reason="recipe names a layer range past the model's 24 layers")
    if roll > 0.80:
        return ResultEvent(
            status="failed", reason="evaluation ran out of memory at batch 3", logs="Traceback ...\nRuntimeError: CUDA out of memory\n" * 20
        )
    tasks = {t: {m: round(rng.random(), 4) for m in metrics} for t, metrics in TASKS.items()}
    fitness = min(1.0, max(0.0, parent_fitness + rng.gauss(0.005, 0.03)))
    return ResultEvent(
        status="succeeded", metrics={"search": SplitMetrics(fitness=fitness, tasks=tasks)}, cost={"compute_s": rng.uniform(10, 90)}
    )


def ingest(archive: Archive, n: int, rng: random.Random) -> tuple[list[str], float, float]:
    start, cpu = time.perf_counter(), time.process_time()
    fitness: dict[str, float] = {}
    ids = []
    for s in range(min(8, n)):
        cid = archive.record(Candidate(kind="source", genotype={"name": f"src{s}", "path": f"/models/src{s}"}))
        archive.attach_result(cid, ResultEvent(status="succeeded", metrics={"search": SplitMetrics(fitness=0.3 + 0.02 * s)}))
        fitness[cid] = 0.3 + 0.02 * s
        ids.append(cid)
    pool = sorted(fitness, key=fitness.get, reverse=True)
    for i in range(len(ids), n):
        parents = rng.sample(pool[:200], 2 if rng.random() < 0.4 and len(pool) > 1 else 1)
        cid = archive.record(synthetic(rng, parents, i))
        res = result(rng, max(fitness[p] for p in parents))
        archive.attach_result(cid, res)
        if i % 50 == 0:
            archive.attach_review(cid, Review(verdict="comment", comment="looks promising; check held-out", who="bench"))
        ids.append(cid)
        if res.status == "succeeded":
            fitness[cid] = res.metrics["search"].fitness
            if i % 20 == 0:
                pool = sorted(fitness, key=fitness.get, reverse=True)
            else:
                pool.append(cid)
    return ids, time.perf_counter() - start, time.process_time() - cpu


def median_ms(fn, runs: int = 20) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def calibration_s() -> float:
    """A fixed CPU-bound loop: about 0.15-0.2 s on an idle core; more means a busy machine."""
    t = time.perf_counter()
    sum(range(10**7))
    return time.perf_counter() - t


def measure(root: Path, n: int, seed: int) -> dict:
    rng = random.Random(seed)
    (root / "clade.yaml").write_text("version: 1\narchive:\n  path: archive\n")
    with Archive.open(root / "archive", create=True, redactor=Redactor()) as archive:
        ids, ingest_s, ingest_cpu_s = ingest(archive, n, rng)
        deep = ids[-1]
        figures = {
            "n": n,
            "ingest_s": ingest_s,
            "ingest_cpu_s": ingest_cpu_s,
            "top_ms": median_ms(lambda: archive.top(10)),
            "lineage_ms": median_ms(lambda: (archive.ancestors(deep), archive.descendants(ids[0]))),
            "pareto_ms": median_ms(lambda: archive.pareto(), runs=5),
            "summary_ms": median_ms(lambda: archive.summary(max_tokens=1500), runs=5),
            "ancestors_of_last": len(archive.ancestors(deep)),
        }
        t = time.perf_counter()
        archive.reindex()
        figures["reindex_s"] = time.perf_counter() - t
        figures["packs"] = len(list((archive.git_dir / "objects" / "pack").glob("*.idx")))
    figures["cli_candidates_s"] = cli_time(root)
    figures["calibration_s"] = calibration_s()
    return figures


def cli_time(root: Path) -> float:
    clade = Path(sys.executable).with_name("clade")
    t = time.perf_counter()
    subprocess.run([str(clade), "candidates", "--json", "--workspace", str(root)], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--keep", metavar="DIR", help="build the workspace here and keep it")
    args = parser.parse_args()
    if args.keep:
        Path(args.keep).mkdir(parents=True, exist_ok=False)
        figures = measure(Path(args.keep), args.n, args.seed)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            figures = measure(Path(tmp), args.n, args.seed)
    if args.json:
        print(json.dumps(figures))
    else:
        print(f"{'measure':<20}{'value':>12}")
        for key, value in figures.items():
            print(f"{key:<20}{value:>12.3f}" if isinstance(value, float) else f"{key:<20}{value:>12}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
