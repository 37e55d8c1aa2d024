"""Statistics from calibration data, gathered before a data-dependent method merges any tensor.

`collect(prepared, reader, seed)` returns one `Statistic` per (model, input tensor) that has one:
- "gram" (RegMean): each source model runs on its calibration sequences as a transformers module
  (float32, on the reader's device); a hook on every nn.Linear sums x·xᵀ over the real (unpadded)
  tokens of its input; the statistic of `<module>.weight` is that sum over the token count.
- "fisher": per calibration example (one sequence at a time), the gradient of the continuation's
  log-likelihood; the statistic of every parameter is the mean of its squared gradient (the
  empirical diagonal Fisher; the task's search split has the answers), with the model's total
  norm over all its tensors.
- "gram_merged" (RegMean++): calibrate_merged.py.

The data (calibration.py) comes from tools.evaluate: each task's first `examples` records of the
named split, context = prompt, continuation = answer, tokenised with the output tokenizer. The
held-out split is refused by the recipe schema before anything is read.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from tools.errors import BadInput
from tools.evaluate.inference import ScoreBatch
from tools.merge.execute import TensorReader
from tools.merge.gram import Data, GramHooks, linear_modules
from tools.merge.methods.base import Statistic
from tools.merge.module import build_module, targets
from tools.merge.plan import Input

Statistics = Mapping[Input, Statistic]


def collect(prepared, reader: TensorReader, seed: int, cache: dict | None = None) -> dict[Input, Statistic]:
    """Every statistic the prepared merge's method needs ({} for data-free methods)."""
    kind = prepared.method.calibration
    if kind is None:
        return {}
    data = encode(prepared)
    if kind == "gram_merged":
        from tools.merge.calibrate_merged import merged_grams

        return merged_grams(prepared, reader, seed, data)
    stats: dict[Input, Statistic] = {}
    for model in input_models(prepared):
        key = (str(prepared.sources[model].path), kind, prepared.recipe.calibration.key(), str(prepared.tokenizer.path))
        if cache is None or key not in cache:
            per_tensor = _model_statistics(prepared, reader, model, data[model])
            if cache is None:
                stats.update({Input(model, name): s for name, s in per_tensor.items()})
                continue
            cache[key] = per_tensor
        stats.update({Input(model, name): s for name, s in cache[key].items()})
    return stats


def input_models(prepared) -> list[str]:
    """The models the method merges (not a base), in plan order."""
    return list(dict.fromkeys(i.model for plan in prepared.plans if not plan.copy for i in plan.inputs))


def _model_statistics(prepared, reader: TensorReader, model: str, data: Data) -> dict[str, Statistic]:
    module = source_module(prepared.sources[model], reader)
    if prepared.method.calibration == "fisher":
        return fisher_statistics(module, data.batches(1, reader.device))
    return gram_statistics(module, data.batches(prepared.recipe.calibration.batch_size, reader.device))


def encode(prepared) -> dict[str, Data]:
    """Model -> its encoded calibration data (models sharing a task list share one Data)."""
    from tools.evaluate.loading import load_tokenizer

    calibration = prepared.recipe.calibration
    tokenizer = load_tokenizer(prepared.tokenizer.path)
    limit = prepared.config.get("max_position_embeddings")
    by_tasks: dict[tuple[str, ...], Data] = {}
    result = {}
    for model in input_models(prepared):
        refs = calibration.tasks_of(model)
        if refs not in by_tasks:
            pairs = [p for ref in refs for p in task_pairs(prepared.recipe._tasks[ref], ref, calibration, tokenizer, limit)]
            by_tasks[refs] = Data(refs, tuple(pairs))
        result[model] = by_tasks[refs]
    return result


def task_pairs(task, ref: str, calibration, tokenizer, limit: int | None) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """(context, continuation) token ids of the first `examples` records of the task's split."""
    from tools.evaluate.spec import ChoiceTask, PerplexityTask

    spec, prefix, pairs = task.spec, task.fewshot_prefix(), []
    for ex in task.examples(calibration.split)[: calibration.examples]:
        if isinstance(spec, PerplexityTask):
            ids = tokenizer(ex.prompt, add_special_tokens=True)["input_ids"]
            pair = (tuple(ids[:1]), tuple(ids[1:]))
        else:
            answer = spec.choice_prefix + ex.choices[ex.gold] if isinstance(spec, ChoiceTask) else ex.target
            pair = (_context(tokenizer, spec, prefix + ex.prompt), tuple(tokenizer(answer, add_special_tokens=False)["input_ids"]))
        if not pair[1] or (limit is not None and len(pair[0]) + len(pair[1]) > limit):
            raise BadInput(
                f"calibration task {ref!r}, {ex.where}: encodes to {len(pair[0]) + len(pair[1])} tokens with an empty answer "
                f"or beyond the model's {limit} positions; fix or drop the record"
            )
        pairs.append(pair)
    return pairs


def _context(tokenizer, spec, text: str) -> tuple[int, ...]:
    if not spec.chat_template:
        return tuple(tokenizer(text, add_special_tokens=True)["input_ids"])
    chat = tokenizer.apply_chat_template([{"role": "user", "content": text}], tokenize=False, add_generation_prompt=True)
    return tuple(tokenizer(chat, add_special_tokens=False)["input_ids"])


def source_module(source, reader: TensorReader) -> torch.nn.Module:
    """The source model as a float32 transformers module on the reader's device."""
    module = build_module(source.config, torch.float32, str(reader.device))
    slots = targets(module)
    with torch.no_grad():
        for name in source.tensors:
            if name in slots:
                slots[name].copy_(reader.get(Input(source.name, name)))
    written = {slots[n].data_ptr() for n in source.tensors if n in slots}
    missing = [n for n, t in module.state_dict().items() if t.data_ptr() not in written]
    if missing:
        raise BadInput(f"model {source.name} ({source.path}): has no tensor {missing[0]}, which the calibration forward pass needs")
    return module


@torch.no_grad()
def gram_statistics(module: torch.nn.Module, batches: list[ScoreBatch]) -> dict[str, Statistic]:
    linears = linear_modules(module)
    hooks = GramHooks(linears)
    for batch in batches:
        hooks.valid = batch.mask.reshape(-1).bool()
        module(input_ids=batch.ids, attention_mask=batch.mask, use_cache=False)
    return hooks.result({name: f"{name}.weight" for name in linears})


def fisher_statistics(module: torch.nn.Module, batches: list[ScoreBatch]) -> dict[str, Statistic]:
    params = dict(module.named_parameters())
    sums = {name: torch.zeros_like(p) for name, p in params.items()}
    with torch.enable_grad():
        for batch in batches:
            module.zero_grad(set_to_none=True)
            logits = module(input_ids=batch.ids, attention_mask=batch.mask, use_cache=False).logits[:, :-1].float()
            picked = logits.log_softmax(-1).gather(-1, batch.ids[:, 1:, None]).squeeze(-1)
            (picked * batch.scored).sum().backward()
            for name, p in params.items():
                if p.grad is not None:
                    sums[name].add_(p.grad.square())
    count = len(batches)
    fisher = {name: s / count for name, s in sums.items()}
    norm = float(torch.sqrt(sum(f.double().square().sum() for f in fisher.values())))
    return {name: Statistic(f, norm=norm, tokens=count) for name, f in fisher.items()}
