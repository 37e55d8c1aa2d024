"""`clade merge RECIPE.yaml OUT_DIR [--device cpu|cuda] [--seed N] [--json]` (light module)."""

from __future__ import annotations

import json
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
    parser.add_argument("--json", action="store_true", help="print the merge report as JSON")
    parser.set_defaults(handler=run_merge)


def workspace_names(args_workspace: str | None) -> tuple[dict, Mapping]:
    """(model names -> directories, task names -> tools.evaluate Tasks) of the workspace; both
    empty when there is no workspace."""
    from agents.workspace import find_workspace, load_workspace
    from tools.errors import BadInput
    from tools.evaluate.suite import WorkspaceTasks

    if args_workspace is None:
        try:
            args_workspace = find_workspace(None)
        except BadInput:
            return {}, WorkspaceTasks(None)
    workspace = load_workspace(args_workspace)
    return workspace.model_paths(), WorkspaceTasks(workspace)


def run_merge(args) -> int:
    import os

    from tools.merge.api import load_recipe, merge_to_dir
    from tools.merge.memory import reuse_freed_memory

    if os.environ.get("CLADE_MERGE_MALLOC", "reuse") != "default":  # "default": glibc as it is (benchmarks compare)
        reuse_freed_memory()

    models, tasks = workspace_names(getattr(args, "workspace", None))
    recipe = load_recipe(args.recipe, models=models, tasks=tasks)
    report = merge_to_dir(recipe, args.out_dir, device=args.device, seed=args.seed)
    if args.json:
        print(json.dumps(report.model_dump(), indent=2))
    else:
        size = report.bytes_written / 1e9
        print(f"merged {report.tensors} tensors ({report.layers} layers, {size:.2f} GB, {report.shards} shard(s)) with {report.method} in {report.seconds:.1f}s -> {report.out_dir}")
    return 0
