"""The tiny models the mergekit-equivalence cases run on, built deterministically (no downloads).

Shapes follow mergekit's own tests (tests/common.py: pico Llama, Granite, LLaVA; the GPT-2 is
narrower than theirs but keeps 12 layers). Values do not come from transformers' initialisers
(those change between versions): every tensor is filled from a generator seeded by the model's
name, and a fine-tune-like model is its family's base plus small seeded noise. The models are
saved with transformers' own save_pretrained, so names and layout are what transformers writes.
`fingerprint` lets the tests notice when a rebuild no longer gives the models the committed
expected outputs were made from.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import torch

from tests.merge.compat.toy_tokenizers import save_tokenizer


def _seed(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little") & (2**62 - 1)


def _values(name: str, shape: torch.Size, seed_text: str) -> torch.Tensor:
    g = torch.Generator().manual_seed(_seed(f"{seed_text}/{name}"))
    noise = torch.randn(shape, generator=g, dtype=torch.float32)
    if "norm" in name or name.endswith(("ln_1.weight", "ln_2.weight", "ln_f.weight")):
        return 1 + 0.1 * noise
    return 0.02 * noise


def llama(vocab: int = 64, layers: int = 2):
    import transformers

    return transformers.LlamaConfig(
        vocab_size=vocab, hidden_size=32, intermediate_size=48, num_attention_heads=16, num_hidden_layers=layers
    )


def narrow_llama(layers: int):
    import transformers

    return transformers.LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=24, num_attention_heads=4, num_hidden_layers=layers)


def mistral():
    import transformers

    return transformers.MistralConfig(
        vocab_size=64, hidden_size=32, intermediate_size=48, num_attention_heads=4, num_key_value_heads=2, num_hidden_layers=2
    )


def mixtral():
    import transformers

    config = transformers.MixtralConfig(
        vocab_size=64,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        num_local_experts=3,
        num_experts_per_tok=2,
    )
    config.architectures = ["MixtralForCausalLM"]
    return config


def granite():
    import transformers

    return transformers.GraniteConfig(
        vocab_size=64, hidden_size=32, intermediate_size=48, num_attention_heads=2, num_key_value_heads=2, num_hidden_layers=2
    )


def gpt2():
    import transformers

    return transformers.GPT2Config(
        n_ctx=64, n_embd=32, n_head=4, n_layer=12, n_positions=64, vocab_size=128, bos_token_id=0, eos_token_id=0
    )


def llava():
    import transformers

    vision = transformers.CLIPVisionConfig(
        image_size=32, patch_size=4, num_hidden_layers=2, num_attention_heads=2, hidden_size=64, intermediate_size=128
    )
    return transformers.LlavaConfig(vision_config=vision, text_config=llama(), image_seq_length=16, image_token_index=63)


# name -> (config factory, family base seed or None, tokenizer (vocab, added tokens) or None)
Spec = tuple[Callable, str | None, tuple[int, tuple[str, ...]] | None]
MODELS: dict[str, Spec] = {
    "model_a": (llama, "llama", None),
    "model_b": (llama, "llama", None),
    "model_c": (llama, None, None),
    "granite_a": (granite, "granite", None),
    "granite_b": (granite, None, None),
    "gpt2_like": (gpt2, None, None),
    "vlm_a": (llava, "llava", None),
    "vlm_b": (llava, "llava", None),
    "vlm_c": (llava, None, None),
    "tok_base": (llama, None, (64, ())),
    "tok_chatml": (lambda: llama(vocab=66), "tok", (64, ("<|im_start|>", "<|im_end|>"))),
    "tok_padded": (llama, "tok", (64, ("<UNUSED_0>", "<UNUSED_1>", "<UNUSED_2>", "<UNUSED_3>"))),
    "mistral_base": (mistral, None, None),
    "mistral_instruct": (mistral, "mistral", None),
    "biomistral": (mistral, "mistral", None),
    "llama2_13b": (lambda: narrow_llama(40), None, None),
    # Mixtral saved per expert (as transformers' save_pretrained writes) and one saved fused (as held in memory)
    "mixtral_c": (mixtral, None, None),
    "mixtral_a": (mixtral, "mixtral", None),
    "mixtral_b": (mixtral, "mixtral", None),
    "mixtral_fused": (mixtral, "mixtral", None),
    **{name: (lambda: narrow_llama(40), "llama2", None) for name in ("orca_mini", "platypus2", "wizardlm", "wizardmath")},
}
FAMILY_BASES = {
    "mixtral": "mixtral_c",
    "llama": "model_c",
    "granite": "granite_b",
    "llava": "vlm_c",
    "tok": "tok_base",
    "mistral": "mistral_base",
    "llama2": "llama2_13b",
}
NOISE = 0.01


def build_model(root: Path, name: str) -> Path:
    import transformers

    factory, family, tokenizer = MODELS[name]
    config = factory()
    if isinstance(config, transformers.LlavaConfig):
        model = transformers.LlavaForConditionalGeneration(config)
    else:
        model = transformers.AutoModelForCausalLM.from_config(config)
    with torch.no_grad():
        for tensor_name, tensor in model.state_dict().items():
            value = _values(tensor_name, tensor.shape, FAMILY_BASES[family] if family else name)
            if family:
                value += NOISE * _values(tensor_name, tensor.shape, name + "/noise")
            tensor.copy_(value)
    if name.endswith("_fused"):
        from safetensors.torch import save_file

        (root / name).mkdir(parents=True, exist_ok=True)
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, root / name / "model.safetensors", metadata={"format": "pt"})
        config.save_pretrained(root / name)
    else:
        model.save_pretrained(root / name)
    if tokenizer is not None:
        save_tokenizer(root / name, *tokenizer)
    return root / name


ADAPTERS = {"lora_a": "model_a"}  # a PEFT LoRA adapter over model_a (q_proj, v_proj with its own rank, embeddings)


def build_adapter(root: Path, name: str, base: Path) -> Path:
    """A LoRA adapter in PEFT's saved layout, with trained-like (non-zero) A and B."""
    from safetensors.torch import save_file

    ranks = {"q_proj": 4, "v_proj": 2}
    tensors = {}
    for layer in range(2):
        for module, r in ranks.items():
            key = f"base_model.model.model.layers.{layer}.self_attn.{module}"
            tensors[f"{key}.lora_A.weight"] = _values(key + "A", torch.Size((r, 32)), name) * 10
            tensors[f"{key}.lora_B.weight"] = _values(key + "B", torch.Size((32, r)), name) * 10
    tensors["base_model.model.model.embed_tokens.lora_embedding_A"] = _values("embA", torch.Size((4, 64)), name) * 10
    tensors["base_model.model.model.embed_tokens.lora_embedding_B"] = _values("embB", torch.Size((32, 4)), name) * 10
    (root / name).mkdir(parents=True, exist_ok=True)
    save_file(tensors, root / name / "adapter_model.safetensors", metadata={"format": "pt"})
    config = {
        "peft_type": "LORA",
        "task_type": "CAUSAL_LM",
        "base_model_name_or_path": str(base),
        "r": 4,
        "lora_alpha": 8,
        "rank_pattern": {"v_proj": 2},
        "alpha_pattern": {"v_proj": 3},
        "target_modules": ["q_proj", "v_proj", "embed_tokens"],
        "lora_dropout": 0.0,
        "bias": "none",
        "fan_in_fan_out": False,
        "use_rslora": False,
    }
    (root / name / "adapter_config.json").write_text(json.dumps(config, indent=1))
    return root / name


def build_zoo(root: Path, names: list[str] | None = None) -> dict[str, Path]:
    root.mkdir(parents=True, exist_ok=True)
    wanted = [n for n in names or MODELS if n in MODELS]
    zoo = {name: (root / name if (root / name / "config.json").is_file() else build_model(root, name)) for name in wanted}
    for name, base in ADAPTERS.items():
        if names is None or name in names:
            zoo[name] = build_adapter(root, name, zoo.get(base) or build_model(root, base))
    return zoo


def fingerprint(path: Path) -> str:
    """sha256 over every tensor's name and bytes in the model's safetensors files."""
    from safetensors.torch import load_file

    digest = hashlib.sha256()
    for file in sorted(path.glob("*.safetensors")):
        for key, tensor in sorted(load_file(file).items()):
            digest.update(key.encode())
            digest.update(tensor.contiguous().view(torch.uint8).numpy().tobytes())
    for file in ("tokenizer.json", "tokenizer_config.json"):
        if (path / file).is_file():
            digest.update(json.dumps(json.loads((path / file).read_text()), sort_keys=True).encode())
    return digest.hexdigest()[:16]
