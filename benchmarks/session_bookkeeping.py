"""Per-round bookkeeping of a search session over a large archive.

    python benchmarks/session_bookkeeping.py [--n 10000] [--session 200] [--json]

Builds an archive of N synthetic candidates (benchmarks/archive_scale.py's lineage), of which the
last `--session` belong to one search session (settled: results and lessons attached; 4 of them
still running), then times, median of 20, what the loop does with the archive every round apart
from choosing parents: observe (the session's count, what waits to run, the queue), the session's
history for the context, and the progress snapshot. `before` repeats what the loop did until this
change (every history read as a `get` per candidate, three times a round; what waits found by
listing every candidate of a status); `after` is the code as it is (indexed session and status
columns, a history loaded once and extended). Target at N = 10,000: under 20 ms.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from archive_scale import result, synthetic

from agents.budget import Budget, BudgetConfig
from agents.init_cmd import copy_example
from agents.session import context, planning
from agents.session.executor import make_executor
from agents.session.report import progress
from agents.session.runtime import Runtime
from agents.workspace import load_workspace
from archive import Archive, Candidate, ResultEvent, SplitMetrics
from archive.secrets import Redactor
from sandbox.fake import FakeSandbox

SESSION = "s-20261205-0000-beef"


class Idle:
    name = "idle"

    def propose(self, ctx):
        return []


def build(archive: Archive, n: int, in_session: int, rng: random.Random) -> None:
    sources = []
    for s in range(8):
        cid = archive.record(Candidate(kind="source", genotype={"name": f"src{s}", "path": f"/models/src{s}"}))
        archive.attach_result(cid, ResultEvent(status="succeeded", metrics={"search": SplitMetrics(fitness=0.3 + 0.02 * s)}))
        sources.append(cid)
    pool = list(sources)
    for i in range(8, n):
        c = synthetic(rng, rng.sample(pool[-200:], 1), i)
        mine = i >= n - in_session
        if mine:
            c = c.model_copy(update={"proposer": c.proposer.model_copy(update={"session": SESSION})})
        cid = archive.record(c)
        if mine and i >= n - 4:
            archive.attach_result(cid, ResultEvent(status="running"))
            continue
        res = result(rng, 0.4)
        archive.attach_result(cid, res)
        if mine:
            archive.attach_result(cid, ResultEvent(lesson="a rule-based lesson."))
        if res.status == "succeeded":
            pool.append(cid)


def median_ms(fn, runs: int = 20) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def before(rt: Runtime) -> None:
    a = rt.archive
    len(a.session_candidates(SESSION))
    mine = set(a.session_candidates(SESSION))
    {c.id for status in ("proposed", "running") for c in a.candidates(status=status) if c.id in mine}
    a.queued()
    for _ in range(3):  # the context, the progress snapshot, the lessons
        [a.get(cid) for cid in a.session_candidates(SESSION)]


def after(rt: Runtime) -> None:
    planning.observe({"session": SESSION}, rt)
    context.unfinished(rt, SESSION)
    rt.history(SESSION)
    progress(rt, SESSION)


def measure(n: int, in_session: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "ws"
        copy_example("tiny-zoo", root)
        workspace = load_workspace(root)
        with Archive.open(root / "archive", create=True, redactor=Redactor()) as archive:
            t = time.perf_counter()
            build(archive, n, in_session, random.Random(0))
            built = time.perf_counter() - t
            executor = make_executor(workspace, FakeSandbox())
            rt = Runtime(
                workspace=workspace,
                archive=archive,
                executor=executor,
                budget=Budget(BudgetConfig(candidates=10 * n)),
                strategy=Idle(),
                make_fallback=None,
            )
            rt.history(SESSION)  # a round has run before
            figures = {
                "n": n,
                "session_candidates": in_session,
                "build_s": round(built, 1),
                "before_ms": round(median_ms(lambda: before(rt)), 2),
                "after_ms": round(median_ms(lambda: after(rt)), 2),
            }
            executor.close()
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--session", type=int, default=200)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    figures = measure(args.n, args.session)
    if args.json:
        print(json.dumps(figures))
    else:
        width = max(len(k) for k in figures)
        print("\n".join(f"{k:<{width}}  {v}" for k, v in figures.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
