"""The hybrid strategy's runs, rebuilt from the session history, and how they are shown to the LLM.

A hybrid run is a CMA-ES run named `hybrid-<n>` (n = 1, 2, ...) over one structure the LLM
chose. Every member's `proposer.params` holds the run, generation, index and genome (written
by agents.evolution.search) and the structure; the hybrid strategy adds `hybrid` = the LLM's
rationale and the prompt template hash. Nothing else is needed to continue after a kill.
"""

from __future__ import annotations

from dataclasses import dataclass

from agents.evolution.genome import Structure, group_values, x0
from agents.strategies.prompt_candidates import Shown, scores
from archive.record import Candidate

PREFIX = "hybrid-"


@dataclass(frozen=True)
class HybridRun:
    name: str
    number: int
    structure: Structure
    members: list[Candidate]

    @property
    def info(self) -> dict:
        return self.members[0].proposer.params.get("hybrid", {})

    def best(self) -> Candidate | None:
        scored = [c for c in self.members if c.status == "succeeded" and c.fitness("search") is not None and not c.cut("search")]
        return max(scored, key=lambda c: c.fitness("search"), default=None)


def run_number(name: object) -> int | None:
    if isinstance(name, str) and name.startswith(PREFIX) and name[len(PREFIX) :].isdigit():
        return int(name[len(PREFIX) :])
    return None


def hybrid_runs(history: list[Candidate]) -> list[HybridRun]:
    """The session's hybrid runs, oldest first."""
    grouped: dict[str, list[Candidate]] = {}
    for c in history:
        params = c.proposer.params
        if run_number(params.get("run")) is not None and "structure" in params:
            grouped.setdefault(params["run"], []).append(c)
    runs = [
        HybridRun(name, run_number(name), Structure.model_validate(members[0].proposer.params["structure"]), members)
        for name, members in grouped.items()
    ]
    return sorted(runs, key=lambda r: r.number)


def same_structure(a: Structure, b: Structure) -> bool:
    return (a.method, a.sources, a.layer_groups) == (b.method, b.sources, b.layer_groups)


def describe_structure(s: Structure) -> str:
    return f"{s.method} over {', '.join(s.sources)} in {s.layer_groups} layer group(s)"


def numbers_text(s: Structure, x: list[float]) -> str:
    """The decoded numbers of genome `x`, one value per layer group joined by '/'."""
    groups = group_values(s, x)
    parts = []
    for model in groups[0]:
        for name in groups[0][model]:
            values = "/".join(f"{g[model][name]:.3f}" for g in groups)
            parts.append(f"{model + ' ' if model else ''}{name} {values}")
    return ", ".join(parts)


def start_of(run: HybridRun) -> list[float]:
    """The run's start genes: the LLM's start point when it gave one, else the configured x0."""
    given = run.info.get("x0")
    return list(given) if given and len(given) == len(x0(run.structure)) else x0(run.structure)


def outcome_text(run: HybridRun, shown: Shown | None = None) -> str:
    s, done = run.structure, [c for c in run.members if c.status in ("succeeded", "failed", "invalid", "rejected")]
    ok = [c for c in done if c.status == "succeeded"]
    sigma = run.info.get("sigma")
    lines = [
        f"- {run.name}: {describe_structure(s)}",
        f"  your rationale: {run.info.get('rationale', '(none recorded)')}",
        f"  started at [{numbers_text(s, start_of(run))}]" + (f" with sigma {sigma:g}" if sigma is not None else ""),
        f"  {len(run.members)} candidates, {len(ok)} succeeded, {len(done) - len(ok)} failed",
    ]
    best = run.best()
    if best is None:
        lines.append("  no candidate of this structure succeeded")
        return "\n".join(lines)
    lines.append(f"  best: {best.id} (generation {best.proposer.params.get('generation')}), {scores(best, shown or Shown())}")
    lines.append(f"  CMA-ES moved the numbers to [{numbers_text(s, best.proposer.params['x'])}]")
    lines += _generation_means(run)
    return "\n".join(lines)


def _generation_means(run: HybridRun) -> list[str]:
    by_gen: dict[int, list[float]] = {}
    for c in run.members:
        f = c.fitness("search")
        if c.status == "succeeded" and f is not None:
            by_gen.setdefault(int(c.proposer.params.get("generation", 0)), []).append(f)
    if not by_gen:
        return []
    means = ", ".join(f"gen {g}: {sum(v) / len(v):.4f}" for g, v in sorted(by_gen.items()))
    return [f"  mean fitness per generation: {means}"]


def outcomes_text(runs: list[HybridRun], shown: Shown | None = None) -> str:
    return "\n".join(outcome_text(r, shown) for r in runs) or "(none yet: this is the first structure)"
