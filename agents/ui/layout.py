"""Where each candidate goes in the lineage graph: a layered layout (pure functions).

A candidate's column is its generation: 0 for a source, else one more than its deepest
parent (so every edge points right). Within a column candidates are ordered by the mean
row of their parents (the barycenter heuristic, which keeps families together and edges
short), ties by creation time and id. Columns are laid out left to right, so a parent's
row is known before its children are placed.
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


def layout(nodes: Sequence[tuple[str, Sequence[str], str]]) -> list[Placed]:
    """Place (id, parents, created_at) nodes in columns by generation and rows by barycenter."""
    parents_of = {cid: [p for p in parents] for cid, parents, _ in nodes}
    created = {cid: at for cid, _, at in nodes}
    depth = generations([(cid, parents) for cid, parents, _ in nodes])
    columns: dict[int, list[str]] = defaultdict(list)
    for cid in created:
        columns[depth.get(cid, 0)].append(cid)
    row: dict[str, int] = {}
    placed = []
    for column in sorted(columns):
        ordered = sorted(columns[column], key=lambda cid: (_barycenter(parents_of[cid], row), created[cid], cid))
        for i, cid in enumerate(ordered):
            row[cid] = i
            placed.append(Placed(cid, column, i))
    return placed


def _barycenter(parents: Sequence[str], row: dict[str, int]) -> float:
    rows = [row[p] for p in parents if p in row]
    return sum(rows) / len(rows) if rows else -1.0
