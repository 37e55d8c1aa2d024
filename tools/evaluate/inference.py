"""Batched inference with any transformers causal LM: greedy generation and log-likelihood scoring.

Token ids are padded into tensors once (`generation_batches`, `score_batches`) and reused for
every model evaluated on the same prompts. Generation is greedy with a KV cache over left-padded
prompts (explicit position ids, so padding does not shift positions); scoring is one forward
pass over right-padded sequences. Everything runs under torch.inference_mode and is
deterministic for a fixed batch composition.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Sequence
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class GenBatch:
    ids: torch.Tensor  # [B, T] left-padded prompts
    mask: torch.Tensor  # [B, T] 1 on real tokens
    rows: tuple[int, ...]  # the index of each row's example


@dataclass(frozen=True)
class ScoreBatch:
    ids: torch.Tensor  # [B, T] right-padded context + continuation
    mask: torch.Tensor  # [B, T]
    scored: torch.Tensor  # [B, T-1] True where token t+1 belongs to the continuation
    rows: tuple[int, ...]


def _chunks(order: list[int], size: int) -> list[list[int]]:
    return [order[i : i + size] for i in range(0, len(order), size)]


def _by_length(seqs: Sequence[Sequence[int]]) -> list[int]:
    """Indices longest first (stable), so each batch holds similar lengths and pads little."""
    return sorted(range(len(seqs)), key=lambda i: -len(seqs[i]))


def _pad(seqs: list[Sequence[int]], pad_id: int, *, left: bool) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(map(len, seqs))
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for row, seq in enumerate(seqs):
        span = slice(width - len(seq), width) if left else slice(0, len(seq))
        ids[row, span] = torch.tensor(seq, dtype=torch.long)
        mask[row, span] = 1
    return ids, mask


def generation_batches(prompts: Sequence[Sequence[int]], batch_size: int, pad_id: int, device: str) -> list[GenBatch]:
    batches = []
    for rows in _chunks(_by_length(prompts), batch_size):
        ids, mask = _pad([prompts[r] for r in rows], pad_id, left=True)
        batches.append(GenBatch(ids.to(device), mask.to(device), tuple(rows)))
    return batches


def score_batches(pairs: Sequence[tuple[Sequence[int], Sequence[int]]], batch_size: int, pad_id: int, device: str) -> list[ScoreBatch]:
    """Each pair is (context ids, continuation ids); the continuation's tokens are scored."""
    seqs = [list(ctx) + list(cont) for ctx, cont in pairs]
    batches = []
    for rows in _chunks(_by_length(seqs), batch_size):
        ids, mask = _pad([seqs[r] for r in rows], pad_id, left=False)
        scored = torch.zeros_like(ids, dtype=torch.bool)
        for i, r in enumerate(rows):
            start = len(pairs[r][0])
            scored[i, start : len(seqs[r])] = True
        batches.append(ScoreBatch(ids.to(device), mask.to(device), scored[:, 1:].to(device), tuple(rows)))
    return batches


@torch.inference_mode()
def greedy_generate(model, batch: GenBatch, max_new_tokens: int, stop_ids: torch.Tensor) -> list[list[int]]:
    """Greedy continuation of each row, cut before its first stop token (EOS is one)."""
    mask = batch.mask
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    out = model(input_ids=batch.ids, attention_mask=mask, position_ids=positions, use_cache=True, logits_to_keep=1)
    steps, done = [], torch.zeros(len(batch.rows), dtype=torch.bool, device=mask.device)
    for step in range(max_new_tokens):
        token = out.logits[:, -1].argmax(-1)
        steps.append(token)
        done |= torch.isin(token, stop_ids)
        if step + 1 == max_new_tokens or bool(done.all()):
            break
        mask = torch.cat([mask, mask.new_ones((mask.shape[0], 1))], dim=1)
        positions = positions[:, -1:] + 1
        out = model(input_ids=token[:, None], attention_mask=mask, position_ids=positions, use_cache=True, **_kv_cache(model, out))
    return _cut(torch.stack(steps, dim=1), stop_ids)


def _kv_cache(model, out) -> dict:
    """The KV cache of `out` under the argument name this transformers version takes: `cache` since 5.x
    (`past_key_values` warns there that it is deprecated), `past_key_values` before."""
    cache = getattr(out, "cache", None)
    if cache is None:
        cache = out.past_key_values
    return {"cache" if _takes_cache(type(model)) else "past_key_values": cache}


@functools.cache
def _takes_cache(model_class: type) -> bool:
    return "cache" in inspect.signature(model_class.forward).parameters


def _cut(tokens: torch.Tensor, stop_ids: torch.Tensor) -> list[list[int]]:
    is_stop = torch.isin(tokens, stop_ids)
    ends = torch.where(is_stop.any(1), is_stop.int().argmax(1), tokens.shape[1]).tolist()
    return [row[:end] for row, end in zip(tokens.tolist(), ends)]


@torch.inference_mode()
def score(model, batch: ScoreBatch) -> list[tuple[float, bool]]:
    """Per row: the sum of log p(token) over its continuation (float32), and whether greedy
    decoding would have produced exactly that continuation."""
    logits = model(input_ids=batch.ids, attention_mask=batch.mask).logits[:, :-1].float()
    targets = batch.ids[:, 1:]
    picked = logits.gather(-1, targets[..., None]).squeeze(-1) - torch.logsumexp(logits, dim=-1)
    greedy = ((logits.argmax(-1) == targets) | ~batch.scored).all(-1)
    return list(zip((picked * batch.scored).sum(-1).tolist(), greedy.tolist()))
