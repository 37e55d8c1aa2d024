"""lm-evaluation-harness adapter: run lm-eval tasks on a resident model with Clade's batched inference.

Optional extra: `pip install 'clade[lmeval]'`. Nothing is downloaded by Clade: point
`include_path` at a directory of local task YAMLs (e.g. `dataset_path: json` with local
`data_files`) and set HF_DATASETS_OFFLINE=1 where the machine must stay offline.

Conventions (those of lm-eval's own HF backend, except where noted): contexts are encoded with
the tokenizer's special tokens (Clade's convention, so a model trained with BOS sees it),
continuations without; an empty context is replaced by the BOS (else EOS) token; rolling
log-likelihoods use lm-eval's disjoint windows of the model's context length; generation is
greedy whatever `do_sample` says, and a context too long for `max_gen_toks` more tokens is
cut from the left, as lm-eval does.
"""

from __future__ import annotations

from pathlib import Path

import torch

from tools.errors import BadInput
from tools.evaluate.inference import generation_batches, greedy_generate, score, score_batches
from tools.evaluate.prepare import stop_token_ids


def evaluate_lmeval(
    model,
    tokenizer,
    tasks: list[str],
    *,
    include_path: Path | None = None,
    limit: int | None = None,
    num_fewshot: int | None = None,
    batch_size: int = 64,
    device: str = "cpu",
) -> dict[str, dict[str, float]]:
    """{task: {metric: value}} from lm_eval.simple_evaluate on the given (resident) model."""
    evaluator, task_manager = _lm_eval()
    manager = task_manager(include_path=str(include_path) if include_path else None, include_defaults=include_path is None)
    unknown = [t for t in tasks if t not in manager.all_tasks]
    if unknown:
        raise BadInput(f"lm-eval task {unknown[0]!r} not found{f' in {include_path}' if include_path else ''}")
    out = evaluator.simple_evaluate(
        model=make_lm(model, tokenizer, batch_size, device),
        tasks=list(tasks),
        limit=limit,
        num_fewshot=num_fewshot,
        task_manager=manager,
        bootstrap_iters=0,
        log_samples=False,
    )
    return {name: _metrics(values) for name, values in out["results"].items()}


def _lm_eval():
    try:
        from lm_eval import evaluator
        from lm_eval.tasks import TaskManager
    except ImportError:
        raise BadInput("lm-eval is not installed; install the extra: pip install 'clade[lmeval]'") from None
    return evaluator, TaskManager


def _metrics(values: dict) -> dict[str, float]:
    """`acc,none` -> `acc`; other filters keep their name (`exact_match,strict` -> `exact_match/strict`)."""
    metrics = {}
    for key, value in values.items():
        if "," not in key or "_stderr" in key or isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        metric, filt = key.split(",", 1)
        metrics[metric if filt == "none" else f"{metric}/{filt}"] = float(value)
    return metrics


def make_lm(model, tokenizer, batch_size: int = 64, device: str = "cpu"):
    """An lm_eval.api.model.LM over a resident causal LM (built lazily: lm-eval is optional)."""
    from lm_eval.api.model import LM

    class CladeLM(LM):
        def loglikelihood(self, requests):
            return _loglikelihood(model, tokenizer, [r.args for r in requests], batch_size, device)

        def loglikelihood_rolling(self, requests):
            return [_rolling(model, tokenizer, r.args[0], batch_size, device) for r in requests]

        def generate_until(self, requests):
            return [_generate(model, tokenizer, *r.args, device=device) for r in requests]

    return CladeLM()


def _prefix_id(tokenizer) -> int:
    return tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id


def _loglikelihood(model, tokenizer, pairs, batch_size, device) -> list[tuple[float, bool]]:
    encoded = []
    limit = _max_len(model)
    for context, continuation in pairs:
        ctx = tokenizer(context)["input_ids"] if context else [_prefix_id(tokenizer)]
        cont = tokenizer(continuation, add_special_tokens=False)["input_ids"]
        if len(cont) >= limit:
            raise BadInput(f"lm-eval request: a continuation of {len(cont)} tokens does not fit the model's {limit}-token context")
        encoded.append((ctx[-(limit - len(cont)) :], cont))  # cut the context from the left, as lm-eval does
    results: list = [None] * len(encoded)
    for batch in score_batches(encoded, batch_size, _pad(tokenizer), device):
        for row, value in zip(batch.rows, score(model, batch)):
            results[row] = value
    return results


def _rolling(model, tokenizer, text: str, batch_size: int, device: str) -> float:
    from lm_eval.utils import get_rolling_token_windows, make_disjoint_window

    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    windows = [
        make_disjoint_window(w)
        for w in get_rolling_token_windows(token_list=ids, prefix_token=_prefix_id(tokenizer), max_seq_len=_max_len(model), context_len=1)
    ]
    return sum(logprob for batch in score_batches(windows, batch_size, _pad(tokenizer), device) for logprob, _ in score(model, batch))


def _generate(model, tokenizer, context: str, gen_kwargs: dict, *, device: str) -> str:
    until = gen_kwargs.get("until") or []
    until = [until] if isinstance(until, str) else list(until)
    max_new = int(gen_kwargs.get("max_gen_toks", 256))
    ids = tokenizer(context)["input_ids"][-max(1, _max_len(model) - max_new) :]
    stops = stop_token_ids(tokenizer, until)
    (batch,) = generation_batches([ids], 1, _pad(tokenizer), device)
    (tokens,) = greedy_generate(model, batch, max_new, torch.tensor(stops, device=device))
    text = tokenizer.decode(tokens, skip_special_tokens=True)
    for stop in until:
        text = text.split(stop, 1)[0]
    return text


def _max_len(model) -> int:
    return int(getattr(model.config, "max_position_embeddings", 2048))


def _pad(tokenizer) -> int:
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (tokenizer.eos_token_id or 0)
