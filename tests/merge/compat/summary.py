"""What an output directory is compared by: per-tensor checksums, config keys, tokenizer.

Per tensor: [dtype, shape, Σx, Σ|x|, Σx·p (p a fixed sine pattern), x at 3 positions], all in
float64 from the stored values. `compare` applies the tolerance of the case's dtype: float32
within 1e-5 per element (so n·1e-5 on sums), 16-bit within a few units in the last place, and
for the random methods (DARE, DELLA) the same names, shapes and total magnitude within 5 %.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import torch

CONFIG_KEYS = ("vocab_size", "num_hidden_layers", "n_layer")
SAMPLE_MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]


def tensor_stats(t: torch.Tensor) -> list[Any]:
    x = t.detach().double().reshape(-1)
    n = x.numel()
    pattern = torch.sin(torch.arange(n, dtype=torch.float64) * 0.37)
    samples = [_round(x[i]) for i in (0, n // 2, n - 1)] if n else []
    return [
        str(t.dtype).removeprefix("torch."),
        list(t.shape),
        _round(x.sum()),
        _round(x.abs().sum()),
        _round((x * pattern).sum()),
        samples,
    ]


def _round(value) -> float:
    return float(f"{float(value):.9g}")


def load_tensors(out_dir: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    tensors: dict[str, torch.Tensor] = {}
    for file in sorted(out_dir.glob("*.safetensors")):
        tensors.update(load_file(file))
    return tensors


def summarize(out_dir: Path, rename=None) -> dict[str, Any]:
    tensors = {(rename(k) if rename else k): v for k, v in load_tensors(out_dir).items()}
    return {
        "tensors": {k: tensor_stats(v) for k, v in sorted(tensors.items())},
        "config": config_summary(out_dir),
        "tokenizer": tokenizer_summary(out_dir),
    }


def config_summary(out_dir: Path) -> dict[str, Any]:
    config = json.loads((out_dir / "config.json").read_text())
    found = {k: config[k] for k in CONFIG_KEYS if k in config}
    found |= {f"text_config.{k}": config["text_config"][k] for k in CONFIG_KEYS if k in (config.get("text_config") or {})}
    return found


def tokenizer_summary(out_dir: Path) -> dict[str, Any] | None:
    if not (out_dir / "tokenizer.json").is_file() and not (out_dir / "tokenizer.model").is_file():
        return None
    import transformers

    tokenizer = transformers.AutoTokenizer.from_pretrained(out_dir)
    vocab = tokenizer.get_vocab()
    rendered = (
        tokenizer.apply_chat_template(SAMPLE_MESSAGES, tokenize=False, add_generation_prompt=True) if tokenizer.chat_template else None
    )
    return {
        "vocab": sorted(vocab, key=vocab.get),
        "ids": sorted(vocab.values()),
        "added": sorted(t.content for t in tokenizer.added_tokens_decoder.values()),
        "chat": rendered,
    }


def _tolerance(dtype: str) -> tuple[float, float]:
    """(absolute, relative) per element."""
    return {"float32": (1e-5, 1e-5), "bfloat16": (2e-3, 2**-7), "float16": (2e-4, 2**-10)}.get(dtype, (1e-5, 1e-5))


def compare(expected: dict[str, Any], actual: dict[str, Any], random: bool = False, dtype: str | None = None) -> list[str]:
    """Problems found (none: equivalent). `dtype`: compare in this dtype whatever the expected
    tensors' dtype label (a case whose mergekit output dtype deliberately differs)."""
    problems = _compare_names(expected["tensors"], actual["tensors"])
    for name in sorted(set(expected["tensors"]) & set(actual["tensors"])):
        e = expected["tensors"][name]
        e = [dtype, *e[1:]] if dtype and e[0] != actual["tensors"][name][0] else e
        problems += _compare_tensor(name, e, actual["tensors"][name], random)
    if random:
        problems += _compare_magnitude(expected["tensors"], actual["tensors"])
    for key, value in expected["config"].items():
        if actual["config"].get(key) != value:
            problems.append(f"config {key}: expected {value}, got {actual['config'].get(key)}")
    if expected.get("tokenizer") != actual.get("tokenizer"):
        problems.append(f"tokenizer differs: expected {_short(expected.get('tokenizer'))}, got {_short(actual.get('tokenizer'))}")
    return problems


def _short(tok: dict | None) -> str:
    if tok is None:
        return "none"
    return f"{len(tok['vocab'])} tokens, added {tok['added']}, chat {tok['chat'][:40] if tok['chat'] else None!r}"


def _compare_names(expected: dict, actual: dict) -> list[str]:
    missing, extra = sorted(set(expected) - set(actual)), sorted(set(actual) - set(expected))
    return ([f"missing tensors {missing[:4]} ({len(missing)})"] if missing else []) + (
        [f"unexpected tensors {extra[:4]} ({len(extra)})"] if extra else []
    )


def _compare_tensor(name: str, e: list, a: list, random: bool) -> list[str]:
    if e[0] != a[0] or e[1] != a[1]:
        return [f"{name}: expected {e[0]} {e[1]}, got {a[0]} {a[1]}"]
    if random:
        return [] if all(math.isfinite(v) for v in a[2:5]) else [f"{name}: not finite"]
    atol, rtol = _tolerance(e[0])
    n = math.prod(e[1]) or 1
    scale = e[3] / n
    for label, ev, av, bound in (
        ("sum", e[2], a[2], n * (atol + rtol * scale)),
        ("abs sum", e[3], a[3], n * (atol + rtol * scale)),
        ("pattern sum", e[4], a[4], n * (atol + rtol * scale)),
    ):
        if not abs(ev - av) <= bound:
            return [f"{name}: {label} {av:.9g}, expected {ev:.9g} (bound {bound:.2g})"]
    for i, (ev, av) in enumerate(zip(e[5], a[5])):
        if not abs(ev - av) <= atol + rtol * abs(ev) * 2:
            return [f"{name}: sample {i} {av:.9g}, expected {ev:.9g}"]
    return []


def _compare_magnitude(expected: dict, actual: dict) -> list[str]:
    e, a = sum(v[3] for v in expected.values()), sum(v[3] for v in actual.values() if v)
    return [] if abs(e - a) <= 0.05 * e else [f"total magnitude {a:.6g}, expected {e:.6g} (random method: 5 % allowed)"]
