"""Build the tiny zoo: a mediocre Llama base and one expert per synthetic skill.

    python examples/tiny-zoo/build_zoo.py [--out DIR]

Deterministic (fixed seeds, one thread, deterministic algorithms) and CPU-only. Recipe:
a base trained on a clean mixture of every skill (answer-only loss, AdamW) but stopped
part-way through its cosine schedule, so it is mediocre at each skill; then one expert per
skill, fine-tuned from the base on that skill alone at a low learning rate for a few
hundred steps, so task vectors stay small and nearly orthogonal and merges keep them.
Writes models/{base,adder,reverser,sorter} and data/<skill>.<split>.jsonl.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import zoo_skills  # noqa: E402

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Phase:
    """One training run: which skills, how long, and its learning-rate schedule."""

    skills: tuple[str, ...]
    steps: int
    lr: float
    schedule_steps: int  # cosine length; stopping before it leaves the model part-trained
    warmup: int
    seed: int


BASE = Phase(tuple(zoo_skills.SKILLS), steps=500, lr=3e-3, schedule_steps=3000, warmup=100, seed=1)
EXPERT_STEPS, EXPERT_LR, BATCH = 200, 3e-4, 64


def expert_phase(skill: str, index: int) -> Phase:
    return Phase((skill,), EXPERT_STEPS, EXPERT_LR, EXPERT_STEPS, warmup=20, seed=100 + index)


def new_model(tokenizer):
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=64,
        tie_word_embeddings=False,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    return LlamaForCausalLM(config)


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
    """Train in place; returns the mean loss of the last 50 steps."""
    torch.manual_seed(phase.seed)
    stream = zoo_skills.training_stream(list(phase.skills), phase.seed)
    opt = torch.optim.AdamW(model.parameters(), lr=phase.lr, weight_decay=0.0)
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
    return sum(losses[-50:]) / len(losses[-50:])


def save(model, tokenizer, out: Path) -> None:
    """Write a Hugging Face model directory atomically."""
    tmp = out.with_name(out.name + ".tmp")
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    if out.exists():
        import shutil

        shutil.rmtree(out)
    tmp.rename(out)


def build(out: Path) -> None:
    import copy

    torch.set_num_threads(1)  # one thread: identical bits everywhere, and robust to busy cores
    torch.use_deterministic_algorithms(True)
    tokenizer = zoo_skills.build_tokenizer()
    zoo_skills.write_eval_data(out / "data")
    torch.manual_seed(0)
    base = new_model(tokenizer)
    _timed("base", lambda: train(base, tokenizer, BASE))
    save(base, tokenizer, out / "models" / "base")
    for index, (skill, name) in enumerate(zoo_skills.EXPERTS.items()):
        expert = copy.deepcopy(base)
        _timed(name, lambda: train(expert, tokenizer, expert_phase(skill, index)))
        save(expert, tokenizer, out / "models" / name)


def _timed(label: str, fn) -> None:
    start = time.perf_counter()
    loss = fn()
    print(f"{label:<10} final loss {loss:.4f}  {time.perf_counter() - start:6.1f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="zoo directory (default: this one)")
    args = parser.parse_args()
    start = time.perf_counter()
    build(args.out)
    print(f"zoo built in {time.perf_counter() - start:.1f} s -> {args.out}")


if __name__ == "__main__":
    main()
