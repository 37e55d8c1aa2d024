"""The evaluation layer's public API (importing it imports torch and transformers lazily, on use).

load_suite(workspace) -> Suite
evaluate_model_dir(model_dir, suite, *, split="search", device="cpu") -> EvalResult
evaluate_module(model, tokenizer, suite, *, split="search", device="cpu") -> EvalResult
run_command_evaluator(argv, cwd, *, timeout_s) -> dict[str, float]
"""

from __future__ import annotations

from pathlib import Path

from tools.evaluate.command import CommandFailed, run_command_evaluator
from tools.evaluate.result import EvalResult
from tools.evaluate.suite import Suite, load_suite, suite_from_config


def evaluate_module(model, tokenizer, suite: Suite, *, split: str = "search", device: str = "cpu", progress=None) -> EvalResult:
    """Score a resident causal LM (e.g. the merge engine's ResidentMerger output) without touching disk.
    `progress(examples, note=task, total=...)` is called as each task is done (tools/progress.py draws it)."""
    from tools.evaluate.runner import evaluate_module as run

    return run(model, tokenizer, suite, split=split, device=device, progress=progress)


def evaluate_model_dir(model_dir: Path, suite: Suite, *, split: str = "search", device: str = "cpu", progress=None) -> EvalResult:
    """Load a Hugging Face model directory once and score it on every task of the suite."""
    from tools.evaluate.loading import load_model

    model, tokenizer = load_model(Path(model_dir), device)
    return evaluate_module(model, tokenizer, suite, split=split, device=device, progress=progress)


__all__ = [
    "CommandFailed",
    "EvalResult",
    "Suite",
    "evaluate_model_dir",
    "evaluate_module",
    "load_suite",
    "run_command_evaluator",
    "suite_from_config",
]
