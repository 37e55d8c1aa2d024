"""Score every source model and a grid of standard merges of the experts on the zoo's suite.

    python examples/tiny-zoo/measure_merges.py [--workspace DIR] [--split test|search] [--json]

Merges go through the merge engine's in-memory path (tools.merge.api.ResidentMerger, the
same tensors as `clade merge`) and are scored with tools.evaluate; prints one row per model.
The README's table is this script's output on the held-out (test) split.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))  # run from anywhere inside a source checkout

EXPERTS = ("adder", "reverser", "sorter")


def _models(**params) -> list[dict]:
    return [{"model": name, "parameters": dict(params)} for name in EXPERTS]


def merge_grid() -> dict[str, dict]:
    """Standard recipes with unremarkable settings: the property must hold across them."""
    grid = {}
    for lam in (0.6, 0.8, 1.0):
        grid[f"task_arithmetic lambda={lam}"] = {
            "merge_method": "task_arithmetic",
            "base_model": "base",
            "models": _models(weight=1.0),
            "parameters": {"lambda": lam},
            "dtype": "float32",
        }
    for density in (0.5, 0.8):
        grid[f"ties density={density}"] = {
            "merge_method": "ties",
            "base_model": "base",
            "models": _models(weight=1.0, density=density),
            "parameters": {"normalize": False},
            "dtype": "float32",
        }
    grid["linear (plain average)"] = {"merge_method": "linear", "models": _models(weight=1.0), "dtype": "float32"}
    return grid


def measure(workspace_dir: Path, split: str) -> dict[str, dict]:
    from agents.workspace import load_workspace
    from tools.evaluate.api import evaluate_model_dir, evaluate_module, load_suite
    from tools.evaluate.loading import load_tokenizer
    from tools.merge.api import ResidentMerger

    workspace = load_workspace(workspace_dir)
    suite, paths = load_suite(workspace), workspace.model_paths()
    rows = {name: evaluate_model_dir(paths[name], suite, split=split) for name in ("base", *EXPERTS)}
    merger = ResidentMerger(paths)
    for label, recipe in merge_grid().items():
        module = merger.apply(recipe)
        rows[label] = evaluate_module(module, load_tokenizer(merger.tokenizer_dir(recipe)), suite, split=split)
    return {name: result.model_dump() for name, result in rows.items()}


def table(rows: dict[str, dict]) -> str:
    tasks = list(next(iter(rows.values()))["tasks"])
    head = f"{'model':<28} {'fitness':>8} " + " ".join(f"{t + ' cacc/em':>16}" for t in tasks)
    lines = [head, "-" * len(head)]
    for name, row in rows.items():
        cells = " ".join(f"{row['tasks'][t]['char_accuracy']:>8.3f}/{row['tasks'][t]['exact_match']:.3f}" for t in tasks)
        lines.append(f"{name:<28} {row['fitness']:>8.3f} {cells}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, default=HERE)
    parser.add_argument("--split", choices=("search", "test"), default="test")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = measure(args.workspace, args.split)
    print(json.dumps(rows, indent=1) if args.json else table(rows))


if __name__ == "__main__":
    main()
