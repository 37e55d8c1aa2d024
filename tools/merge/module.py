"""Building a transformers module from a config.json mapping, and naming its tensors."""

from __future__ import annotations

import torch

from tools.errors import BadInput


def build_module(config: dict, dtype: torch.dtype, device: str) -> torch.nn.Module:
    import transformers

    fields = {k: v for k, v in config.items() if k not in ("model_type", "transformers_version")}
    try:
        hf_config = transformers.AutoConfig.for_model(config["model_type"], **fields)
        model = transformers.AutoModelForCausalLM.from_config(hf_config, dtype=dtype)
    except (KeyError, ValueError) as exc:
        raise BadInput(
            f"config.json model_type {config.get('model_type')!r}: transformers cannot build a causal LM from it ({exc})"
        ) from None
    return model.to(device).eval()


def targets(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    targets = dict(module.named_parameters(remove_duplicate=False))
    targets.update(dict(module.named_buffers(remove_duplicate=False)))
    return targets
