"""Compact, exact text views of candidates for prompts and summaries (no torch).

- `recipe_text(recipe)`: a merge recipe on one line, every number in it: method, base, each
  source's parameters (one value per layer group, `/`-joined, when the recipe is mergekit's
  `slices` form with the same models in every slice), method parameters, a layer path step
  by step. A shape it does not know is shown as compact JSON, never dropped.
      ties base=base: adder(weight 0.9, density 0.5), sorter(weight 0.8, density 0.5); normalize false
      task_arithmetic base=base, 2 layer groups (layers 0-1, 2-3): adder(weight 0.8/1.1), sorter(weight 1/0.85); normalize false
      passthrough layer path of 4: adder.0 adder.1 sorter.2(scale o_proj 0.9, down_proj 0.9, * 1) sorter.3
- `task_scores_text(metrics, metric_of)`: each task's fitness metric, `add 0.912, reverse 0.804`.
- `whole_sentences(text, limit)`: the longest run of whole sentences within `limit` characters.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
EXTRAS = ("dtype", "out_dtype", "tokenizer_source")


def number(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def value_text(value: Any) -> str:
    """A parameter value: a number, a per-layer list `[a, b]`, or `{filter, value}` entries `o_proj 0.9, * 1`."""
    if isinstance(value, list) and value and all(isinstance(v, Mapping) and "value" in v for v in value):
        return ", ".join(f"{v.get('filter', '*')} {value_text(v['value'])}" for v in value)
    if isinstance(value, list):
        return "[" + ", ".join(value_text(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    return number(value)


def params_text(params: Mapping[str, Any] | None) -> str:
    return ", ".join(f"{k} {value_text(v)}" for k, v in (params or {}).items())


def recipe_text(recipe: Mapping[str, Any]) -> str:
    if not recipe:
        return "(no recipe)"
    try:
        body = _body(recipe)
    except (KeyError, TypeError, AttributeError, IndexError):
        body = None
    if body is None:
        return "recipe " + json.dumps(recipe, sort_keys=True, separators=(",", ":"))
    extras = [params_text(recipe.get("parameters"))] + [f"{k} {recipe[k]}" for k in EXTRAS if recipe.get(k)]
    return "; ".join([body, *[e for e in extras if e]])


def _body(recipe: Mapping[str, Any]) -> str | None:
    method, base = recipe.get("merge_method", "?"), recipe.get("base_model")
    head = f"{method} base={base}" if base else str(method)
    if method == "slerp" and base:  # the base is the start point, listed among the two models
        head, base = f"slerp from {base} toward the other", None
    if "layer_path" in recipe:
        steps = recipe["layer_path"]
        return f"{head} layer path of {len(steps)}: " + " ".join(_step(s) for s in steps)
    if "models" in recipe:
        return f"{head}: " + ", ".join(_source(m["model"], [m.get("parameters") or {}]) for m in recipe["models"])
    if "slices" in recipe:
        return _slices(head, recipe["slices"], base)
    return None


def _step(step: Mapping[str, Any]) -> str:
    params = params_text(step.get("parameters"))
    return f"{step['model']}.{step['layer']}" + (f"({params})" if params else "")


def _source(name: str, per_group: list[Mapping[str, Any]]) -> str:
    names = list(dict.fromkeys(k for g in per_group for k in g))
    parts = [f"{k} {_joined([g.get(k) for g in per_group])}" for k in names]
    return f"{name}({', '.join(parts)})" if parts else name


def _joined(values: list[Any]) -> str:
    texts = ["-" if v is None else value_text(v) for v in values]
    return texts[0] if len(set(texts)) == 1 else "/".join(texts)


def _slices(head: str, slices: list[Mapping[str, Any]], base: str | None) -> str:
    models = [[s["model"] for s in piece["sources"]] for piece in slices]
    ranges = [piece["sources"][0].get("layer_range") for piece in slices]
    if any(m != models[0] for m in models) or any(r is None for r in ranges):
        return f"{head} slices: " + " | ".join(
            ", ".join(f"{s['model']} {_range(s.get('layer_range'))}".strip() for s in piece["sources"]) for piece in slices
        )
    groups = ", ".join(_range(r) for r in ranges)
    by_model = [(name, [piece["sources"][i].get("parameters") or {} for piece in slices]) for i, name in enumerate(models[0])]
    sources = [_source(name, values) for name, values in by_model if not (name == base and not any(values))]
    method = [piece.get("parameters") or {} for piece in slices]
    method_text = ", ".join(f"{k} {_joined([m.get(k) for m in method])}" for k in dict.fromkeys(k for m in method for k in m))
    return f"{head}, {len(slices)} layer group(s) ({groups}): " + ", ".join(sources) + (f"; {method_text}" if method_text else "")


def _range(r: Any) -> str:
    if not isinstance(r, (list, tuple)) or len(r) != 2:
        return ""
    return f"layers {r[0]}-{r[1] - 1}" if r[1] - r[0] > 1 else f"layer {r[0]}"


def task_scores_text(metrics: Any, metric_of: Mapping[str, str] | None = None) -> str:
    """`add 0.912, reverse 0.804` from a SplitMetrics (its `tasks`), each task's fitness metric; "" without tasks."""
    tasks = getattr(metrics, "tasks", None) or {}
    parts = []
    for task, values in tasks.items():
        metric = (metric_of or {}).get(task)
        if metric in values:
            parts.append(f"{task} {values[metric]:.3f}")
        elif len(values) == 1:
            parts.append(f"{task} {next(iter(values.values())):.3f}")
        else:
            parts.append(f"{task} " + " ".join(f"{m} {v:.3f}" for m, v in values.items()))
    return ", ".join(parts)


def whole_sentences(text: str, limit: int) -> str:
    """Whitespace collapsed; whole sentences while they fit in `limit`. A first sentence longer than
    the limit is kept whole up to twice the limit, then cut after a word with a note saying so."""
    flat = " ".join(str(text).split())
    if len(flat) <= limit:
        return flat
    kept = ""
    for sentence in SENTENCE_END.split(flat):
        joined = f"{kept} {sentence}".strip()
        if len(joined) > limit:
            break
        kept = joined
    first = SENTENCE_END.split(flat)[0]
    if kept or len(first) <= 2 * limit:
        return kept or first
    head = flat[: 2 * limit].rsplit(" ", 1)[0]
    return f"{head} [... {len(flat) - len(head)} characters cut]"
