"""Queries over the index: listings, top-k, lineage, Pareto front, genotype diff, LLM summary.

Mixed into `Archive`; every method reads the SQLite index (or, for `diff`, the two git
trees), never the whole repository.
"""

from __future__ import annotations

import difflib
import json
from collections import defaultdict

from archive.selection import CandidateSummary, pareto_front
from archive.summary import render_summary
from tools.errors import BadInput

LIST_SQL = """
SELECT c.id, c.kind, c.status, c.strategy, c.created_at, c.reason, f.value
FROM candidates c LEFT JOIN fitness f ON f.id = c.id AND f.split = ?
WHERE (? IS NULL OR c.status = ?) AND (? IS NULL OR c.kind = ?) AND (? IS NULL OR c.strategy = ?)
ORDER BY f.value IS NULL, f.value DESC, c.created_at DESC, c.id
LIMIT ?
"""
LINEAGE_SQL = """
WITH RECURSIVE walk(id, depth) AS (
  SELECT ?, 0
  UNION SELECT e.{next}, walk.depth + 1 FROM edges e JOIN walk ON e.{this} = walk.id
)
SELECT id, MIN(depth) FROM walk WHERE depth > 0 GROUP BY id ORDER BY MIN(depth), id
"""


class ArchiveQueries:
    index: "object"

    def candidates(self, *, split: str = "search", status: str | None = None, kind: str | None = None,
                   proposer: str | None = None, top: int | None = None, with_metrics: bool = False) -> list[CandidateSummary]:
        """Summaries, best fitness on `split` first (unscored last, newest first)."""
        rows = self.index.query(LIST_SQL, (split, status, status, kind, kind, proposer, proposer, -1 if top is None else top))
        ids = [r[0] for r in rows]
        parents, children = self._parents(ids, whole=top is None), self.children_counts()
        metrics = self._metrics(split) if with_metrics else {}
        return [CandidateSummary(id=r[0], kind=r[1], status=r[2], strategy=r[3], created_at=r[4], reason=r[5], fitness=r[6],
                                 parents=tuple(parents.get(r[0], ())), children=children.get(r[0], 0), metrics=metrics.get(r[0], {}))
                for r in rows]

    def top(self, k: int, *, split: str = "search") -> list[CandidateSummary]:
        return self.candidates(split=split, status="succeeded", top=k)

    def _parents(self, ids: list[str], *, whole: bool) -> dict[str, list[str]]:
        if whole:
            rows = self.index.query("SELECT child, parent FROM edges ORDER BY child, pos")
        else:
            marks = ",".join("?" * len(ids))
            rows = self.index.query(f"SELECT child, parent FROM edges WHERE child IN ({marks}) ORDER BY child, pos", tuple(ids))
        parents: dict[str, list[str]] = defaultdict(list)
        for child, parent in rows:
            parents[child].append(parent)
        return parents

    def _metrics(self, split: str) -> dict[str, dict[str, float]]:
        out: dict[str, dict[str, float]] = defaultdict(dict)
        for cid, task, metric, value in self.index.query("SELECT id, task, metric, value FROM metrics WHERE split = ?", (split,)):
            out[cid][f"{task}/{metric}"] = value
        return out

    def children_counts(self) -> dict[str, int]:
        return dict(self.index.query("SELECT parent, COUNT(*) FROM edges GROUP BY parent"))

    def ancestors(self, ref: str) -> list[str]:
        """Every ancestor, nearest first (parents, grandparents, ... down to the sources)."""
        return [r[0] for r in self.index.query(LINEAGE_SQL.format(next="parent", this="child"), (self.resolve(ref),))]

    def descendants(self, ref: str) -> list[str]:
        return [r[0] for r in self.index.query(LINEAGE_SQL.format(next="child", this="parent"), (self.resolve(ref),))]

    def find_genotype(self, genotype_hash: str) -> list[str]:
        """Ids of candidates with this genotype hash (`Candidate.genotype_hash()`): the dedupe check."""
        return [r[0] for r in self.index.query("SELECT id FROM candidates WHERE genotype_hash = ? ORDER BY created_at", (genotype_hash,))]

    def pareto(self, *, split: str = "search", objectives: list[str] | None = None) -> list[CandidateSummary]:
        """Succeeded candidates no other dominates on `objectives` (`task/metric`, `-task/metric` to minimise;
        default: every task metric of the split, maximised)."""
        pool = self.candidates(split=split, status="succeeded", with_metrics=True)
        names = objectives or sorted({m for c in pool for m in c.metrics})
        if not names:
            raise BadInput(f"pareto: no task metrics on split {split!r}; record results with per-task metrics first")
        signs = [(n[1:], -1.0) if n.startswith("-") else (n, 1.0) for n in names]
        points = {c.id: [s * c.metrics[n] for n, s in signs] for c in pool if all(n in c.metrics for n, _ in signs)}
        front = set(pareto_front(points))
        return [c for c in pool if c.id in front]

    def diff(self, a: str, b: str) -> str:
        """Unified diff of two candidates' genotypes (recipe.yaml, or the workspace files and command)."""
        left, right = self._genotype_text(a), self._genotype_text(b)
        ida, idb = self.resolve(a), self.resolve(b)
        out = []
        for path in sorted(left.keys() | right.keys()):
            old, new = left.get(path), right.get(path)
            if old == new:
                continue
            out += difflib.unified_diff((old or "").splitlines(True), (new or "").splitlines(True),
                                        f"{ida}/{path}" if old is not None else "/dev/null",
                                        f"{idb}/{path}" if new is not None else "/dev/null")
        return "".join(line if line.endswith("\n") else line + "\n" for line in out)

    def _genotype_text(self, ref: str) -> dict[str, str]:
        files = self.files(ref)
        record = json.loads(files.pop("candidate.json"))
        view = {p: content.decode("utf-8", "replace") for p, content in files.items()}
        genotype = {k: v for k, v in record["genotype"].items() if k not in ("recipe", "files")}
        if genotype:
            view["genotype.json"] = json.dumps(genotype, indent=2, sort_keys=True) + "\n"
        return view

    def summary(self, *, max_tokens: int = 1500, split: str = "search", best: int = 10, failures: int = 10, reviews: int = 10) -> str:
        """A compact text view for an LLM's context, at most `max_tokens` (estimated as characters / 4)."""
        counts = dict(self.index.query("SELECT status, COUNT(*) FROM candidates GROUP BY status"))
        top = [self.get(c.id) for c in self.top(best, split=split)]
        failed_ids = self.index.query("SELECT id FROM candidates WHERE status IN ('failed','invalid','rejected') ORDER BY created_at DESC LIMIT ?", (failures,))
        reviewed = self.index.query("SELECT id FROM candidates WHERE state LIKE '%\"reviews\":[{%' ORDER BY created_at DESC LIMIT ?", (reviews,))
        return render_summary(counts, top, [self.get(r[0]) for r in failed_ids], [self.get(r[0]) for r in reviewed],
                              split=split, max_tokens=max_tokens)
