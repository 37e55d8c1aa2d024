"""The text blocks the merge prompts show the LLM about the workspace and the session, from the Context.

sources (name, candidate id, search fitness and score per task), methods (the merge engine's
registry: base, per-model and method parameters with defaults and ranges), layers (from
config.json), the budget and progress, and the example reply written with the workspace's
own source names. The blocks that show candidates are in prompt_candidates.py. Every block
says "(none)" rather than vanish.
"""

from __future__ import annotations

import json
from pathlib import Path

from agents.strategies.prompt_candidates import Shown, scores
from agents.strategy import Context
from archive.record import Candidate

NEAR_END = 0.2  # the budget note says "nearly spent" when at most this share of candidates is left


def source_names(ctx: Context) -> list[str]:
    """`base` (when the workspace has one) and the sources, as clade.yaml names them."""
    names = [s.name for s in ctx.workspace.config.sources]
    return ["base", *names] if ctx.workspace.config.base is not None else names


def sources_text(ctx: Context, shown: Shown) -> str:
    by_name = {c.genotype.name: c for c in ctx.sources if hasattr(c.genotype, "name")}
    lines = []
    for name in source_names(ctx):
        c = by_name.get(name)
        what = f"candidate {c.id}, {scores(c, shown)}" if c else "not measured yet"
        lines.append(f"- {name}: {what}" + (" (the workspace base model)" if name == "base" else ""))
    ceiling = per_task_best(ctx.sources, shown)
    if ceiling:
        lines.append(f"Best single source per task (what a merge that keeps every skill would reach): {ceiling}")
    return "\n".join(lines) or "(none)"


def per_task_best(sources: list[Candidate], shown: Shown, split: str = "search") -> str:
    """`add 0.618 (adder), reverse 1.000 (reverser)`: each task's best score among the sources."""
    best: dict[str, tuple[float, str]] = {}
    for c in sources:
        m = c.metrics.get(split)
        for task, values in (m.tasks if m else {}).items():
            metric = shown.metric_of.get(task)
            if metric in values and (task not in best or values[metric] > best[task][0]):
                best[task] = (values[metric], getattr(c.genotype, "name", c.id))
    return ", ".join(f"{t} {v:.3f} ({name})" for t, (v, name) in best.items())


def best_source(ctx: Context) -> Candidate | None:
    scored = [c for c in ctx.sources if c.fitness("search") is not None and not c.cut("search")]
    return max(scored, key=lambda c: c.fitness("search"), default=None)


def best_of_session(ctx: Context) -> Candidate | None:
    scored = [c for c in ctx.history if c.status == "succeeded" and c.fitness("search") is not None and not c.cut("search")]
    return max(scored, key=lambda c: c.fitness("search"), default=None)


def methods_text(names: list[str] | None = None) -> str:
    """One line per merge method of the engine's registry (or of `names`)."""
    from tools.merge.methods.registry import METHODS

    return "\n".join(_method_line(spec) for name, spec in METHODS.items() if names is None or name in names)


def _method_line(spec) -> str:
    inputs = f"{spec.min_models}" + (
        "+" if spec.max_models is None else f"-{spec.max_models}" if spec.max_models != spec.min_models else ""
    )
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

    return {name: config_layer_count(json.loads((path / "config.json").read_text(encoding="utf-8")), path) for name, path in models.items()}


def layers_text(ctx: Context) -> str:
    counts = layer_counts(ctx.workspace.model_paths())
    if len(set(counts.values())) == 1:
        return f"every model has {next(iter(counts.values()))} transformer layers (numbered from 0)"
    return "layer counts differ: " + ", ".join(f"{n} {k}" for n, k in counts.items())


def budget_text(ctx: Context, shown: Shown, run_size: int | None = None) -> str:
    """Candidates used and left, LLM spend and time against their limits, the best so far, this proposal's place
    (for a hybrid structure, `run_size`: the candidates its CMA-ES run will make)."""
    b, c = ctx.budget, ctx.budget.config
    lines = [_candidates_line(ctx, shown) if run_size is None else _run_line(ctx, run_size)]
    spend = f"- LLM spend so far: {b.spent.tokens:,} tokens" + (f" of {c.tokens:,}" if c.tokens else "")
    spend += f", ${b.spent.dollars:.4f}" + (f" of ${c.dollars:.2f}" if c.dollars is not None else "")
    lines.append(spend + f"; wall time {_duration(b.wall_s())}" + (f" of {_duration(c.wall_s)}" if c.wall_s else " (no limit)") + ".")
    lines.append(_best_line(ctx))
    left = b.remaining_candidates()
    if left is not None and c.candidates and left - len(shown.siblings) <= max(1, int(NEAR_END * c.candidates)):
        lines.append(
            "- The budget is nearly spent: these are among the session's last proposals. Prefer refining the best "
            "recipe so far (small changes to its numbers) over exploring a new direction."
        )
    return "\n".join(lines)


def _candidates_line(ctx: Context, shown: Shown) -> str:
    b, total = ctx.budget, ctx.budget.config.candidates
    used, flying, round_ = b.spent.candidates, len(ctx.in_flight), len(shown.siblings) + 1
    place = (
        f"This is proposal {round_} of {ctx.wanted} asked for now"
        + (" (the earlier ones are listed under proposals in flight)" if round_ > 1 else "")
        + "."
    )
    if total is None:
        return f"- Candidates: {used} recorded by this session ({flying} still running); no candidate limit. {place}"
    after = max(0, total - used - round_)
    left = f"after this proposal {after} more can be proposed" if after else "this is the session's last proposal"
    return f"- Candidates: {used} of {total} used by this session ({flying} of them still running); {left}. {place}"


def _run_line(ctx: Context, run_size: int) -> str:
    b, total = ctx.budget, ctx.budget.config.candidates
    used, flying = b.spent.candidates, len(ctx.in_flight)
    if total is None:
        return f"- Candidates: {used} recorded by this session ({flying} still running); no candidate limit. The structure you choose now gets a CMA-ES run of {run_size} candidates."
    left = max(0, total - used)
    cut = f", so the run will be cut short after {left}" if left < run_size else ""
    return (
        f"- Candidates: {used} of {total} used by this session ({flying} of them still running), {left} left. The structure "
        f"you choose now gets a CMA-ES run of {run_size} candidates{cut}."
    )


def _best_line(ctx: Context) -> str:
    best, source = best_of_session(ctx), best_source(ctx)
    src = f"the best source, {source.genotype.name}, scores {source.fitness('search'):.4f}" if source else "no source is scored"
    if best is None:
        line = f"- Nothing scored in this session yet; {src} on the search split"
    else:
        line = f"- Best of this session so far: {best.id} at {best.fitness('search'):.4f} on the search split"
        if source is not None:
            line += f" ({best.fitness('search') - source.fitness('search'):+.4f} vs the best source)"
        line += f"; {src}"
    return line + _archive_best(ctx, best) + "."


def _archive_best(ctx: Context, session_best: Candidate | None) -> str:
    """The archive's best, when an earlier session (or a person) found something better than this session has."""
    top = ctx.archive.top(1) if ctx.archive is not None else []
    if not top or top[0].kind == "source" or (session_best is not None and top[0].fitness <= session_best.fitness("search")):
        return ""
    return f"; the best in the whole archive is {top[0].id} at {top[0].fitness:.4f} (from an earlier session)"


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60}m {seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def example_models(ctx: Context) -> list[str]:
    """The two source names an example reply uses (the first of them alone when there is one)."""
    names = [n for n in source_names(ctx) if n != "base"] or source_names(ctx)
    return names[:2]


def merge_example(ctx: Context, groups: int, built_on: list[str] | None = None) -> str:
    """The reply format's example, written with this workspace's source names."""
    names, with_base = example_models(ctx), ctx.workspace.config.base is not None
    per_group = groups > 1
    values = [[0.9, 0.5], [0.4, 0.8]]
    params = {
        n: {"weight": values[i] if per_group else values[i][0], **({"density": 0.6} if with_base else {})} for i, n in enumerate(names)
    }
    reply = {
        "rationale": "why this should beat what was tried, in two or three sentences",
        "method": "ties" if with_base else "linear",
        "base": "base" if with_base else None,
        "sources": names,
        "layer_groups": groups,
        "parameters": params,
        "method_parameters": {"normalize": False} if with_base else {},
        "built_on": list(built_on or []),
    }
    return _pretty(reply)


def path_example(ctx: Context, n_layers: int) -> str:
    """A layer path over this workspace's first two sources: the first half of one, the second half of the other."""
    names = example_models(ctx)
    half = max(1, n_layers // 2)
    steps = [{"model": names[0], "layer": i} for i in range(half)]
    steps += [{"model": names[-1], "layer": i, **({"scale": 0.9} if i == half else {})} for i in range(half, n_layers)]
    return json.dumps(steps)


def _pretty(reply: dict) -> str:
    """JSON with one line per top-level field and per source, as a person would write it."""
    lines = []
    for key, value in reply.items():
        if key == "parameters" and value:
            inner = ",\n".join(f"    {json.dumps(k)}: {json.dumps(v)}" for k, v in value.items())
            lines.append(f'  "parameters": {{\n{inner}\n  }}')
        else:
            lines.append(f"  {json.dumps(key)}: {json.dumps(value)}")
    return "```json\n{\n" + ",\n".join(lines) + "\n}\n```"
