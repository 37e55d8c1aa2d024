"""Batched greedy generation and scoring agree with unbatched transformers computations."""

from __future__ import annotations

import torch

from tools.evaluate.inference import generation_batches, greedy_generate, score, score_batches

PROMPTS = ["12+34=", "rev abcdef=", "sort qwe=", "9+9=", "rev zz="]


def _ids(tokenizer, texts):
    return tokenizer(texts)["input_ids"]


def test_batched_greedy_matches_transformers_generate(tiny_llama, tokenizer):
    prompts = _ids(tokenizer, PROMPTS)
    stop = torch.tensor([tokenizer.eos_token_id])
    got = {}
    for batch in generation_batches(prompts, batch_size=3, pad_id=tokenizer.pad_token_id, device="cpu"):
        got.update(zip(batch.rows, greedy_generate(tiny_llama, batch, 6, stop)))
    for row, ids in enumerate(prompts):
        ref = tiny_llama.generate(
            torch.tensor([ids]), max_new_tokens=6, do_sample=False, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id
        )[0, len(ids) :].tolist()
        ref = ref[: ref.index(tokenizer.eos_token_id)] if tokenizer.eos_token_id in ref else ref
        assert got[row] == ref, PROMPTS[row]


def test_generation_stops_at_every_stop_id(tiny_llama, tokenizer):
    prompts = _ids(tokenizer, PROMPTS)
    (batch,) = generation_batches(prompts, batch_size=8, pad_id=0, device="cpu")
    free = greedy_generate(tiny_llama, batch, 8, torch.tensor([-1]))
    assert all(len(row) == 8 for row in free)
    first = free[0][2]
    cut = greedy_generate(tiny_llama, batch, 8, torch.tensor([first]))
    for full, short in zip(free, cut):
        assert short == full[: full.index(first)] if first in full else short == full


def test_score_is_the_continuation_log_likelihood(tiny_llama, tokenizer):
    pairs = [
        (_ids(tokenizer, [p])[0], tokenizer(a, add_special_tokens=False)["input_ids"])
        for p, a in [("12+34=", "46"), ("rev abcdef=", "fedcba"), ("9+9=", "18")]
    ]
    ctx = _ids(tokenizer, ["sort qwe="])[0]
    own = tiny_llama.generate(torch.tensor([ctx]), max_new_tokens=3, min_new_tokens=3, do_sample=False, pad_token_id=0)
    pairs.append((ctx, own[0, len(ctx) :].tolist()))  # the model's own greedy continuation
    got = {}
    for batch in score_batches(pairs, batch_size=2, pad_id=0, device="cpu"):
        got.update(zip(batch.rows, score(tiny_llama, batch)))
    for row, (ctx, cont) in enumerate(pairs):
        ids = torch.tensor([ctx + cont])
        with torch.no_grad():
            logp = torch.log_softmax(tiny_llama(ids).logits[0, :-1].float(), -1)
        expected = sum(logp[len(ctx) - 1 + i, tok].item() for i, tok in enumerate(cont))
        greedy = all(logp[len(ctx) - 1 + i].argmax().item() == tok for i, tok in enumerate(cont))
        assert abs(got[row][0] - expected) < 1e-4 and got[row][1] == greedy
    assert got[len(pairs) - 1][1] is True


def test_batches_put_similar_lengths_together(tokenizer):
    prompts = _ids(tokenizer, ["1=", "rev abcdefgh=", "2=", "rev abcdefgi="])
    batches = generation_batches(prompts, batch_size=2, pad_id=0, device="cpu")
    assert [sorted(b.rows) for b in batches] == [[1, 3], [0, 2]]
    assert int(batches[0].mask.sum()) == batches[0].mask.numel()
