"""Text for people: the candidates table, one candidate, a lineage tree, two candidates side by
side (pure functions). A source is shown with its name beside its id: `4cf60f0899 (sorter)`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import yaml

from archive.record import Candidate
from archive.selection import CandidateSummary

LOG_LINES = 30
SPLITS = ("search", "test")


def _fitness(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def label(cid: str, names: Mapping[str, str]) -> str:
    """`id (name)` for a source, the id for anything else."""
    return f"{cid} ({names[cid]})" if cid in names else cid


def columns(header: Sequence[str], body: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns two spaces apart; the last column is not padded."""
    widths = [max(len(row[i]) for row in (header, *body)) for i in range(len(header) - 1)]
    return "\n".join(("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[-1]).rstrip() for row in (header, *body))


def candidates_table(rows: list[CandidateSummary], split: str, names: Mapping[str, str] | None = None) -> str:
    if not rows:
        return "no candidates"
    names = names or {}
    header = ("ID", "KIND", "STATUS", "REVIEW", f"FITNESS({split})", "CHILDREN", "BY", "PARENTS")
    body = [
        (
            label(r.id, names),
            r.kind,
            r.status,
            r.verdict or "-",
            _fitness(r.fitness) + (" cut" if r.stage == "cascade" else ""),
            str(r.children),
            r.strategy,
            ", ".join(label(p, names) for p in r.parents) or "-",
        )
        for r in rows
    ]
    return columns(header, body)


def show_text(c: Candidate, children: int, names: Mapping[str, str] | None = None, compared: Sequence[tuple[str, Candidate]] = ()) -> str:
    """One candidate in full; `compared`: (role, candidate) rows (parents, best source) for the metrics table."""
    names = names or {}
    verdict = c.verdict()
    lines = [
        f"candidate {label(c.id, names)}  {c.kind}  {c.status}"
        + (f": {c.reason}" if c.reason else "")
        + (f"  review: {verdict}" if verdict else ""),
        f"parents:  {', '.join(label(p, names) for p in c.parents) or '- (a source)'}   children: {children}",
        f"proposer: {c.proposer.strategy}"
        + (f" / {c.proposer.model}" if c.proposer.model else "")
        + (f"  session {c.proposer.session}" if c.proposer.session else "")
        + (f"  template {c.proposer.template_hash}" if c.proposer.template_hash else ""),
        f"created:  {c.created_at.isoformat()}",
        f"cost:     {c.cost.llm_tokens} LLM tokens, ${c.cost.dollars:.4f}, {c.cost.compute_s:.1f} s compute",
    ]
    if c.proposer.rationale:
        lines += ["rationale:", *("  " + line for line in c.proposer.rationale.splitlines())]
    if c.lesson:
        lines.append(f"lesson:   {c.lesson}")
    for split, m in sorted(c.metrics.items()):
        cut = " (cut by the evaluation cascade: first examples only, never ranked best)" if m.stage == "cascade" else ""
        lines.append(f"metrics [{split}]: fitness {_fitness(m.fitness)}{cut}")
        lines += [f"  {task}: " + ", ".join(f"{k}={v:.4g}" for k, v in sorted(vals.items())) for task, vals in sorted(m.tasks.items())]
    if compared:
        lines += ["fitness beside its relatives:", *("  " + line for line in fitness_table([("this", c), *compared], names).splitlines())]
    lines += [f"review: {r.verdict} by {r.who} at {r.at.isoformat()}" + (f": {r.comment}" if r.comment else "") for r in c.reviews]
    return "\n".join(lines + ["genotype:", *_genotype_lines(c), *_log_lines(c.logs)])


def fitness_table(rows: Sequence[tuple[str, Candidate]], names: Mapping[str, str]) -> str:
    splits = [*SPLITS, *sorted({s for _, x in rows for s in x.metrics} - set(SPLITS))]
    return columns(("", *splits), [(f"{role} {label(x.id, names)}", *(_fitness(x.fitness(s)) for s in splits)) for role, x in rows])


def _genotype_lines(c: Candidate) -> list[str]:
    g = c.genotype
    if c.kind == "merge":
        return ["  " + line for line in yaml.safe_dump(g.recipe, sort_keys=False).splitlines()]
    lines = [f"  name: {g.name}", f"  path: {g.path}"] if c.kind == "source" else [f"  command: {' '.join(g.command) or '-'}"]
    return lines + [f"  file: {path} ({len(text)} chars)" for path, text in sorted(g.files.items())]


def _log_lines(logs: str) -> list[str]:
    if not logs:
        return []
    lines = logs.splitlines()
    cut = [f"  ({len(lines) - LOG_LINES} earlier lines; `clade show ID --json` prints them)"] if len(lines) > LOG_LINES else []
    return ["logs:", *cut, *("  " + line for line in lines[-LOG_LINES:])]


def lineage_text(cid: str, rows: dict[str, CandidateSummary], descendants: list[str]) -> str:
    """The ancestry as a tree (each candidate expanded once), then the descendants."""
    names = {i: r.name for i, r in rows.items() if r.name}
    lines: list[str] = []
    seen: set[str] = set()
    stack = [(cid, "", "")]
    while stack:
        node, lead, branch = stack.pop()
        r = rows[node]
        repeat = node in seen
        lines.append(
            f"{lead}{branch}{label(node, names)} {r.kind} {r.status}{' ' + r.verdict if r.verdict else ''} "
            f"fitness={_fitness(r.fitness)}" + (" (shown above)" if repeat else "")
        )
        if repeat:
            continue
        seen.add(node)
        child_lead = lead + ("    " if branch in ("", "└── ") else "│   ") if branch else lead
        for i, parent in reversed(list(enumerate(r.parents))):
            stack.append((parent, child_lead, "└── " if i == len(r.parents) - 1 else "├── "))
    shown = ", ".join(label(d, names) for d in descendants[:20]) + (f" ... ({len(descendants) - 20} more)" if len(descendants) > 20 else "")
    return "\n".join(lines + [f"descendants: {len(descendants)}" + (f": {shown}" if descendants else "")])


def metric_rows(a: Candidate, b: Candidate) -> list[dict]:
    """Every split's fitness and task metric of either candidate: {split, metric, a, b, delta} (b - a), fitness first."""
    out = []
    for split in sorted(a.metrics.keys() | b.metrics.keys(), key=lambda s: (s not in SPLITS, s)):
        ma, mb = a.metrics.get(split), b.metrics.get(split)
        flat = lambda m: {} if m is None else {f"{t}/{k}": v for t, vals in m.tasks.items() for k, v in vals.items()}
        fa, fb = flat(ma), flat(mb)
        rows = [("fitness", ma.fitness if ma else None, mb.fitness if mb else None)]
        rows += [(name, fa.get(name), fb.get(name)) for name in sorted(fa.keys() | fb.keys())]
        out += [{"split": split, "metric": name, "a": x, "b": y, "delta": None if x is None or y is None else y - x} for name, x, y in rows]
    return out


def metrics_side_by_side(a: Candidate, b: Candidate, names: Mapping[str, str]) -> str:
    """Per split and task, A's and B's metrics and B - A: what `clade diff A B` prints above the genotype diff."""
    rows = metric_rows(a, b)
    if not rows:
        return "metrics: neither candidate has been measured"
    delta = lambda d: "-" if d is None else f"{d:+.4f}"
    body = [(r["split"], r["metric"], _fitness(r["a"]), _fitness(r["b"]), delta(r["delta"])) for r in rows]
    return columns(("SPLIT", "METRIC", f"A {label(a.id, names)}", f"B {label(b.id, names)}", "B-A"), body)
