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

COLUMNS = "c.id, c.kind, c.status, c.strategy, c.created_at, c.reason, f.value, c.name, c.session, c.verdict, f.stage"
FILTERS = """(? IS NULL OR c.status = ?) AND (? IS NULL OR c.kind = ?) AND (? IS NULL OR c.strategy = ?)
AND (? IS NULL OR c.session = ?) AND (? IS NULL OR COALESCE(c.verdict, 'none') = ?)"""
LIST_SQL = f"""
SELECT {COLUMNS}
FROM candidates c LEFT JOIN fitness f ON f.id = c.id AND f.split = ?
WHERE {FILTERS}
ORDER BY f.value IS NULL, f.stage = 'cascade', f.value DESC, f.id, c.created_at DESC, c.id
LIMIT ?
"""
TOP_SQL = f"""
SELECT {COLUMNS}
FROM fitness f JOIN candidates c ON c.id = f.id
WHERE f.split = ? AND f.value IS NOT NULL AND {FILTERS}
ORDER BY f.stage = 'cascade', f.value DESC, f.id
LIMIT ?
"""
SOME_SQL = f"""
SELECT {COLUMNS}
FROM candidates c LEFT JOIN fitness f ON f.id = c.id AND f.split = ? WHERE c.id IN ({{marks}})
"""
PARETO_SQL = """
SELECT '{' || group_concat('"' || f.id || '":' || f.metrics, ',') || '}'
FROM fitness f JOIN candidates c ON c.id = f.id WHERE f.split = ? AND c.status = 'succeeded'
"""  # one JSON object, parsed in one call: 10,000 rows of Python objects cost more than the query
SESSION_SQL = "SELECT id FROM candidates WHERE session = ? ORDER BY created_at, id"
QUEUED_SQL = """
SELECT id FROM candidates WHERE status = 'proposed' AND kind != 'source' AND session IS NULL ORDER BY created_at, id
"""
CHUNK = 500


class ArchiveQueries:
    index: "object"

    def candidates(
        self,
        *,
        split: str = "search",
        status: str | None = None,
        kind: str | None = None,
        proposer: str | None = None,
        top: int | None = None,
        with_metrics: bool = False,
        session: str | None = None,
        verdict: str | None = None,
    ) -> list[CandidateSummary]:
        """Summaries, best fitness on `split` first (ties by id; measurements cut by the cascade after the full
        ones; unscored last, newest first).
        `verdict`: approved, rejected or none (not reviewed either way)."""
        params = (split, status, status, kind, kind, proposer, proposer, session, session, verdict, verdict)
        rows = self.index.query(TOP_SQL, (*params, top)) if top is not None else []
        if top is None or len(rows) < top:  # all, or fewer scored than asked: the unscored follow
            rows = self.index.query(LIST_SQL, (*params, -1 if top is None else top))
        ids = [r[0] for r in rows]
        whole = top is None
        parents, children = self._parents(ids, whole=whole), self.children_counts(None if whole else ids)
        metrics = self._metrics(split) if with_metrics else {}
        return [_summary(r, parents, children, metrics) for r in rows]

    def top(self, k: int, *, split: str = "search") -> list[CandidateSummary]:
        return self.candidates(split=split, status="succeeded", top=k)

    def _parents(self, ids: list[str], *, whole: bool) -> dict[str, list[str]]:
        if whole:
            rows = self.index.query("SELECT child, parent FROM edges ORDER BY child, pos")
        else:
            rows = [
                r
                for chunk in _chunks(ids)
                for r in self.index.query(
                    f"SELECT child, parent FROM edges WHERE child IN ({_marks(chunk)}) ORDER BY child, pos", tuple(chunk)
                )
            ]
        parents: dict[str, list[str]] = defaultdict(list)
        for child, parent in rows:
            parents[child].append(parent)
        return parents

    def _metrics(self, split: str) -> dict[str, dict[str, float]]:
        return {cid: json.loads(flat) for cid, flat in self.index.query("SELECT id, metrics FROM fitness WHERE split = ?", (split,))}

    def children_counts(self, ids: list[str] | None = None) -> dict[str, int]:
        """Candidate -> number of children (for `ids`, or every candidate with children)."""
        if ids is None:
            return dict(self.index.query("SELECT parent, COUNT(*) FROM edges GROUP BY parent"))
        counts: dict[str, int] = {}
        for chunk in _chunks(ids):
            counts.update(
                self.index.query(f"SELECT parent, COUNT(*) FROM edges WHERE parent IN ({_marks(chunk)}) GROUP BY parent", tuple(chunk))
            )
        return counts

    def ancestors(self, ref: str) -> list[str]:
        """Every ancestor, nearest first (parents, grandparents, ... down to the sources); ties by id."""
        return self._walk(self.resolve(ref), "child", "parent")

    def descendants(self, ref: str) -> list[str]:
        """Every descendant, nearest first; ties by id. (One read of all edges: a root's descendants
        are most of the archive, so a query per level would cost more.)"""
        children: dict[str, list[str]] = defaultdict(list)
        for parent, child in self.index.query("SELECT parent, child FROM edges"):
            children[parent].append(child)
        start = self.resolve(ref)
        seen, order, frontier = {start}, [], [start]
        while frontier:
            level = {c for node in frontier for c in children.get(node, ()) if c not in seen}
            seen |= level
            frontier = sorted(level)
            order += frontier
        return order

    def _walk(self, start: str, here: str, there: str) -> list[str]:
        """Breadth-first over the edges, one query per level (each candidate listed at its nearest depth)."""
        seen, order, frontier = {start}, [], [start]
        while frontier:
            level = set()
            for chunk in _chunks(frontier):
                rows = self.index.query(f"SELECT {there} FROM edges WHERE {here} IN ({_marks(chunk)})", tuple(chunk))
                level.update(r[0] for r in rows if r[0] not in seen)
            seen |= level
            frontier = sorted(level)
            order += frontier
        return order

    def find_genotype(self, genotype_hash: str) -> list[str]:
        """Ids of candidates with this genotype hash (`Candidate.genotype_hash()`): the dedupe check."""
        return [r[0] for r in self.index.query("SELECT id FROM candidates WHERE genotype_hash = ? ORDER BY created_at", (genotype_hash,))]

    def _named(self, name: str) -> list[tuple[str, str]]:
        """(id, path) of the sources named `name`, oldest first."""
        rows = self.index.query(
            "SELECT c.id, json_extract(r.base, '$.genotype.path') FROM candidates c JOIN records r ON r.id = c.id "
            "WHERE c.name = ? ORDER BY c.created_at, c.id",
            (name,),
        )
        return [(cid, path or "") for cid, path in rows]

    def _one_named(self, name: str, named: list[tuple[str, str]]) -> str:
        if len(named) > 1:
            which = ", ".join(f"{cid} ({path or 'no path'})" for cid, path in named)
            raise BadInput(f"source {name}: {len(named)} sources have this name ({which}); give an id")
        return named[0][0]

    def source_names(self) -> dict[str, str]:
        """Source id -> its name (clade.yaml's `sources:` names, `base`): shown beside ids."""
        return dict(self.index.query("SELECT id, name FROM candidates WHERE name IS NOT NULL ORDER BY created_at, id"))

    def sessions(self) -> dict[str, dict]:
        """Session id -> what its candidates are: {candidates, succeeded, failed, invalid, rejected, ...} counts by status."""
        out: dict[str, dict] = defaultdict(dict)
        for session, status, n in self.index.query(
            "SELECT session, status, COUNT(*) FROM candidates WHERE session IS NOT NULL GROUP BY 1, 2"
        ):
            out[session][status] = n
        return dict(out)

    def session_candidates(self, session: str, *, status: tuple[str, ...] | None = None) -> list[str]:
        """Ids of the candidates a search session proposed (`proposer.session`), oldest first; with `status`,
        only those in one of these states (both indexed columns)."""
        if status is None:
            return [r[0] for r in self.index.query(SESSION_SQL, (session,))]
        sql = f"SELECT id FROM candidates WHERE session = ? AND status IN ({_marks(list(status))}) ORDER BY created_at, id"
        return [r[0] for r in self.index.query(sql, (session, *status))]

    def queued(self) -> list[str]:
        """Ids of candidates proposed outside any session (a person, `clade chat`) and not run yet, oldest first."""
        return [r[0] for r in self.index.query(QUEUED_SQL)]

    def pareto(self, *, split: str = "search", objectives: list[str] | None = None) -> list[CandidateSummary]:
        """Succeeded candidates no other dominates on `objectives` (`task/metric`, `-task/metric` to minimise;
        default: every task metric of the split, maximised). Candidates lacking an objective are left out."""
        vectors = json.loads(self.index.query(PARETO_SQL, (split,))[0][0] or "{}")
        names = objectives or sorted({m for v in vectors.values() for m in v})
        if not names:
            raise BadInput(f"pareto: no task metrics on split {split!r}; record results with per-task metrics first")
        signs = [(n[1:], -1.0) if n.startswith("-") else (n, 1.0) for n in names]
        points = {cid: [s * v[n] for n, s in signs] for cid, v in vectors.items() if all(n in v for n, _ in signs)}
        front = pareto_front(points)
        return self._summaries(front, split, {cid: vectors[cid] for cid in front})

    def _summaries(self, ids: list[str], split: str, metrics: dict[str, dict[str, float]]) -> list[CandidateSummary]:
        rows = [r for chunk in _chunks(ids) for r in self.index.query(SOME_SQL.format(marks=_marks(chunk)), (split, *chunk))]
        parents, children = self._parents(ids, whole=False), self.children_counts(ids)
        return [_summary(r, parents, children, metrics) for r in sorted(rows, key=lambda r: (r[6] is None, -(r[6] or 0), r[0]))]

    def diff(self, a: str, b: str) -> str:
        """Unified diff of two candidates' genotypes (recipe.yaml, or the workspace files and command)."""
        left, right = self._genotype_text(a), self._genotype_text(b)
        ida, idb = self.resolve(a), self.resolve(b)
        out = []
        for path in sorted(left.keys() | right.keys()):
            old, new = left.get(path), right.get(path)
            if old == new:
                continue
            out += difflib.unified_diff(
                (old or "").splitlines(True),
                (new or "").splitlines(True),
                f"{ida}/{path}" if old is not None else "/dev/null",
                f"{idb}/{path}" if new is not None else "/dev/null",
            )
        return "".join(line if line.endswith("\n") else line + "\n" for line in out)

    def diff_note(self, a: str, b: str) -> str | None:
        """Why two candidates' genotypes do not diff (a source model against a merge or code candidate), or None."""
        left, right = self.get(a), self.get(b)
        model = lambda c: c.kind == "source" and not c.genotype.files
        if model(left) == model(right):
            return None
        src, other = (left, right) if model(left) else (right, left)
        name = src.genotype.name
        uses = (
            f"; the recipe of {other.id} uses it as `{name}`" if other.kind == "merge" and name in json.dumps(other.genotype.recipe) else ""
        )
        return (
            f"{src.id} is the source model {name} ({src.genotype.path or 'no path'}) and {other.id} a {other.kind} candidate: "
            f"a model directory has no genotype to diff against{uses}"
        )

    def _genotype_text(self, ref: str) -> dict[str, str]:
        files = self.files(ref)
        record = json.loads(files.pop("candidate.json"))
        view = {p: content.decode("utf-8", "replace") for p, content in files.items()}
        genotype = {k: v for k, v in record["genotype"].items() if k not in ("recipe", "files")}
        if genotype:
            view["genotype.json"] = json.dumps(genotype, indent=2, sort_keys=True) + "\n"
        return view

    def summary(
        self,
        *,
        max_tokens: int = 1500,
        split: str = "search",
        best: int = 10,
        failures: int = 10,
        reviews: int = 10,
        metric_of: dict[str, str] | None = None,
    ) -> str:
        """A compact text view for an LLM's context, at most `max_tokens` (estimated as characters / 4);
        `metric_of` (task -> fitness metric) picks the per-task score shown."""
        counts = dict(self.index.query("SELECT status, COUNT(*) FROM candidates GROUP BY status"))
        top = [self.get(c.id) for c in self.top(best, split=split)]
        failed_ids = self.index.query(
            "SELECT id FROM candidates WHERE status IN ('failed','invalid','rejected') ORDER BY created_at DESC LIMIT ?", (failures,)
        )
        reviewed = self.index.query(
            "SELECT c.id FROM records r JOIN candidates c ON c.id = r.id WHERE r.state LIKE '%\"reviews\":[{%' "
            "ORDER BY c.created_at DESC LIMIT ?",
            (reviews,),
        )
        return render_summary(
            counts,
            top,
            [self.get(r[0]) for r in failed_ids],
            [self.get(r[0]) for r in reviewed],
            split=split,
            max_tokens=max_tokens,
            metric_of=metric_of,
        )


def _summary(r: tuple, parents: dict, children: dict, metrics: dict) -> CandidateSummary:
    return CandidateSummary(
        id=r[0],
        kind=r[1],
        status=r[2],
        strategy=r[3],
        created_at=r[4],
        reason=r[5],
        fitness=r[6],
        name=r[7],
        session=r[8],
        verdict=r[9],
        stage=r[10] or "full",
        parents=tuple(parents.get(r[0], ())),
        children=children.get(r[0], 0),
        metrics=metrics.get(r[0], {}),
    )


def _chunks(items: list[str]) -> list[list[str]]:
    return [items[i : i + CHUNK] for i in range(0, len(items), CHUNK)]


def _marks(chunk: list[str]) -> str:
    return ",".join("?" * len(chunk))
