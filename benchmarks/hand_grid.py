"""The hand recipe to beat: a grid of uniform merges a mergekit user would try in an afternoon.

    OMP_NUM_THREADS=1 nice python benchmarks/hand_grid.py [WORKSPACE] [--task TASK] [--json]

WORKSPACE (default examples/composite-zoo) is any workspace whose clade.yaml names a `base` and
its experts as `sources`. The grid (34 recipes with two experts) is uniform: one set of
parameters for every layer, as mergekit's examples write them.

- task arithmetic: every expert at weight 1 with lambda 0.3, 0.5, 0.7, 0.8, 1.0, 1.2; and each
  expert at weight 1 with the others at 0.3, 0.5, 0.7 (lambda 1);
- TIES and DARE-TIES: density 0.3, 0.5, 0.8 by lambda 0.5, 1.0, every weight 1 (mergekit's
  defaults otherwise: `normalize: true`);
- linear: the experts' average;
- SLERP: t 0.25, 0.5, 0.75 for each pair of the base and the experts (the first named is
  slerp's base_model, at t = 0).

Every recipe is merged in memory (the merge engine's ResidentMerger) and scored on the `search`
split, and the best on the search split is "the hand recipe": by fitness, and by `--task`'s
score when a task is named (the composite task of the composite zoo, `kel_add`), as a user
tuning for that task would pick it. Then every recipe is scored on the held-out `test` split,
and the table lists search and held-out fitness and each task's held-out score, with the 95%
bootstrap interval (over examples) of the chosen ones. Nothing of the held-out split decides
the choice.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from search_drive import Scorer, source_recipe

TA_LAMBDAS = (0.3, 0.5, 0.7, 0.8, 1.0, 1.2)
TA_OTHERS = (0.3, 0.5, 0.7)
DENSITIES = (0.3, 0.5, 0.8)
SPARSE_LAMBDAS = (0.5, 1.0)
SLERP_TS = (0.25, 0.5, 0.75)


def grid(base: str, experts: list[str]) -> dict[str, dict]:
    """Label -> recipe mapping (tools.merge.api.load_recipe form), in a fixed order."""

    def models(weights: dict[str, float], **extra) -> list[dict]:
        return [{"model": e, "parameters": {"weight": weights[e], **extra}} for e in experts]

    ones = {e: 1.0 for e in experts}
    out: dict[str, dict] = {}
    for lam in TA_LAMBDAS:
        out[f"task_arithmetic lambda {lam:g}"] = {
            "merge_method": "task_arithmetic",
            "base_model": base,
            "models": models(ones),
            "parameters": {"lambda": lam},
        }
    if len(experts) > 1:
        for lead in experts:
            for w in TA_OTHERS:
                weights = {e: 1.0 if e == lead else w for e in experts}
                label = "task_arithmetic w " + ",".join(f"{weights[e]:g}" for e in experts)
                out[label] = {"merge_method": "task_arithmetic", "base_model": base, "models": models(weights)}
    for method in ("ties", "dare_ties"):
        for density, lam in itertools.product(DENSITIES, SPARSE_LAMBDAS):
            out[f"{method} density {density:g} lambda {lam:g}"] = {
                "merge_method": method,
                "base_model": base,
                "models": models(ones, density=density),
                "parameters": {"lambda": lam},
            }
    out["linear average"] = {"merge_method": "linear", "models": models(ones)}
    for a, b in itertools.combinations([base, *experts], 2):
        for t in SLERP_TS:
            out[f"slerp {a}->{b} t {t:g}"] = {
                "merge_method": "slerp",
                "base_model": a,
                "models": [{"model": a}, {"model": b}],
                "parameters": {"t": t},
            }
    return out


def task_score(result, task: str) -> float:
    return result.per_example[task].value()


def measure(workspace_dir: Path, task: str | None) -> dict:
    from agents.workspace import load_workspace

    workspace = load_workspace(workspace_dir)
    experts = [s.name for s in workspace.config.sources]
    if workspace.config.base is None:
        raise SystemExit(f"{workspace_dir / 'clade.yaml'}: no `base:`; the grid's task arithmetic, TIES and DARE-TIES need one")
    scorer = Scorer(workspace)
    names = [t.name for t in scorer.suite.tasks]
    if task is not None and task not in names:
        raise SystemExit(f"--task {task}: not a task of {workspace_dir / 'clade.yaml'} ({', '.join(names)})")
    recipes = {f"source {n}": source_recipe(n) for n in ("base", *experts)} | grid("base", experts)
    rows = {}
    for label, recipe in recipes.items():
        search, test = scorer.result(recipe, "search"), scorer.result(recipe, "test")
        rows[label] = {
            "recipe": recipe,
            "search": search.fitness,
            "search_tasks": {t: task_score(search, t) for t in search.per_example},
            "test": test.fitness,
            "test_tasks": {t: task_score(test, t) for t in test.per_example},
        }
        print(f"# {label}: search {search.fitness:.4f} test {test.fitness:.4f}", file=sys.stderr)
    merges = [label for label in rows if not label.startswith("source ")]
    chosen = {"fitness": max(merges, key=lambda label: rows[label]["search"])}
    if task is not None:
        chosen[task] = max(merges, key=lambda label: (rows[label]["search_tasks"][task], rows[label]["search"]))
    return {"workspace": str(workspace_dir), "task": task, "recipes": len(merges), "rows": rows, "chosen": chosen} | {
        "intervals": intervals(scorer, rows, chosen)
    }


def intervals(scorer: Scorer, rows: dict, chosen: dict) -> dict:
    """The held-out 95% interval of each chosen recipe's fitness and of each task's score."""
    from tools.evaluate.bootstrap import fitness_interval

    out = {}
    for by, label in chosen.items():
        result = scorer.result(rows[label]["recipe"], "test")
        weights = dict(result.weights) or {t: 1.0 for t in result.per_example}
        found = {"fitness": fitness_interval(result.per_example, weights).to_json()}
        for t, scores in result.per_example.items():
            found[t] = fitness_interval({t: scores}, {t: 1.0}).to_json()
        out[by] = found
    return out


def table(report: dict) -> str:
    rows = report["rows"]
    tasks = list(next(iter(rows.values()))["test_tasks"])
    head = f"{'recipe (uniform)':<40}{'search':>8}{'test':>8}" + "".join(f"{t:>9}" for t in tasks)
    lines = [head, "-" * len(head)]
    for label, row in rows.items():
        lines.append(f"{label:<40}{row['search']:>8.4f}{row['test']:>8.4f}" + "".join(f"{row['test_tasks'][t]:>9.3f}" for t in tasks))
    lines.append(f"{report['recipes']} merges; held-out (test split) per task; chosen on the search split:")
    for by, label in report["chosen"].items():
        found = report["intervals"][by]
        cells = ", ".join(f"{k} {v['estimate']:.3f} ({v['low']:.3f}-{v['high']:.3f})" for k, v in found.items())
        lines.append(f"  best by search {by}: {label}: {cells}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workspace", nargs="?", type=Path, default=ROOT / "examples" / "composite-zoo")
    parser.add_argument("--task", help="also choose the hand recipe by this task's search-split score (e.g. kel_add)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    report = measure(args.workspace, args.task)
    print(json.dumps(report, indent=2) if args.json else table(report))


if __name__ == "__main__":
    main()
