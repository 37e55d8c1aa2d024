"""What the gradient strategy checks of its inputs, shared by `clade run`'s pre-flight (agents/preflight.py,
from safetensors headers and the tokenizer: no weights loaded) and the optimiser's build (optimise.py, from
the loaded model), so bad input exits 2 before any job runs instead of at the first proposal.

- `layout`: each tensor's row of λ from its name (one stack of layers; with `ends: separate`, no
  embedding or head tensor name inside a layer tensor's name, where a recipe filter could not single it out);
- `encoded_rows`: the search split encoded as the loss reads it, refusing a prompt plus answer longer than
  the model's `max_positions`.

Torch-free (the tokenizer is passed in).
"""

from __future__ import annotations

from dataclasses import dataclass

from tools.errors import BadInput

WHERE = "clade.yaml: planner.gradient"


@dataclass
class Layout:
    layer_of: dict[str, int]  # tensor name -> its row of λ
    n_layers: int
    ends: tuple[list[str], list[str]] | None  # ends: separate: the embedding and the head tensors (rows n_layers, n_layers + 1)


def layout(names: list[str], ends: str) -> Layout:
    """The rows of λ for the base's tensors `names` (in the base's order); BadInput naming the stacks or the
    clashing tensor when the strategy cannot merge the model."""
    from tools.merge.plan import PRE_MARKERS
    from tools.merge.sources import split_layer

    layer_of, prefixes = {}, set()
    for name in names:
        split = split_layer(name)
        if split is not None:
            layer_of[name] = split[1]
            prefixes.add(split[0].split(".{}.")[0])
    if len(prefixes) != 1:
        raise BadInput(
            f"{WHERE}: the base has {len(prefixes)} stacks of layers ({', '.join(sorted(prefixes)) or 'none'}); "
            "the gradient strategy merges models with one"
        )
    n_layers = max(layer_of.values()) + 1
    pre = [n for n in names if n not in layer_of and any(m in n for m in PRE_MARKERS)]
    post = [n for n in names if n not in layer_of and n not in pre]
    separate = None
    if ends == "separate":
        separate = (pre, post)
        clash = [(n, t) for n in pre + post for t in layer_of if n in t]
        if clash:
            raise BadInput(
                f"{WHERE}.ends: separate: tensor name {clash[0][0]} occurs inside layer tensor {clash[0][1]}, so a recipe "
                "filter cannot single it out; use ends: shared"
            )
    for name in pre:
        layer_of[name] = n_layers if separate else 0
    for name in post:
        layer_of[name] = n_layers + 1 if separate else n_layers - 1
    return Layout(layer_of, n_layers, separate)


def max_positions(config: dict) -> int | None:
    """The model's longest sequence (config.json's max_position_embeddings; None: not declared)."""
    limit = config.get("max_position_embeddings")
    return limit if isinstance(limit, int) and not isinstance(limit, bool) and limit > 0 else None


def encoded_rows(task, tokenizer, limit: int | None) -> list[tuple[list[int], int]]:
    """Task `task`'s search split as (token ids, index of the first answer token) per example: prompt and answer
    encoded as the evaluator encodes them, plus EOS after a generation task's answer when the tokenizer has one.
    BadInput naming the task and example when one is longer than `limit` tokens."""
    from tools.evaluate.prepare import scored_pairs
    from tools.evaluate.spec import GenerationTask

    eos = tokenizer.eos_token_id
    examples = task.examples("search")
    rows = []
    for ex, (ctx, cont) in zip(examples, scored_pairs(task, examples, tokenizer)):
        cont = list(cont) + ([eos] if isinstance(task.spec, GenerationTask) and eos is not None else [])
        seq = list(ctx) + cont
        if limit is not None and len(seq) > limit:
            raise BadInput(
                f"{WHERE}: task {task.name!r}, {ex.where}: prompt and answer take {len(seq)} tokens, over the model's "
                f"{limit} (max_position_embeddings); shorten the example or drop it from the search split"
            )
        rows.append((seq, len(ctx)))
    return rows


def check_inputs(workspace, ends: str, lengths: bool = True) -> None:
    """Pre-flight: the base's layout (safetensors headers) and, with `lengths`, every search-split example's
    length (the base's tokenizer and config.json), as `build` will check them at the first proposal."""
    import json

    from tools.evaluate.loading import load_tokenizer
    from tools.evaluate.suite import load_suite
    from tools.merge.sources import open_source

    path = workspace.model_paths()["base"]
    layout(list(open_source("base", path).tensors), ends)
    if not lengths:
        return
    limit = max_positions(json.loads((path / "config.json").read_text()))
    tokenizer = load_tokenizer(path)
    for task in load_suite(workspace).tasks:
        encoded_rows(task, tokenizer, limit)
