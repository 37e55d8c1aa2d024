"""Tiny BPE tokenizers like mergekit's tests make: `<unk> <s> </s> _tok_3 ... _tok_{n-1}` plus
added tokens (ids from n on), saved with transformers (LlamaTokenizerFast)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path


def make_tokenizer(vocab_size: int, added: tuple[str, ...] = ()):
    import tokenizers
    import transformers

    names = ["<unk>", "<s>", "</s>", *(f"_tok_{i}" for i in range(3, vocab_size))][:vocab_size]
    spec = {"version": "1.0", "model": {"type": "BPE", "vocab": {t: i for i, t in enumerate(names)}, "merges": []}, "added_tokens": []}
    with tempfile.TemporaryDirectory() as tmp:
        file = Path(tmp) / "tokenizer.json"
        tokenizers.Tokenizer.from_str(json.dumps(spec)).save(str(file))
        tokenizer = transformers.LlamaTokenizerFast(tokenizer_file=str(file))
    tokenizer.add_tokens(list(added))
    return tokenizer


def save_tokenizer(path: Path, vocab_size: int, added: tuple[str, ...] = ()) -> None:
    make_tokenizer(vocab_size, added).save_pretrained(path)
