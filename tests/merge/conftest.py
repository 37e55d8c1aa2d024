"""Tiny random Hugging Face models (Llama, Qwen2, GPT-2) made with transformers, and a tokenizer."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

VOCAB = 96
CHARS = [chr(c) for c in range(32, 32 + VOCAB - 2)]


def make_tokenizer():
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"<unk>": 0, "<s>": 1, **{c: i + 2 for i, c in enumerate(CHARS)}}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Split("", behavior="isolated")
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", bos_token="<s>", eos_token="<s>")


def make_config(arch: str, layers: int = 3, vocab: int = VOCAB, tied: bool = False):
    import transformers

    if arch == "llama":
        return transformers.LlamaConfig(
            vocab_size=vocab,
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=layers,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=64,
            tie_word_embeddings=tied,
        )
    if arch == "qwen2":
        return transformers.Qwen2Config(
            vocab_size=vocab,
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=layers,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=64,
            tie_word_embeddings=tied,
        )
    if arch == "gpt2":
        return transformers.GPT2Config(vocab_size=vocab, n_embd=32, n_layer=layers, n_head=4, n_positions=64)
    raise ValueError(arch)


def make_model(
    path: Path,
    arch: str = "llama",
    seed: int = 0,
    layers: int = 3,
    vocab: int = VOCAB,
    tied: bool = False,
    tokenizer: bool = True,
    base: Path | None = None,
    noise: float = 0.02,
) -> Path:
    """A random model; with `base`, the base's weights plus small noise (a fine-tune-like model)."""
    import transformers

    torch.manual_seed(seed)
    model = transformers.AutoModelForCausalLM.from_config(make_config(arch, layers, vocab, tied))
    if base is not None:
        reference = transformers.AutoModelForCausalLM.from_pretrained(base)
        with torch.no_grad():
            for (_, p), (_, q) in zip(model.state_dict().items(), reference.state_dict().items()):
                p.copy_(q + noise * torch.randn_like(q))
    model.save_pretrained(path)
    if tokenizer:
        make_tokenizer().save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def zoo(tmp_path_factory) -> dict[str, Path]:
    """base/a/b: a Llama base and two fine-tunes; q*: Qwen2; g*: GPT-2; plus odd ones for bad input."""
    root = tmp_path_factory.mktemp("zoo")
    z = {"base": make_model(root / "base", "llama", seed=0)}
    z["a"] = make_model(root / "a", "llama", seed=1, base=z["base"])
    z["b"] = make_model(root / "b", "llama", seed=2, base=z["base"], tokenizer=False)
    z["qbase"] = make_model(root / "qbase", "qwen2", seed=3)
    z["qa"] = make_model(root / "qa", "qwen2", seed=4, base=z["qbase"])
    z["gbase"] = make_model(root / "gbase", "gpt2", seed=5)
    z["ga"] = make_model(root / "ga", "gpt2", seed=6, base=z["gbase"])
    z["bigvocab"] = make_model(root / "bigvocab", "llama", seed=7, vocab=VOCAB + 8)
    z["tied"] = make_model(root / "tied", "llama", seed=8, tied=True)
    return z
