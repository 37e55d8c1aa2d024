"""The text blocks the merge prompts show the LLM, each built from the strategy Context.

sources (name, candidate id, search fitness), methods (the merge engine's registry: base,
per-model and method parameters with defaults and ranges), layers (from config.json), the
lineage of the chosen parents (recipe, fitness, rationale, lesson, ancestors), recent
failures with their reasons, and lessons. Every block says "(none)" rather than vanish, and
any long field is cut with a note saying so.
"""

from __future__ import annotations

import json
from pathlib import Path

from agents.strategy import Context
from archive.record import FAILED_STATUSES, Candidate

FIELD_CHARS = 300
FAILURES = 6


def cut(text: str, limit: int = FIELD_CHARS) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else f"{text[:limit]} [... {len(text) - limit} characters cut]"


def fitness_text(c: Candidate) -> str:
    f = c.fitness("search")
    return "not measured" if f is None else f"{f:.4f}"


def sources_text(ctx: Context) -> str:
    names = [s.name for s in ctx.workspace.config.sources]
    if ctx.workspace.config.base is not None:
        names.insert(0, "base")
    by_name = {c.genotype.name: c for c in ctx.sources if hasattr(c.genotype, "name")}
    lines = []
    for name in names:
        c = by_name.get(name)
        what = f"candidate {c.id}, search fitness {fitness_text(c)}" if c else "not in the archive yet"
        lines.append(f"- {name}: {what}" + (" (the workspace base model)" if name == "base" else ""))
    return "\n".join(lines) or "(none)"


def methods_text(names: list[str] | None = None) -> str:
    """One line per merge method of the engine's registry (or of `names`)."""
    from tools.merge.methods.registry import METHODS

    return "\n".join(_method_line(spec) for name, spec in METHODS.items() if names is None or name in names)


def _method_line(spec) -> str:
    inputs = f"{spec.min_models}" + ("+" if spec.max_models is None else f"-{spec.max_models}" if spec.max_models != spec.min_models else "")
    model = ", ".join(_param(p) for p in spec.model_params) or "none"
    method = ", ".join(_param(p) for p in spec.params) or "none"
    data = "; learns from calibration data (the search split of the workspace's tasks, added for you)" if spec.calibration else ""
    return f"- {spec.name}: base {spec.base}; {inputs} source(s); per-source parameters: {model}; method parameters: {method}{data}"


def _param(p) -> str:
    if p.required:
        detail = "required"
    else:
        detail = f"default {json.dumps(p.default)}"
    if p.range is not None:
        detail += f", in {p.range}"
    return f"{p.name} ({'true/false, ' if p.kind == 'bool' else ''}{detail})"


def layer_count(ctx: Context) -> int:
    """The layer count of the workspace's models (the smallest, when they differ)."""
    return min(layer_counts(ctx.workspace.model_paths()).values())


def layer_counts(models: dict[str, Path]) -> dict[str, int]:
    from tools.merge.sources import config_layer_count

    return {name: config_layer_count(json.loads((path / "config.json").read_text(encoding="utf-8")), path)
            for name, path in models.items()}


def layers_text(ctx: Context) -> str:
    counts = layer_counts(ctx.workspace.model_paths())
    if len(set(counts.values())) == 1:
        return f"every model has {next(iter(counts.values()))} transformer layers (numbered from 0)"
    return "layer counts differ: " + ", ".join(f"{n} {k}" for n, k in counts.items())


def find(ctx: Context, cid: str) -> Candidate | None:
    for c in (*ctx.history, *ctx.sources):
        if c.id == cid:
            return c
    return ctx.archive.get(cid) if ctx.archive is not None else None


def lineage_text(ctx: Context) -> str:
    blocks = [_parent_block(ctx, pid) for pid in ctx.parents]
    return "\n".join(blocks) or "(no parents chosen: this is a first proposal; start from the sources)"


def _parent_block(ctx: Context, pid: str) -> str:
    c = find(ctx, pid)
    if c is None:
        return f"- {pid}: not found in the archive"
    lines = [f"- {c.id} ({c.kind}, {c.status}, search fitness {fitness_text(c)}, by {c.proposer.strategy})"]
    if c.kind == "merge":
        lines.append(f"  recipe: {cut(json.dumps(c.genotype.recipe, sort_keys=True), 1500)}")
    if c.proposer.rationale:
        lines.append(f"  rationale: {cut(c.proposer.rationale)}")
    if c.lesson:
        lines.append(f"  lesson: {cut(c.lesson)}")
    lines.append(f"  ancestors: {_ancestors(ctx, c)}")
    return "\n".join(lines)


def _ancestors(ctx: Context, c: Candidate) -> str:
    if ctx.archive is None or c.id is None:
        return ", ".join(c.parents) or "(a source)"
    found = [find(ctx, a) for a in ctx.archive.ancestors(c.id)[:8]]
    return ", ".join(f"{a.id} ({fitness_text(a)})" for a in found if a is not None) or "(a source)"


def failures_text(ctx: Context, limit: int = FAILURES) -> str:
    failed = [c for c in ctx.history if c.status in FAILED_STATUSES][-limit:]
    lines = [f"- {c.id} {c.status}: {cut(c.reason or 'no reason recorded')}; recipe {cut(json.dumps(_recipe(c), sort_keys=True), 400)}"
             for c in failed]
    return "\n".join(lines) or "(none in this session)"


def _recipe(c: Candidate) -> dict:
    return c.genotype.recipe if c.kind == "merge" else {}


def lessons_text(ctx: Context) -> str:
    return "\n".join(f"- {cut(lesson)}" for lesson in ctx.lessons) or "(none yet)"
