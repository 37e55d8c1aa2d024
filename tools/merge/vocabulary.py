"""The output vocabulary of a merge with `tokenizer_source` or a `tokenizer:` block, as mergekit
0.1.5 builds it (mergekit/tokenizer/build.py), with transformers' tokenizers:

- `base`: the base model's tokenizer (the first model's without a base), stripped of tokens whose
  ids reach past its embedding rows (config.json `vocab_size`); a model name: that model's
  tokenizer as it is; `union`: the stripped base tokenizer plus every token any model has within
  its rows, plain tokens first (added in id order of the first model that has them), then every
  model's added tokens (special or not, with their settings from the first model that adds them);
- tokens named under `tokenizer.tokens` are added when missing;
- each model's permutation maps an output id to that model's row of the same token, -1 when it
  lacks the token (a model without tokenizer files is taken to share the base's vocabulary, or
  the output's when the base has none either).

Deliberate differences: mergekit adds union's plain tokens in its tokenizers' hash-map order,
which changes from run to run; Clade's id order is stable. A tokenizer source whose own tokens
lie past its embedding rows makes mergekit fail on a missing key; Clade treats such a token as
absent from that model.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tools.errors import BadInput
from tools.merge.recipe import Recipe, TokenSetting
from tools.merge.sources import SourceModel


@dataclass(frozen=True, eq=False)
class Vocabulary:
    tokenizer: Any  # the output tokenizer (transformers), saved with the merge
    vocab: dict[str, int]  # output token -> id
    rows: int  # embedding rows: len(vocab), padded to pad_to_multiple_of
    permutations: dict[str, list[int]]  # model -> its row for each output id (-1: lacks it)
    originals: dict[str, dict[str, int]]  # model -> its own token -> id
    tokens: dict[str, TokenSetting]  # the recipe's per-token settings


def model_vocab_size(source: SourceModel) -> int | None:
    config = source.config
    for holder in (config, config.get("text_config") or {}):
        if isinstance(holder.get("vocab_size"), int):
            return holder["vocab_size"]
    return None


def load_tokenizer(source: SourceModel):
    import transformers

    if not source.has_tokenizer():
        return None
    try:
        return transformers.AutoTokenizer.from_pretrained(source.path, use_fast=True)
    except Exception as exc:  # noqa: BLE001 - transformers raises many types for unreadable tokenizer files
        raise BadInput(
            f"model {source.name} ({source.path}): its tokenizer does not load ({type(exc).__name__}: {str(exc).splitlines()[0][:160]})"
        ) from None


def base_name(recipe: Recipe) -> str:
    return recipe.base_model or recipe.referenced_models()[0]


def build_vocabulary(recipe: Recipe, sources: Mapping[str, SourceModel]) -> Vocabulary:
    base, source = base_name(recipe), recipe.vocabulary_source
    tokenizers = {n: t for n in sources if (t := load_tokenizer(sources[n])) is not None}
    if base in tokenizers:
        tokenizers[base] = strip_unused(tokenizers[base], model_vocab_size(sources[base]), sources[base])
    elif source in ("base", "union"):
        _require(sources[base], "the base model")
    output = _output_tokenizer(source, base, tokenizers, sources)
    settings = dict(recipe.tokenizer.tokens or {}) if recipe.tokenizer else {}
    present = set(output.get_vocab())
    for token in settings:
        if token not in present:
            output.add_tokens(token)
            present.add(token)
    vocab = output.get_vocab()
    _check_contiguous(vocab, source)
    shared = (tokenizers.get(base) or output).get_vocab()  # models without tokenizer files share the base's
    vocabularies = {n: tokenizers[n].get_vocab() if n in tokenizers else shared for n in sources}
    permutations = {n: _permutation(vocab, vocabularies[n], model_vocab_size(sources[n]) or len(vocabularies[n])) for n in sources}
    return Vocabulary(output, vocab, _padded(len(vocab), recipe), permutations, vocabularies, settings)


def _check_contiguous(vocab: dict[str, int], source: str) -> None:
    beyond = [(t, i) for t, i in vocab.items() if i >= len(vocab)]
    if beyond:
        token, i = max(beyond, key=lambda item: item[1])
        raise BadInput(
            f"tokenizer source {source}: token {token!r} has id {i} but the vocabulary has {len(vocab)} tokens (ids must run 0..{len(vocab) - 1}); pick a tokenizer without gaps in its ids"
        )


def _require(source: SourceModel, role: str):
    tokenizer = load_tokenizer(source)
    if tokenizer is None:
        raise BadInput(f"model {source.name} ({source.path}): {role} has no tokenizer files; aligning vocabularies needs its tokenizer")
    return tokenizer


def _padded(size: int, recipe: Recipe) -> int:
    multiple = recipe.tokenizer.pad_to_multiple_of if recipe.tokenizer else None
    return size if not multiple or size % multiple == 0 else (size // multiple + 1) * multiple


def _permutation(vocab: dict[str, int], model_vocab: dict[str, int], rows: int) -> list[int]:
    index = [-1] * (max(vocab.values(), default=-1) + 1)
    for token, new_id in vocab.items():
        old = model_vocab.get(token, -1)
        index[new_id] = old if old < rows else -1
    return index


def _output_tokenizer(source: str, base: str, tokenizers: dict, sources: Mapping[str, SourceModel]):
    if source == "base":
        return tokenizers[base]
    if source == "union":
        return union_tokenizer(base, tokenizers, sources)
    return _require(sources[source], "the tokenizer source")


def strip_unused(tokenizer, rows: int | None, source: SourceModel):
    """The tokenizer without the tokens whose ids reach past the model's embedding rows."""
    import tokenizers

    vocab = tokenizer.get_vocab()
    unused = {token for token, i in vocab.items() if rows is not None and i >= rows}
    if not unused:
        return tokenizer
    data = json.loads(tokenizer.backend_tokenizer.to_str()) if tokenizer.is_fast else None
    if data is None or data["model"]["type"] != "BPE":
        raise BadInput(
            f"model {source.name} ({source.path}): its tokenizer has tokens past the {rows} embedding rows and is not a fast BPE tokenizer, so they cannot be dropped"
        )
    data["added_tokens"] = [entry for entry in data["added_tokens"] if entry["id"] < rows]
    data["model"]["vocab"] = {t: i for t, i in data["model"]["vocab"].items() if t not in unused}
    data["model"]["merges"] = [m for m in data["model"]["merges"] if not set(m.split(" ") if isinstance(m, str) else m) & unused]
    tokenizer._tokenizer = tokenizers.Tokenizer.from_str(json.dumps(data))
    return tokenizer


def union_tokenizer(base: str, tokenizers: dict, sources: Mapping[str, SourceModel]):
    plain: dict[str, None] = {}
    added: dict[str, Any] = {}
    for name, tokenizer in tokenizers.items():
        rows = model_vocab_size(sources[name]) or tokenizer.vocab_size
        decoder = tokenizer.added_tokens_decoder
        for token, i in sorted(tokenizer.get_vocab().items(), key=lambda item: item[1]):
            if i < rows and i not in decoder:
                plain.setdefault(token, None)
        for i, info in decoder.items():
            if i < rows:
                added.setdefault(info.content, info)
    result = _copy(tokenizers[base])
    base_vocab = tokenizers[base].get_vocab()
    for token in plain:
        if token not in added and token not in base_vocab:
            result.add_tokens(token)
    for info in added.values():
        result.add_tokens(info)
    return result


def _copy(tokenizer):
    """A fresh tokenizer equal to `tokenizer` (saved and reloaded), so the original is not changed."""
    import transformers

    with tempfile.TemporaryDirectory() as tmp:
        tokenizer.save_pretrained(tmp)
        return transformers.AutoTokenizer.from_pretrained(tmp, use_fast=True)
