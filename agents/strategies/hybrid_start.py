"""Where a hybrid run's CMA-ES starts, with what step size, and what it leaves fixed.

The LLM may give the start point of its structure (`start` in its StructureReply: per source
a weight and, for ties/dare_ties, a density, each one number or one per layer group; for
slerp a `t`) and a step size (`sigma`). What it leaves out starts at `planner.evolution`'s
x0 values. The start is turned into genes (the genome layout of agents/evolution/genome.py:
group-major, per source weight then density) and kept in the run's `hybrid` info with the
sigma, so a resumed session replays the same run. Values must lie strictly inside their
search ranges (a gene at a bound would be infinite).
"""

from __future__ import annotations

from typing import Any

from agents.evolution.config import EvolutionConfig
from agents.evolution.genome import WITH_BASE, WITH_DENSITY, Structure
from agents.evolution.transforms import from_range, sigmoid
from agents.strategies.reply import ReplyError

SIGMA_RANGE = (0.02, 2.0)


def ranges(s: Structure) -> dict[str, tuple[float, float]]:
    return {"weight": (0.0, s.weight_max), "density": (s.density_min, 1.0), "t": (0.0, 1.0)}


def start_values(s: Structure, start: dict[str, Any] | None) -> list[dict[str, dict[str, float]]]:
    """Per layer group: source -> name -> start value (slerp: {"": {"t": v}}); ReplyError naming a bad entry."""
    start = start or {}
    if s.method == "slerp":
        unknown = sorted(set(start) - {"t"})
        if unknown:
            raise ReplyError(f"start for slerp takes only t (one number or one per layer group), not {unknown}")
        ts = _per_group(start.get("t", s.x0_t), s.layer_groups, "start.t", ranges(s)["t"])
        return [{"": {"t": t}} for t in ts]
    unknown = sorted(set(start) - set(s.sources))
    if unknown:
        raise ReplyError(f"start names {unknown}, which are not among the structure's sources {s.sources}")
    names = ["weight", "density"] if s.method in WITH_DENSITY else ["weight"]
    defaults = {"weight": s.x0_weight, "density": s.x0_density}
    per_source = {src: _source_start(src, start.get(src) or {}, names, defaults, s) for src in s.sources}
    return [{src: {n: per_source[src][n][g] for n in names} for src in s.sources} for g in range(s.layer_groups)]


def _source_start(src: str, given: Any, names: list[str], defaults: dict[str, float], s: Structure) -> dict[str, list[float]]:
    if not isinstance(given, dict):
        raise ReplyError(f'start.{src} must be an object like {{"weight": 0.8}}, not {given!r}')
    unknown = sorted(set(given) - set(names))
    if unknown:
        raise ReplyError(f"start.{src} names {unknown}; {s.method} tunes only {', '.join(names)}")
    return {n: _per_group(given.get(n, defaults[n]), s.layer_groups, f"start.{src}.{n}", ranges(s)[n]) for n in names}


def _per_group(value: Any, groups: int, where: str, bounds: tuple[float, float]) -> list[float]:
    values = value if isinstance(value, list) else [value] * groups
    if len(values) != groups:
        raise ReplyError(f"{where} has {len(values)} values for {groups} layer group(s); give one number, or one per group")
    low, high = bounds
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not low < v < high:
            raise ReplyError(f"{where} = {v!r} must be a number strictly inside ({low:g}, {high:g})")
    return [float(v) for v in values]


def start_genes(s: Structure, values: list[dict[str, dict[str, float]]]) -> list[float]:
    """The genome (agents/evolution/genome.py layout) that decodes to `values`."""
    bounds, genes = ranges(s), []
    for group in values:
        for params in group.values():
            genes += [from_range(v, *bounds[n]) for n, v in params.items()]
    return genes


def check_sigma(sigma: float | None, default: float) -> float:
    if sigma is None:
        return default
    low, high = SIGMA_RANGE
    if not low <= sigma <= high:
        raise ReplyError(f"sigma = {sigma:g} must be in [{low:g}, {high:g}] (gene space; {default:g} is the default)")
    return float(sigma)


def step_text(config: EvolutionConfig) -> str:
    """How far one sigma moves each kind of number at the default start (one standard deviation)."""

    def spread(value: float, low: float, high: float) -> float:
        u = sigmoid(from_range(value, low, high))
        return (high - low) * u * (1 - u) * config.sigma

    return (
        f"a weight of {config.x0_weight:g} by about ±{spread(config.x0_weight, 0, config.weight_max):.3f}, "
        f"a density of {config.x0_density:g} by about ±{spread(config.x0_density, config.density_min, 1):.3f}, "
        f"t of {config.x0_t:g} by about ±{spread(config.x0_t, 0, 1):.3f}"
    )


def fixed_text() -> str:
    """What a structure leaves fixed, per method: the method parameters CMA-ES does not tune."""
    from tools.merge.methods.registry import METHODS

    lines = []
    for method in ("ties", "dare_ties", "task_arithmetic", "linear", "slerp"):
        spec = METHODS[method]
        fixed = {p.name: p.default for p in spec.params if not p.required}
        if method in WITH_BASE:
            fixed["normalize"] = False  # agents/evolution/genome.py: a weight scales its task vector as given
        per_source = [p for p in spec.model_params if p.name == "density" and method not in WITH_DENSITY]
        extra = [f"density {p.default:g}" for p in per_source]
        values = ", ".join([*(f"{k} {_text(v)}" for k, v in fixed.items()), *extra])
        lines.append(f"- {method}: fixed {values}" if values else f"- {method}: nothing fixed (only t, which is tuned)")
    return "\n".join(lines)


def _text(v: Any) -> str:
    return ("true" if v else "false") if isinstance(v, bool) else f"{v:g}" if isinstance(v, float) else str(v)


def start_summary(s: Structure, values: list[dict[str, dict[str, float]]]) -> str:
    """`adder weight 0.9/0.6, adder density 0.5` (one value per group, `/`-joined when they differ)."""
    parts = []
    for src in values[0]:
        for name in values[0][src]:
            vs = [f"{g[src][name]:.3g}" for g in values]
            joined = vs[0] if len(set(vs)) == 1 else "/".join(vs)
            parts.append(f"{src + ' ' if src else ''}{name} {joined}")
    return ", ".join(parts)
