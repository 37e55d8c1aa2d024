"""A writer process for the concurrency and kill -9 tests.

    python -m tests.archive.writer ARCHIVE TAG COUNT

Records COUNT merge candidates (parents drawn from what exists), printing `R <id>` when
`record` returned and `A <id>` when `attach_result` returned, flushed at once, so the
parent knows exactly which calls completed before it killed this process.
"""

from __future__ import annotations

import random
import sys

from archive import Archive, Candidate, ResultEvent, SplitMetrics
from archive.secrets import Redactor


def main(path: str, tag: str, count: int) -> None:
    rng = random.Random(tag)
    with Archive.open(path, create=True, redactor=Redactor()) as archive:
        pool = [c.id for c in archive.candidates()] or [archive.record(Candidate(kind="source", genotype={"name": f"root-{tag}"}))]
        for i in range(count):
            parents = rng.sample(pool, min(len(pool), rng.choice([1, 2])))
            genotype = {"recipe": {"merge_method": "linear", "tag": tag, "i": i, "models": [{"model": p} for p in parents]}}
            cid = archive.record(Candidate(kind="merge", parents=parents, genotype=genotype))
            print("R", cid, flush=True)
            archive.attach_result(cid, ResultEvent(status="succeeded", metrics={"search": SplitMetrics(fitness=rng.random())}))
            print("A", cid, flush=True)
            pool.append(cid)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
