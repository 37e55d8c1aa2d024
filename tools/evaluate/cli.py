"""`clade eval MODEL_DIR [--split search|test] [--json]` (torch is imported inside the handler).

The tasks are clade.yaml's `evaluation:` section, which the app fills in (`args.evaluation` and
`args.config_file`, agents.workspace.provide). A progress bar (one step per task, counted in examples) runs on stderr when it is a terminal.
"""

from __future__ import annotations

import json
from pathlib import Path

from tools.errors import BadInput
from tools.evaluate.spec import SPLITS

MAX_THREADS = 1024


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "eval",
        help="score a model directory on the workspace's evaluation suite",
        description="Score a Hugging Face model directory on the tasks of clade.yaml.",
    )
    parser.add_argument("model_dir", metavar="MODEL_DIR", type=Path)
    parser.add_argument("--split", choices=SPLITS, default="search", help="search (default) or test (held out, for reporting)")
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:1, ...")
    parser.add_argument("--threads", type=int, metavar="N", help="torch CPU threads (default: torch's choice; 1 is fastest on busy cores)")
    parser.add_argument("--json", action="store_true", help='one object: {"fitness", "split", "tasks", "stage", "examples"}')
    parser.set_defaults(handler=run_eval, needs="evaluation")


def run_eval(args) -> int:
    from tools.evaluate.api import evaluate_model_dir, suite_from_config

    if args.threads is not None:
        import torch

        if not 1 <= args.threads <= MAX_THREADS:
            raise BadInput(f"--threads {args.threads}: give a number of threads from 1 to {MAX_THREADS}")
        torch.set_num_threads(args.threads)
    from tools.progress import TerminalProgress

    suite = suite_from_config(args.evaluation, args.config_file.parent, where=str(args.config_file))
    with TerminalProgress(f"evaluating ({args.split})") as progress:
        result = evaluate_model_dir(args.model_dir, suite, split=args.split, device=args.device, progress=progress)
    print(json.dumps(result.model_dump()) if args.json else format_result(result, suite))
    return 0


def format_result(result, suite) -> str:
    """A table: one row per task, one column per metric, the fitness metric marked with *."""
    names = sorted({m for metrics in result.tasks.values() for m in metrics})
    width = max(len("task"), *(len(t) for t in result.tasks))
    lines = [f"{'task':<{width}}  {'n':>5}  " + "  ".join(f"{n:>15}" for n in names)]
    for task in suite.tasks:
        cells = [_cell(result.tasks[task.name].get(n), n == task.spec.fitness_metric) for n in names]
        lines.append(f"{task.name:<{width}}  {result.examples[task.name]:>5}  " + "  ".join(cells))
    stage = "  (cascade: first pass below threshold, full pass skipped)" if result.stage == "cascade" else ""
    lines.append(f"fitness {result.fitness:.4f} on split {result.split} (weighted mean of the metrics marked *){stage}")
    return "\n".join(lines)


def _cell(value: float | None, marked: bool) -> str:
    return f"{'':>15}" if value is None else f"{value:>14.4f}{'*' if marked else ' '}"
