"""Evaluation speed on the tiny zoo: tokens per second, and where a search step's time goes.

    python benchmarks/eval_speed.py [--workspace examples/tiny-zoo] [--steps 5] [--device cpu]

1. Generation and scoring throughput of the zoo's base model on the search split (warm: the
   token batches are cached after the first pass, as in a search).
2. One search step as the search loop runs it: ResidentMerger.apply(recipe) then
   evaluate_module(...). Time inside the model's forward passes is measured with forward hooks;
   "other" is everything that is neither merging nor forward passes (batching, decoding,
   metrics, Python). The target is other < 10% of the step.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from agents.workspace import load_workspace  # noqa: E402
from tools.evaluate.api import evaluate_module, load_suite  # noqa: E402
from tools.evaluate.inference import greedy_generate, score  # noqa: E402
from tools.evaluate.loading import load_model, load_tokenizer  # noqa: E402
from tools.evaluate.runner import _prepared  # noqa: E402
from tools.merge.api import ResidentMerger  # noqa: E402


class ForwardClock:
    """Accumulates wall time spent inside a module's forward calls."""

    def __init__(self, module: torch.nn.Module) -> None:
        self.seconds, self._start = 0.0, 0.0
        module.register_forward_pre_hook(lambda *_: self._begin())
        module.register_forward_hook(lambda *_: self._end())

    def _begin(self) -> None:
        self._start = time.perf_counter()

    def _end(self) -> None:
        self.seconds += time.perf_counter() - self._start


def throughput(model, tokenizer, suite, device: str) -> tuple[float, float]:
    """(generated tokens/s, scored tokens/s) over every task's search split, warm."""
    evaluate_module(model, tokenizer, suite, device=device)  # warm the caches
    generated, gen_s, scored, score_s = 0, 0.0, 0, 0.0
    for task in suite.tasks:
        prepared = _prepared(tokenizer, suite, task, "search", 0, None, device)
        stops = prepared.stop_ids
        start = time.perf_counter()
        for batch in prepared.gen:
            generated += sum(len(row) + 1 for row in greedy_generate(model, batch, task.spec.max_new_tokens, stops))
        gen_s += time.perf_counter() - start
        start = time.perf_counter()
        for batch in prepared.gen:  # score the prompts themselves: one forward over every prompt token
            scored += int(batch.mask.sum())
            _score_prompts(model, batch)
        score_s += time.perf_counter() - start
    return generated / gen_s, scored / score_s


@torch.inference_mode()
def _score_prompts(model, batch) -> None:
    from tools.evaluate.inference import ScoreBatch

    score(model, ScoreBatch(batch.ids, batch.mask, batch.mask[:, 1:].bool(), batch.rows))


def recipes(steps: int) -> list[dict]:
    experts = ("adder", "reverser", "sorter")
    return [
        {
            "merge_method": "task_arithmetic",
            "base_model": "base",
            "dtype": "float32",
            "models": [{"model": e, "parameters": {"weight": 1.0}} for e in experts],
            "parameters": {"lambda": 0.6 + 0.1 * i},
        }
        for i in range(steps)
    ]


def search_steps(workspace, suite, steps: int, device: str) -> list[tuple[float, float, float, float]]:
    """(step, merge, forward, other) seconds per step; the first step is cold."""
    merger = ResidentMerger(workspace.model_paths(), device=device)
    tokenizer, clock, rows = None, None, []
    for recipe in recipes(steps):
        start = time.perf_counter()
        recipe = merger.prepare(recipe)  # planned once for the merge and its tokenizer
        module = merger.apply(recipe)
        merged = time.perf_counter()
        if clock is None:
            tokenizer, clock = load_tokenizer(merger.tokenizer_dir(recipe)), ForwardClock(module)
        before = clock.seconds
        evaluate_module(module, tokenizer, suite, device=device)
        total = time.perf_counter() - start
        forward = clock.seconds - before
        rows.append((total, merged - start, forward, total - (merged - start) - forward))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, default=REPO / "examples" / "tiny-zoo")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0, help="torch intra-op threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    workspace = load_workspace(args.workspace)
    suite = load_suite(workspace)
    model, tokenizer = load_model(workspace.model_paths()["base"], args.device)
    gen, scored = throughput(model, tokenizer, suite, args.device)
    print(f"threads {torch.get_num_threads()}, device {args.device}, batch_size {suite.batch_size}")
    print(f"generation  {gen:10.0f} tokens/s (greedy, KV cache)\nscoring     {scored:10.0f} tokens/s (one forward)\n")
    print(f"{'step':>6} {'wall s':>8} {'merge s':>8} {'forward s':>10} {'other s':>8} {'other %':>8}")
    for i, (total, merge, forward, other) in enumerate(search_steps(workspace, suite, args.steps, args.device)):
        label = f"{i}{' cold' if i == 0 else ''}"
        print(f"{label:>6} {total:8.3f} {merge:8.3f} {forward:10.3f} {other:8.3f} {100 * other / total:7.1f}%")


if __name__ == "__main__":
    main()
