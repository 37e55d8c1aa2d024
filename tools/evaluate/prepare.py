"""Turning a task's examples into padded token batches for one tokenizer (done once, then cached).

Here a tokenizer that cannot encode the task's text, and a prompt longer than the model's
context, are reported as BadInput naming the task and the record.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from tools.errors import BadInput
from tools.evaluate.data import Example
from tools.evaluate.inference import GenBatch, ScoreBatch, generation_batches, score_batches
from tools.evaluate.spec import ChoiceTask, GenerationTask


@dataclass(frozen=True)
class Prepared:
    """A task slice ready to run: batches plus what the metrics need besides model outputs."""

    examples: tuple[Example, ...]
    gen: tuple[GenBatch, ...] = ()
    score: tuple[ScoreBatch, ...] = ()
    stop_ids: torch.Tensor | None = None
    tokens: tuple[int, ...] = ()  # scored tokens per example (perplexity, target_logprob)
    choice_rows: tuple[tuple[int, ...], ...] = ()  # multiple choice: score rows of each example
    longest: int = 0  # longest sequence the model will see, in tokens


def prepare(task, examples: list[Example], tokenizer, batch_size: int, device: str) -> Prepared:
    prefix = task.fewshot_prefix()
    spec = task.spec
    contexts = _encode_contexts(tokenizer, spec, [prefix + ex.prompt for ex in examples], examples)
    pad = _pad_id(tokenizer)
    if isinstance(spec, GenerationTask):
        return _prepare_generation(spec, tokenizer, examples, contexts, batch_size, pad, device)
    if isinstance(spec, ChoiceTask):
        return _prepare_choices(spec, tokenizer, examples, contexts, batch_size, pad, device)
    pairs = [(ids[:1], ids[1:]) for ids in contexts]
    return _scored(tuple(examples), pairs, batch_size, pad, device)


def scored_pairs(task, examples: list[Example], tokenizer) -> list[tuple[list[int], list[int]]]:
    """(context ids, continuation ids) per example, rendered and encoded exactly as `prepare` does for
    scoring (few-shot prefix, chat template, special tokens): generation -> the target, multiple
    choice -> the gold option, perplexity -> the text after its first token. For a training loss
    over a split (agents/gradient); no batching, no device."""
    prefix = task.fewshot_prefix()
    spec = task.spec
    contexts = _encode_contexts(tokenizer, spec, [prefix + ex.prompt for ex in examples], examples)
    if isinstance(spec, GenerationTask):
        targets = _encode(tokenizer, spec, [ex.target for ex in examples], examples, special=False)
        return list(zip(contexts, targets))
    if isinstance(spec, ChoiceTask):
        gold = _encode(tokenizer, spec, [spec.choice_prefix + ex.choices[ex.gold] for ex in examples], examples, special=False)
        return list(zip(contexts, gold))
    return [(ids[:1], ids[1:]) for ids in contexts]


def _prepare_generation(spec, tokenizer, examples, contexts, batch_size, pad, device) -> Prepared:
    stop_ids = torch.tensor(stop_token_ids(tokenizer, spec.stop), dtype=torch.long, device=device)
    gen = tuple(generation_batches(contexts, batch_size, pad, device))
    longest = max(map(len, contexts)) + spec.max_new_tokens
    if not spec.score_target:
        return Prepared(tuple(examples), gen=gen, stop_ids=stop_ids, longest=longest)
    targets = _encode(tokenizer, spec, [ex.target for ex in examples], examples, special=False)
    scored = _scored(tuple(examples), list(zip(contexts, targets)), batch_size, pad, device)
    return Prepared(tuple(examples), gen, scored.score, stop_ids, scored.tokens, longest=max(longest, scored.longest))


def _prepare_choices(spec, tokenizer, examples, contexts, batch_size, pad, device) -> Prepared:
    pairs, rows = [], []
    for ex, ctx in zip(examples, contexts):
        options = _encode(tokenizer, spec, [spec.choice_prefix + c for c in ex.choices], [ex] * len(ex.choices), special=False)
        rows.append(tuple(range(len(pairs), len(pairs) + len(options))))
        pairs.extend((ctx, opt) for opt in options)
    scored = _scored(tuple(examples), pairs, batch_size, pad, device)
    return Prepared(tuple(examples), score=scored.score, tokens=scored.tokens, choice_rows=tuple(rows), longest=scored.longest)


def _scored(examples, pairs, batch_size, pad, device) -> Prepared:
    return Prepared(
        examples,
        score=tuple(score_batches(pairs, batch_size, pad, device)),
        tokens=tuple(len(cont) for _, cont in pairs),
        longest=max(len(c) + len(t) for c, t in pairs),
    )


def _encode_contexts(tokenizer, spec, texts: list[str], examples: list[Example]) -> list[list[int]]:
    if not spec.chat_template:
        return _encode(tokenizer, spec, texts, examples, special=True)
    if not getattr(tokenizer, "chat_template", None):
        raise BadInput(f"task {spec.name!r} sets chat_template: true but the model's tokenizer has no chat template")
    chats = [tokenizer.apply_chat_template([{"role": "user", "content": t}], tokenize=False, add_generation_prompt=True) for t in texts]
    return _encode(tokenizer, spec, chats, examples, special=False)


def _encode(tokenizer, spec, texts: list[str], examples: list[Example], *, special: bool) -> list[list[int]]:
    ids = tokenizer(texts, add_special_tokens=special)["input_ids"]
    unk = tokenizer.unk_token_id
    if unk is not None:
        for text, row, ex in zip(texts, ids, examples):
            if unk in row and tokenizer.unk_token not in text:
                raise BadInput(
                    f"task {spec.name!r}, {ex.where}: the model's tokenizer cannot encode {_unknown(tokenizer, text)!r} "
                    f"(it becomes {tokenizer.unk_token}); use a model whose vocabulary covers the task's text"
                )
    if any(len(row) == 0 for row in ids):
        raise BadInput(
            f"task {spec.name!r}: a text encodes to no tokens (first such record: {examples[[len(r) for r in ids].index(0)].where})"
        )
    return ids


def _unknown(tokenizer, text: str) -> str:
    for char in dict.fromkeys(text):
        if tokenizer.unk_token_id in tokenizer(char, add_special_tokens=False)["input_ids"]:
            return char
    return text


def stop_token_ids(tokenizer, stops: list[str]) -> list[int]:
    """EOS plus every stop string that is exactly one token (longer ones are cut from the text)."""
    ids = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    for stop in stops:
        encoded = tokenizer(stop, add_special_tokens=False)["input_ids"]
        if len(encoded) == 1:
            ids.append(encoded[0])
    return ids or [-1]


def _pad_id(tokenizer) -> int:
    for candidate in (tokenizer.pad_token_id, tokenizer.eos_token_id, 0):
        if candidate is not None:
            return candidate
    return 0


def check_fits(task_name: str, prepared: Prepared, model) -> None:
    limit = getattr(model.config, "max_position_embeddings", None)
    if limit is not None and prepared.longest > limit:
        raise BadInput(
            f"task {task_name!r}: a prompt plus its answer needs {prepared.longest} tokens but the model "
            f"takes at most {limit}; shorten the task's texts or lower max_new_tokens"
        )
