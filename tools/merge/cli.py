"""`clade merge RECIPE.yaml OUT_DIR [--device cpu|cuda] [--seed N] [--dry-run] [--json]` (light module).

Model names (and `base`) and the tasks a calibration section names come from the workspace:
the app fills in `args.models` and `args.tasks` (agents.workspace.provide; both empty outside
a workspace), so this module never reads clade.yaml. A problem with the recipe's meaning (a model that is not there, a shape mismatch, a parameter
out of range) names the recipe file first. A progress bar runs on stderr when it is a terminal.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "merge",
        help="merge models with a mergekit-compatible recipe into a Hugging Face model directory",
        description="Merge models with a mergekit-compatible recipe. In a workspace, source names (and 'base') resolve to its models; other references are paths.",
    )
    parser.add_argument("recipe", metavar="RECIPE.yaml", help="the merge recipe (mergekit YAML or Clade's layer_path form)")
    parser.add_argument("out_dir", metavar="OUT_DIR", help="output model directory (written atomically)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")
    parser.add_argument("--seed", type=int, default=0, help="seed for random methods (DARE, DELLA); default 0")
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print the plan (tensors, method, what is read and written, memory, a time estimate) and write nothing",
    )
    parser.add_argument("--json", action="store_true", help="print the merge report (or the plan) as JSON")
    parser.set_defaults(handler=run_merge, needs="sources")


def run_merge(args) -> int:
    from tools.errors import BadInput

    models, tasks = args.models, args.tasks
    try:
        return _dry_run(args, models, tasks) if args.dry_run else _merge(args, models, tasks)
    except BadInput as exc:
        if str(args.recipe) in str(exc):
            raise
        raise BadInput(f"{args.recipe}: {exc}") from None


def _dry_run(args, models: Mapping, tasks: Mapping) -> int:
    from tools.merge.api import load_recipe
    from tools.merge.dry_run import plan_merge, plan_text

    report = plan_merge(load_recipe(args.recipe, models=models, tasks=tasks), args.out_dir, device=args.device, seed=args.seed)
    print(report.model_dump_json(indent=2) if args.json else plan_text(report, args.recipe))
    return 0


def _merge(args, models: Mapping, tasks: Mapping) -> int:
    import os

    from tools.device import check_device
    from tools.merge.api import load_recipe, merge_to_dir
    from tools.merge.memory import reuse_freed_memory
    from tools.progress import TerminalProgress

    if os.environ.get("CLADE_MERGE_MALLOC", "reuse") != "default":  # "default": glibc as it is (benchmarks compare)
        reuse_freed_memory()
    recipe = load_recipe(args.recipe, models=models, tasks=tasks)
    check_device(args.device)
    with TerminalProgress("merging") as progress:
        report = merge_to_dir(recipe, args.out_dir, device=args.device, seed=args.seed, progress=progress)
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if args.json:
        print(json.dumps(report.model_dump(), indent=2))
    else:
        size = report.bytes_written / 1e9
        print(
            f"merged {report.tensors} tensors ({report.layers} layers, {size:.2f} GB, {report.shards} shard(s)) with {report.method} in {report.seconds:.1f}s -> {report.out_dir}"
        )
    return 0
