"""Search efficiency on the tiny zoo: evolution (CMA-ES) vs random search vs uniform merges.

    OMP_NUM_THREADS=1 nice python benchmarks/search_efficiency.py [--seeds 3] [--budget 100]
        [--method M] [--layer-groups G] [--population P] [--sigma S] [--space parameters|paths] [--json]

Each strategy runs in-process as a session would drive it (propose up to the rest of the
budget, score every proposal, record it, propose again) but without the sandbox: merges through
the merge engine's ResidentMerger, scored with tools.evaluate on the `search` split. At each
checkpoint (10, 25, 50, 100 candidates) the best candidate so far *on the search split* is
scored on the held-out `test` split; the table gives that held-out fitness averaged over seeds,
and candidates per minute (proposing + merging + search-split scoring, test scoring excluded).
Uniform baselines (held-out): task arithmetic weight 1 at lambda 1.0 and 0.8 (the zoo README's
demo recipe), TIES density 0.5 weight 1 (normalize false, as in the zoo README), linear average,
and the best source. Method, layer groups, population, sigma and space default to
`planner.evolution`'s defaults (agents/evolution/config.py). Targets: evolution reaches 95% of its 100-candidate best within 50
candidates and beats random search at every budget.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CHECKPOINTS = (10, 25, 50, 100)
EXPERTS = ("adder", "reverser", "sorter")


class Scorer:
    """Merge in memory and score, caching each (recipe, split)."""

    def __init__(self, workspace):
        from tools.evaluate.api import load_suite
        from tools.merge.api import ResidentMerger

        self.suite, self.merger, self.cache, self.tokenizers = load_suite(workspace), ResidentMerger(workspace.model_paths()), {}, {}

    def fitness(self, recipe: dict, split: str) -> float:
        key = (json.dumps(recipe, sort_keys=True), split)
        if key not in self.cache:
            self.cache[key] = self._score(recipe, split)
        return self.cache[key]

    def _score(self, recipe: dict, split: str) -> float:
        from tools.evaluate.api import evaluate_module
        from tools.evaluate.loading import load_tokenizer

        module = self.merger.apply(recipe, seed=0)
        where = str(self.merger.tokenizer_dir(recipe))
        tokenizer = self.tokenizers.setdefault(where, load_tokenizer(Path(where)))
        return evaluate_module(module, tokenizer, self.suite, split=split).fitness


def source_candidates(workspace):
    from archive.record import Candidate

    return [Candidate(id=f"src-{n}", kind="source", genotype={"name": n, "path": str(p)}, status="succeeded")
            for n, p in workspace.model_paths().items()]


def drive(strategy, workspace, scorer: Scorer, budget: int, seed: int) -> tuple[list, float]:
    """Run `strategy` for `budget` candidates; (search fitness, recipe) per candidate, and the seconds."""
    from agents.budget import Budget, BudgetConfig
    from agents.strategy import Context
    from archive.record import Candidate, Proposer, SplitMetrics

    history, scored, started = [], [], time.perf_counter()
    while len(history) < budget:
        ctx = Context(workspace=workspace, archive=None, session="bench", budget=Budget(BudgetConfig(candidates=None)),
                      rng=random.Random(seed), wanted=budget - len(history), history=history, sources=source_candidates(workspace))
        proposals = strategy.propose(ctx)
        if not proposals:
            break
        for p in proposals:
            recipe = p.genotype["recipe"]
            fit = None if p.invalid else scorer.fitness(recipe, "search")
            status, metrics = ("invalid", {}) if p.invalid else ("succeeded", {"search": SplitMetrics(fitness=fit)})
            history.append(Candidate(id=f"c{len(history):04d}", kind="merge", parents=p.parents, genotype=p.genotype,
                                     proposer=Proposer(strategy=p.strategy, session="bench", params=p.params),
                                     status=status, reason=p.invalid, metrics=metrics))
            scored.append((fit if fit is not None else float("-inf"), recipe))
    return scored, time.perf_counter() - started


def checkpoints(scored: list, scorer: Scorer, points) -> dict[int, float]:
    """Held-out fitness of the best-on-search candidate among the first k, for each k."""
    out = {}
    for k in points:
        best = max(scored[:k], key=lambda item: item[0])
        out[k] = scorer.fitness(best[1], "test")
    return out


def baselines(scorer: Scorer) -> dict[str, float]:
    def models(**params):
        return [{"model": n, "parameters": dict(params)} for n in EXPERTS]

    recipes = {
        "task_arithmetic w=1 lambda=1.0": {"merge_method": "task_arithmetic", "base_model": "base", "models": models(weight=1.0)},
        "task_arithmetic w=1 lambda=0.8": {"merge_method": "task_arithmetic", "base_model": "base", "models": models(weight=1.0), "parameters": {"lambda": 0.8}},
        "ties density=0.5 w=1": {"merge_method": "ties", "base_model": "base", "models": models(weight=1.0, density=0.5), "parameters": {"normalize": False}},
        "linear average": {"merge_method": "linear", "models": models(weight=1.0)},
    }
    rows = {name: scorer.fitness(r, "test") for name, r in recipes.items()}
    sources = {n: scorer.fitness({"merge_method": "linear", "models": [{"model": n, "parameters": {"weight": 1.0}}]}, "test") for n in ("base", *EXPERTS)}
    best = max(sources, key=sources.get)
    rows[f"best source ({best})"] = sources[best]
    return rows


def planner(args, seed: int):
    from agents.planner_config import PlannerConfig

    evolution = {"method": args.method, "layer_groups": args.layer_groups, "population": args.population,
                 "sigma": args.sigma, "space": args.space}
    return PlannerConfig(seed=seed, evolution=evolution)


def measure(args) -> dict:
    from agents.evolution.strategy import EvolutionStrategy, RandomStrategy
    from agents.workspace import load_workspace

    workspace = load_workspace(args.workspace)
    scorer = Scorer(workspace)
    points = [k for k in CHECKPOINTS if k <= args.budget] or [args.budget]
    results = {}
    for cls in (EvolutionStrategy, RandomStrategy):
        runs = []
        for seed in range(args.seeds):
            scored, seconds = drive(cls(planner(args, seed), workspace), workspace, scorer, args.budget, seed)
            runs.append({"seed": seed, "heldout": checkpoints(scored, scorer, points), "per_min": 60 * len(scored) / seconds})
            print(f"# {cls.name} seed {seed}: {runs[-1]}", file=sys.stderr)
        results[cls.name] = runs
    return {"points": points, "strategies": results, "baselines": baselines(scorer), "settings": vars(args) | {"workspace": str(args.workspace)}}


def table(report: dict) -> str:
    points = report["points"]
    lines = [f"{'strategy':<34}" + "".join(f"{'@' + str(k):>9}" for k in points) + f"{'cand/min':>10}", "-" * (34 + 9 * len(points) + 10)]
    for name, runs in report["strategies"].items():
        means = [statistics.mean(r["heldout"][k] for r in runs) for k in points]
        rate = statistics.mean(r["per_min"] for r in runs)
        lines.append(f"{name + f' ({len(runs)} seeds)':<34}" + "".join(f"{m:>9.4f}" for m in means) + f"{rate:>10.1f}")
    for name, value in report["baselines"].items():
        lines.append(f"{name:<34}" + f"{value:>9.4f}" * len(points))
    return "\n".join(lines + _targets(report))


def _targets(report: dict) -> list[str]:
    points, runs = report["points"], report["strategies"]
    mean = {n: {k: statistics.mean(r["heldout"][k] for r in rs) for k in points} for n, rs in runs.items()}
    lines = []
    if 50 in points and 100 in points:
        lines.append(f"evolution @50 / @100 = {mean['evolution'][50] / mean['evolution'][100]:.4f} (target >= 0.95)")
    beats = all(mean["evolution"][k] > mean["random"][k] for k in points)
    lines.append(f"evolution beats random at every budget: {beats}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, default=ROOT / "examples" / "tiny-zoo")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--budget", type=int, default=100)
    from agents.evolution.config import EvolutionConfig

    defaults = EvolutionConfig()
    parser.add_argument("--method", default=defaults.method)
    parser.add_argument("--layer-groups", type=int, default=defaults.layer_groups)
    parser.add_argument("--population", type=int, default=defaults.population)
    parser.add_argument("--sigma", type=float, default=defaults.sigma)
    parser.add_argument("--space", default=defaults.space)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    report = measure(args)
    print(json.dumps(report, indent=1) if args.json else table(report))


if __name__ == "__main__":
    main()
