"""Where each candidate goes in the lineage graph: a layered layout (pure functions).

A candidate's depth is 0 for a source, else one more than its deepest parent (so every
edge points right). Candidates of one depth are split into columns by their group (a
search's generation, e.g. `s-…:evolution/parameters:g3`, given by the caller) in order of
first creation, and a group taller than `max_rows` is cut into several columns in creation
order: 20 merges of the same three sources are columns of generations, not one tall fan.
Within a column candidates are ordered by the mean row of their parents (the barycenter
heuristic, which keeps families together and edges short), ties by creation time and id.
Columns are laid out left to right, so a parent's row is known before its children are placed.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Placed:
    id: str
    column: int
    row: int


def generations(nodes: Sequence[tuple[str, Sequence[str]]]) -> dict[str, int]:
    """id -> generation, by Kahn's algorithm over (id, parents) (no recursion: chains may be 10,000 long).
    Parents missing from `nodes` are ignored."""
    known = {cid for cid, _ in nodes}
    waiting = {cid: len({p for p in parents if p in known}) for cid, parents in nodes}
    children: dict[str, list[str]] = defaultdict(list)
    for cid, parents in nodes:
        for p in {p for p in parents if p in known}:
            children[p].append(cid)
    depth = {cid: 0 for cid, n in waiting.items() if n == 0}
    queue = deque(depth)
    while queue:
        node = queue.popleft()
        for child in children[node]:
            depth[child] = max(depth.get(child, 0), depth[node] + 1)
            waiting[child] -= 1
            if waiting[child] == 0:
                queue.append(child)
    return depth


MAX_ROWS = 16


def layout(nodes: Sequence[tuple], max_rows: int = MAX_ROWS) -> list[Placed]:
    """Place (id, parents, created_at[, group]) nodes in columns by depth and group, rows by barycenter."""
    parents_of = {n[0]: list(n[1]) for n in nodes}
    created = {n[0]: n[2] for n in nodes}
    group = {n[0]: n[3] if len(n) > 3 else "" for n in nodes}
    depth = generations([(cid, parents) for cid, parents in parents_of.items()])
    columns = _columns(sorted(created, key=lambda c: (created[c], c)), depth, group, max_rows)
    row: dict[str, int] = {}
    placed = []
    for column in sorted(columns):
        ordered = sorted(columns[column], key=lambda cid: (_barycenter(parents_of[cid], row), created[cid], cid))
        for i, cid in enumerate(ordered):
            row[cid] = i
            placed.append(Placed(cid, column, i))
    return placed


def _columns(ordered: list[str], depth: dict[str, int], group: dict[str, str], max_rows: int) -> dict[int, list[str]]:
    """Column index -> its candidates: depths left to right, each depth's groups in order of first creation."""
    buckets: dict[tuple[int, str], list[str]] = defaultdict(list)
    for cid in ordered:  # creation order: a bucket's position is its first member's
        buckets[(depth.get(cid, 0), group[cid])].append(cid)
    keys = sorted(buckets, key=lambda k: k[0])  # stable: creation order within a depth
    columns: dict[int, list[str]] = {}
    for key in keys:
        members = buckets[key]
        for start in range(0, len(members), max_rows):
            columns[len(columns)] = members[start : start + max_rows]
    return columns


def _barycenter(parents: Sequence[str], row: dict[str, int]) -> float:
    rows = [row[p] for p in parents if p in row]
    return sum(rows) / len(rows) if rows else -1.0
