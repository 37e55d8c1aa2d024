"""Held-out scores of the data-dependent and spectral merge methods beside task arithmetic and TIES.

    python benchmarks/merge_data_methods.py [--workspace examples/tiny-zoo] [--resamples 2000] [--json]

Every recipe merges the workspace's sources (all but `base`) over `base`, with the defaults of each
method's paper or FusionBench (no tuning: the only split a search may select on is `search`, and
nothing here selects). The data methods calibrate on the `search` split, each source on the task
of the same position in the workspace's task list (FusionBench's pairing of a model with its own
task) when there are as many tasks as sources, else every source on every task. Each merge is
built in memory (tools.merge.api.ResidentMerger) and scored on the held-out `test` split. The
95% interval of the fitness is a percentile bootstrap over test records (resampled within each
task, the fitness recomputed each time); Δ TA is the paired difference to task arithmetic on the
same resamples, with its own interval.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def recipes(sources: list[str], tasks: list[str]) -> dict[str, dict]:
    models = [{"model": s} for s in sources]
    weighted = [{"model": s, "parameters": {"weight": 1.0}} for s in sources]
    pairing = dict(zip(sources, tasks)) if len(tasks) == len(sources) else list(tasks)
    calibration = {"tasks": pairing, "split": "search", "examples": 128}
    over_base = {"base_model": "base", "dtype": "float32"}
    return {
        "task_arithmetic (lambda 0.8)": {"merge_method": "task_arithmetic", "models": weighted, "parameters": {"lambda": 0.8}, **over_base},
        "ties (density 0.5)": {
            "merge_method": "ties",
            "models": [{"model": s, "parameters": {"weight": 1.0, "density": 0.5}} for s in sources],
            "parameters": {"normalize": False},
            **over_base,
        },
        "regmean (alpha 0.95)": {"merge_method": "regmean", "models": models, "calibration": calibration, "dtype": "float32"},
        "regmean_plusplus (alpha 0.95)": {
            "merge_method": "regmean_plusplus",
            "models": models,
            "calibration": calibration,
            "dtype": "float32",
        },
        "fisher": {"merge_method": "fisher", "models": models, "calibration": calibration, "dtype": "float32"},
        "tsvm (lambda 1)": {"merge_method": "tsvm", "models": models, **over_base},
        "iso_c (lambda 1)": {"merge_method": "iso_c", "models": models, **over_base},
        "iso_cts (lambda 1, f 0.8)": {"merge_method": "iso_cts", "models": models, **over_base},
        "wudi (300 steps)": {"merge_method": "wudi", "models": models, **over_base},
    }


def per_example(model, tokenizer, suite) -> dict[str, list[float]]:
    """Each task's fitness metric per test record."""
    from tools.evaluate.runner import _columns_all

    columns = _columns_all(model, tokenizer, suite, "test", 0, None, "cpu")
    return {t.name: columns[t.name][t.spec.fitness_metric] for t in suite.tasks}


def fitness(scores: dict[str, list[float]], weights: dict[str, float], picks: dict[str, list[int]] | None = None) -> float:
    total = sum(weights.values())
    means = {t: sum(v[i] for i in picks[t]) / len(picks[t]) if picks else sum(v) / len(v) for t, v in scores.items()}
    return sum(weights[t] * m for t, m in means.items()) / total


def bootstrap(rows: dict[str, dict], weights: dict[str, float], resamples: int, reference: str) -> dict[str, dict]:
    rng = random.Random(0)
    sizes = {t: len(v) for t, v in next(iter(rows.values())).items()}
    draws = {name: [] for name in rows}
    for _ in range(resamples):
        picks = {t: [rng.randrange(n) for _ in range(n)] for t, n in sizes.items()}
        for name, scores in rows.items():
            draws[name].append(fitness(scores, weights, picks))
    out = {}
    for name, scores in rows.items():
        diffs = [a - b for a, b in zip(draws[name], draws[reference])]
        out[name] = {
            "fitness": fitness(scores, weights),
            "ci": _interval(draws[name]),
            "delta": fitness(scores, weights) - fitness(rows[reference], weights),
            "delta_ci": _interval(diffs),
        }
    return out


def _interval(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    return ordered[int(0.025 * (len(ordered) - 1))], ordered[int(0.975 * (len(ordered) - 1))]


def measure(workspace_dir: Path) -> tuple[dict, dict, dict]:
    import torch

    from agents.workspace import load_workspace
    from tools.evaluate.api import load_suite
    from tools.evaluate.loading import load_tokenizer
    from tools.merge.api import ResidentMerger

    torch.set_num_threads(1)
    workspace = load_workspace(workspace_dir)
    suite = load_suite(workspace)
    sources = [s.name for s in workspace.config.sources]
    merger = ResidentMerger(workspace.model_paths())
    merger.set_tasks({t.name: t for t in suite.tasks})
    rows, seconds = {}, {}
    for label, recipe in recipes(sources, [t.name for t in suite.tasks]).items():
        start = time.perf_counter()
        recipe = merger.prepare(recipe)  # planned once for the merge and its tokenizer
        module = merger.apply(recipe)
        seconds[label] = time.perf_counter() - start
        rows[label] = per_example(module, load_tokenizer(merger.tokenizer_dir(recipe)), suite)
        print(
            f"{label}: merged in {seconds[label]:.1f}s, fitness {fitness(rows[label], {t.name: t.weight for t in suite.tasks}):.3f}",
            file=sys.stderr,
            flush=True,
        )
    return rows, {t.name: t.weight for t in suite.tasks}, seconds


def table(result: dict[str, dict], seconds: dict[str, float]) -> str:
    head = f"{'method':<32} {'held-out fitness':>16} {'95% interval':>16} {'Δ TA':>7} {'95% interval':>17} {'merge s':>8}"
    lines = [head, "-" * len(head)]
    for name, r in result.items():
        ci, dci = r["ci"], r["delta_ci"]
        lines.append(
            f"{name:<32} {r['fitness']:>16.3f} {f'{ci[0]:.3f}–{ci[1]:.3f}':>16} {r['delta']:>+7.3f} {f'{dci[0]:+.3f}–{dci[1]:+.3f}':>17} {seconds[name]:>8.1f}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, default=ROOT / "examples" / "tiny-zoo")
    parser.add_argument("--resamples", type=int, default=2000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows, weights, seconds = measure(args.workspace)
    result = bootstrap(rows, weights, args.resamples, reference=next(iter(rows)))
    print(json.dumps({"result": result, "seconds": seconds}, indent=1) if args.json else table(result, seconds))


if __name__ == "__main__":
    main()
