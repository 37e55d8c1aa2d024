"""Checks that keep a merge from writing a model transformers cannot load (issue 12):

- the sources share one architecture (config.json `model_type`, else `architectures`), unless the
  recipe says `mixed_architectures: true`: a Llama template silently drops a Qwen2 source's biases;
- the models form needs sources of equal layer counts (one slice over all their layers);
- the output's shapes agree with its config: every output layer tensor has the shape the template
  model's layers have (a layer path mixing hidden sizes fails here), and the embedding's width is
  the config's hidden size (a base whose config.json disagrees with its tensors fails here).
"""

from __future__ import annotations

from collections.abc import Mapping

from tools.errors import BadInput
from tools.merge.plan import TensorPlan
from tools.merge.sources import SourceModel, split_layer

HIDDEN_KEYS = ("hidden_size", "n_embd", "d_model")
SUB_CONFIGS = ("text_config", "language_config", "llm_config")
EMBEDDINGS = ("embed_tokens.weight", "wte.weight", "word_embeddings.weight")


def architecture(source: SourceModel) -> str | None:
    kind = source.config.get("model_type")
    if isinstance(kind, str) and kind:
        return kind
    names = source.config.get("architectures")
    return names[0] if isinstance(names, list) and names and isinstance(names[0], str) else None


def check_architectures(sources: Mapping[str, SourceModel], allowed: bool) -> None:
    kinds = {name: architecture(s) for name, s in sources.items()}
    distinct = sorted({k for k in kinds.values() if k is not None})
    if len(distinct) > 1 and not allowed:
        listed = ", ".join(f"{name} is {kind}" for name, kind in kinds.items() if kind is not None)
        raise BadInput(
            f"the models have different architectures ({listed}): the output would load as the first one's and "
            "lose what the others have (biases, norms); merge models of one architecture, or set "
            "`mixed_architectures: true` in the recipe if you mean it"
        )


def check_equal_layer_counts(models: list[str], sources: Mapping[str, SourceModel]) -> None:
    counts = {m: sources[m].num_layers for m in models}
    if len(set(counts.values())) > 1:
        listed = ", ".join(f"{m}: {n}" for m, n in counts.items())
        raise BadInput(
            f"field models: the models form merges models of one layer count, these differ ({listed}); "
            "use slices with a layer_range per model instead"
        )


def check_output_shapes(plans: list[TensorPlan], config: dict, template: SourceModel) -> None:
    """BadInput naming the first tensor whose shape the output config cannot hold."""
    _check_layers(plans, template)
    _check_hidden_size(plans, config)


def _check_layers(plans: list[TensorPlan], template: SourceModel) -> None:
    shapes: dict[str, set[tuple[int, ...]]] = {}
    for name, ref in template.tensors.items():
        split = split_layer(name)
        if split is not None:
            shapes.setdefault(split[0], set()).add(tuple(ref.shape))
    for plan in plans:
        split = split_layer(plan.name)
        expected = shapes.get(split[0]) if split is not None else None
        if expected is None or len(expected) != 1:  # a template whose layers vary in shape: nothing to hold them to
            continue
        (shape,) = expected
        if tuple(plan.shape) != shape:
            raise BadInput(
                f"tensor {plan.name}: shape {list(plan.shape)}, but the output's config (from model {template.name}) "
                f"has layers of shape {list(shape)} there; the layers come from models of different sizes"
            )


def _hidden_sizes(config: dict) -> set[int]:
    sizes = {config[k] for k in HIDDEN_KEYS if isinstance(config.get(k), int) and not isinstance(config.get(k), bool)}
    for sub in SUB_CONFIGS:
        if isinstance(config.get(sub), dict):
            sizes |= _hidden_sizes(config[sub])
    return sizes


def _check_hidden_size(plans: list[TensorPlan], config: dict) -> None:
    sizes = _hidden_sizes(config)
    if not sizes:
        return
    for plan in plans:
        if plan.name.endswith(EMBEDDINGS) and len(plan.shape) == 2 and plan.shape[-1] not in sizes:
            raise BadInput(
                f"tensor {plan.name}: width {plan.shape[-1]}, but the output's config.json says hidden size "
                f"{' or '.join(map(str, sorted(sizes)))}; the template model's config.json disagrees with its tensors"
            )
