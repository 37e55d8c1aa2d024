"""Build the composite zoo: a base that copies numbers and adds a little, an adder and a reader.

    python examples/composite-zoo/build_zoo.py [--out DIR]

Deterministic (fixed seeds, one thread, deterministic algorithms) and CPU-only; 96-130 s
on one core. Design J (README.md):
- the base learns digit tasks only (`copy` mostly, a little `add`), stopped early in its cosine
  schedule, so it adds poorly and has never seen a Kelvish letter (their embedding rows keep
  their random initialisation);
- the adder fine-tunes the upper half of the network (layers 2-3, final norm, head) on digit
  addition (with some `copy`, so it still copies);
- the reader is a vocabulary extension: the ten Kelvish letters' embedding rows start as copies
  of their digits' rows (the usual way to initialise new tokens, from their translations), then
  the upper half is fine-tuned on reading and writing Kelvish with the embeddings frozen, which
  moves the upper layers toward emitting Kelvish and away from adding.
So the reader's useful change lives in the embeddings and its harmful one in the adder's layers:
a uniform merge carries both or neither, a layer-wise one can take the first and leave the second.
Writes models/{base,adder,reader} and data/<task>.<split>.jsonl.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import math
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import composite_skills  # noqa: E402

HERE = Path(__file__).resolve().parent
LAYERS, BATCH = 4, 64


@dataclass(frozen=True)
class Phase:
    """One training run: the skill mixture, its length and schedule, and which layers train."""

    mix: dict[str, float]
    steps: int
    lr: float
    schedule_steps: int  # cosine length; stopping before it leaves the model part-trained
    warmup: int
    seed: int
    trains: str = "all"  # all | upper (layers of the second half, final norm, head) | lower (the rest)


@dataclass(frozen=True)
class LettersFromDigits:
    """Set each Kelvish letter's input embedding row to its digit's row (a vocabulary extension's init)."""


BASE = Phase({"add": 0.25, "copy": 0.75}, steps=800, lr=3e-3, schedule_steps=1600, warmup=50, seed=1)
EXPERTS = {  # each expert: its steps, in order
    "adder": [Phase({"add": 0.8, "copy": 0.2}, steps=600, lr=2e-3, schedule_steps=600, warmup=20, seed=101, trains="upper")],
    "reader": [
        LettersFromDigits(),
        Phase({"read": 0.5, "write": 0.5}, steps=200, lr=2e-3, schedule_steps=200, warmup=20, seed=103, trains="upper"),
    ],
}


def new_model(tokenizer):
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=256,
        num_hidden_layers=LAYERS,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=32,
        tie_word_embeddings=False,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    return LlamaForCausalLM(config)


def upper(name: str) -> bool:
    """In the second half of the network (the second of two layer groups: as mergekit slices it)."""
    if "embed_tokens" in name:
        return False
    if "layers." in name:
        return int(name.split("layers.")[1].split(".")[0]) >= LAYERS // 2
    return True  # final norm, lm_head


def encode_batch(pairs, tokenizer) -> dict[str, torch.Tensor]:
    """Right-padded ids with the loss on the answer and </s> only."""
    vocab, rows, labels = tokenizer.get_vocab(), [], []
    for prompt, answer in pairs:
        p = [tokenizer.bos_token_id] + [vocab[c] for c in prompt]
        a = [vocab[c] for c in answer] + [tokenizer.eos_token_id]
        rows.append(p + a)
        labels.append([-100] * len(p) + a)
    width = max(map(len, rows))
    pad = lambda seq, fill: seq + [fill] * (width - len(seq))  # noqa: E731
    return {
        "input_ids": torch.tensor([pad(r, tokenizer.pad_token_id) for r in rows]),
        "attention_mask": torch.tensor([pad([1] * len(r), 0) for r in rows]),
        "labels": torch.tensor([pad(lab, -100) for lab in labels]),
    }


def lr_at(phase: Phase, step: int) -> float:
    if step < phase.warmup:
        return phase.lr * (step + 1) / phase.warmup
    progress = (step - phase.warmup) / max(1, phase.schedule_steps - phase.warmup)
    return phase.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def train(model, tokenizer, phase: Phase) -> float:
    """Train in place; returns the mean loss of the last 30 steps."""
    torch.manual_seed(phase.seed)
    stream = composite_skills.training_stream(phase.mix, phase.seed)
    params = [p for n, p in model.named_parameters() if phase.trains == "all" or (phase.trains == "upper") == upper(n)]
    opt = torch.optim.AdamW(params, lr=phase.lr, weight_decay=0.0)
    model.train()
    losses = []
    for step in range(phase.steps):
        for group in opt.param_groups:
            group["lr"] = lr_at(phase, step)
        loss = model(**encode_batch([next(stream) for _ in range(BATCH)], tokenizer)).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    model.eval()
    return sum(losses[-30:]) / len(losses[-30:])


def scaled(phase: Phase, factor: float) -> Phase:
    if factor == 1.0:
        return phase
    n = lambda k: max(1, round(k * factor))  # noqa: E731
    return dataclasses.replace(phase, steps=n(phase.steps), schedule_steps=n(phase.schedule_steps), warmup=n(phase.warmup))


def letters_from_digits(model, tokenizer) -> None:
    vocab = tokenizer.get_vocab()
    rows = model.get_input_embeddings().weight
    with torch.no_grad():
        for digit, letter in enumerate(composite_skills.DIGIT_NAMES):
            rows[vocab[letter]] = rows[vocab[str(digit)]]


def save(model, tokenizer, out: Path) -> None:
    """Write a Hugging Face model directory atomically."""
    tmp = out.with_name(out.name + ".tmp")
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)


def build(out: Path, steps: float = 1.0) -> None:
    """Write the zoo under `out`; `steps` scales every phase's length (1: the committed zoo; a small
    value only checks that the build runs and is deterministic)."""
    torch.set_num_threads(1)  # one thread: identical bits everywhere, and robust to busy cores
    torch.use_deterministic_algorithms(True)
    tokenizer = composite_skills.build_tokenizer()
    composite_skills.write_eval_data(out / "data")
    torch.manual_seed(0)
    base = new_model(tokenizer)
    _timed("base", lambda: train(base, tokenizer, scaled(BASE, steps)))
    save(base, tokenizer, out / "models" / "base")
    for name, phases in EXPERTS.items():
        expert = copy.deepcopy(base)
        for phase in phases:
            if isinstance(phase, LettersFromDigits):
                letters_from_digits(expert, tokenizer)
                continue
            run = scaled(phase, steps)
            _timed(name, lambda expert=expert, run=run: train(expert, tokenizer, run))
        save(expert, tokenizer, out / "models" / name)


def _timed(label: str, fn) -> None:
    start = time.perf_counter()
    loss = fn()
    print(f"{label:<8} final loss {loss:.4f}  {time.perf_counter() - start:6.1f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="zoo directory (default: this one)")
    parser.add_argument("--steps", type=float, default=1.0, help="scale every phase's length (a quick check of the build)")
    args = parser.parse_args()
    if not 0 < args.steps <= 1:
        parser.error(f"--steps {args.steps}: must lie in (0, 1]")
    start = time.perf_counter()
    build(args.out, args.steps)
    print(f"zoo built in {time.perf_counter() - start:.1f} s -> {args.out}")


if __name__ == "__main__":
    main()
