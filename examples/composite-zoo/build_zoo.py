"""Build the composite zoo: a base that reads and adds a little, an adder and a reader.

    python examples/composite-zoo/build_zoo.py [--out DIR]

Deterministic (fixed seeds, one thread, deterministic algorithms) and CPU-only. The base is
trained on a mixture of every skill (mostly `add`, `read` and `write`, a sliver of the
composite `kel_add`) and stopped early in its cosine schedule. The adder fine-tunes only the
upper half of the network (layers 2-3, final norm, head) on digit addition; the reader
fine-tunes everything on reading and writing Kelvish, which moves its upper layers toward
writing Kelvish and away from adding. So the skills live in different layers, and a uniform
merge carries the reader's upper-layer drift into the adder's layers where a layer-wise one
need not. Writes models/{base,adder,reader} and data/<task>.<split>.jsonl.
"""

from __future__ import annotations

import argparse
import copy
import math
import shutil
import sys
import time
from dataclasses import dataclass, field
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
    extra: dict = field(default_factory=dict)


BASE = Phase({"add": 0.4, "copy": 0.3, "read": 0.1, "write": 0.2}, steps=800, lr=3e-3, schedule_steps=1600, warmup=50, seed=1)
EXPERTS = {  # each expert: its phases, in order
    "adder": [Phase({"add": 1.0}, steps=300, lr=1e-3, schedule_steps=300, warmup=20, seed=101, trains="upper")],
    "reader": [
        Phase({"read": 1.0}, steps=200, lr=1e-3, schedule_steps=200, warmup=20, seed=102, trains="lower"),
        Phase({"read": 0.5, "write": 0.5}, steps=150, lr=1e-3, schedule_steps=150, warmup=20, seed=103),
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


def save(model, tokenizer, out: Path) -> None:
    """Write a Hugging Face model directory atomically."""
    tmp = out.with_name(out.name + ".tmp")
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)


def build(out: Path) -> None:
    torch.set_num_threads(1)  # one thread: identical bits everywhere, and robust to busy cores
    torch.use_deterministic_algorithms(True)
    tokenizer = composite_skills.build_tokenizer()
    composite_skills.write_eval_data(out / "data")
    torch.manual_seed(0)
    base = new_model(tokenizer)
    _timed("base", lambda: train(base, tokenizer, BASE))
    save(base, tokenizer, out / "models" / "base")
    for name, phases in EXPERTS.items():
        expert = copy.deepcopy(base)
        for phase in phases:
            _timed(name, lambda expert=expert, phase=phase: train(expert, tokenizer, phase))
        save(expert, tokenizer, out / "models" / name)


def _timed(label: str, fn) -> None:
    start = time.perf_counter()
    loss = fn()
    print(f"{label:<8} final loss {loss:.4f}  {time.perf_counter() - start:6.1f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="zoo directory (default: this one)")
    args = parser.parse_args()
    start = time.perf_counter()
    build(args.out)
    print(f"zoo built in {time.perf_counter() - start:.1f} s -> {args.out}")


if __name__ == "__main__":
    main()
