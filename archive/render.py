"""Text for people: the candidates table, one candidate, a lineage tree (pure functions)."""

from __future__ import annotations

import yaml

from archive.record import Candidate
from archive.selection import CandidateSummary

LOG_LINES = 30


def _fitness(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def candidates_table(rows: list[CandidateSummary], split: str) -> str:
    if not rows:
        return "no candidates"
    header = ("ID", "KIND", "STATUS", f"FITNESS({split})", "CHILDREN", "PARENTS", "BY")
    body = [(r.id, r.kind, r.status, _fitness(r.fitness), str(r.children), ",".join(r.parents) or "-", r.strategy) for r in rows]
    widths = [max(len(row[i]) for row in (header, *body)) for i in range(len(header) - 1)]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[-1] for row in (header, *body))


def show_text(c: Candidate, children: int) -> str:
    lines = [f"candidate {c.id}  {c.kind}  {c.status}" + (f": {c.reason}" if c.reason else ""),
             f"parents:  {', '.join(c.parents) or '- (a source)'}   children: {children}",
             f"proposer: {c.proposer.strategy}" + (f" / {c.proposer.model}" if c.proposer.model else "")
             + (f"  template {c.proposer.template_hash}" if c.proposer.template_hash else ""),
             f"created:  {c.created_at.isoformat()}",
             f"cost:     {c.cost.llm_tokens} LLM tokens, ${c.cost.dollars:.4f}, {c.cost.compute_s:.1f} s compute"]
    if c.proposer.rationale:
        lines += ["rationale:", *("  " + line for line in c.proposer.rationale.splitlines())]
    for split, m in sorted(c.metrics.items()):
        lines.append(f"metrics [{split}]: fitness {_fitness(m.fitness)}")
        lines += [f"  {task}: " + ", ".join(f"{k}={v:.4g}" for k, v in sorted(vals.items())) for task, vals in sorted(m.tasks.items())]
    lines += [f"review: {r.verdict} by {r.who} at {r.at.isoformat()}" + (f": {r.comment}" if r.comment else "") for r in c.reviews]
    return "\n".join(lines + ["genotype:", *_genotype_lines(c), *_log_lines(c.logs)])


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
    lines: list[str] = []
    seen: set[str] = set()
    stack = [(cid, "", "")]
    while stack:
        node, lead, branch = stack.pop()
        r = rows[node]
        repeat = node in seen
        lines.append(f"{lead}{branch}{node} {r.kind} {r.status} fitness={_fitness(r.fitness)}" + (" (shown above)" if repeat else ""))
        if repeat:
            continue
        seen.add(node)
        child_lead = lead + ("    " if branch in ("", "└── ") else "│   ") if branch else lead
        for i, parent in reversed(list(enumerate(r.parents))):
            stack.append((parent, child_lead, "└── " if i == len(r.parents) - 1 else "├── "))
    shown = ", ".join(descendants[:20]) + (f" ... ({len(descendants) - 20} more)" if len(descendants) > 20 else "")
    return "\n".join(lines + [f"descendants: {len(descendants)}" + (f": {shown}" if descendants else "")])
