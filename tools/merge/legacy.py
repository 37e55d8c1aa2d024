"""Inputs whose token-indexed tensors have different row counts, with no tokenizer setting.

mergekit up to 0.1.4 kept the common rows silently; 0.1.5 refuses unless told
`--unsafe-truncate-embeddings`, because cutting is right only when the kept ids mean the same
tokens in every input. Clade checks exactly that, with the tokenizers: when the output tokenizer
(the config model's) uses no id past the common rows and
every input's tokenizer gives each kept id the same token, the rows are cut with a warning;
otherwise the merge is refused naming the tensor and pointing at `tokenizer_source: base`.
config.json's vocab_size is set to the kept rows (mergekit keeps the config model's, which
disagrees with the tensors when that model had more rows).
"""

from __future__ import annotations

from collections.abc import Mapping

from tools.errors import BadInput
from tools.merge.align import Alignment, is_vocabulary_tensor
from tools.merge.sources import SourceModel
from tools.merge.vocabulary import load_tokenizer


def vocabulary_rows(sources: Mapping[str, SourceModel], template: SourceModel) -> dict[str, dict[str, int]]:
    """Tensor name -> model -> rows, for the template's token-indexed tensors."""
    rows: dict[str, dict[str, int]] = {}
    for name in template.tensors:
        if is_vocabulary_tensor(name):
            rows[name] = {m: s.tensors[name].shape[0] for m, s in sources.items() if name in s.tensors and s.tensors[name].shape}
    return rows


def truncation(
    sources: Mapping[str, SourceModel], template: SourceModel, tokenizer: SourceModel, inputs: list[str], warnings: list[str]
) -> Alignment | None:
    """None when the inputs' vocabulary tensors agree; else the checked cut to the common rows."""
    rows = {n: {m: r for m, r in per.items() if m in inputs} for n, per in vocabulary_rows(sources, template).items()}
    differing = {n: per for n, per in rows.items() if len(set(per.values())) > 1}
    if not differing:
        return None
    name = min(differing, key=lambda n: (not any(m in n for m in ("embed", "wte")), n))
    per = differing[name]
    common = min(per.values())
    listed = ", ".join(f"{m} {r}" for m, r in per.items())
    _check_same_tokens(sources, tokenizer, inputs, common, f"tensor {name}: the inputs have different vocabularies ({listed} rows)")
    warnings.append(
        f"tensor {name} and the other token-indexed tensors: inputs cut to their common {common} rows ({listed}); every input's tokenizer gives those ids the same tokens"
    )
    return Alignment(rows=common)


def _check_same_tokens(sources: Mapping[str, SourceModel], tokenizer: SourceModel, inputs: list[str], common: int, what: str) -> None:
    fix = "set tokenizer_source: base (or union) to align them by token"
    reference = load_tokenizer(tokenizer)
    if reference is None:
        raise BadInput(f"{what}; the output tokenizer's model {tokenizer.name} has no tokenizer files to check a cut against: {fix}")
    expected = _by_id(reference.get_vocab(), common)
    if max(reference.get_vocab().values(), default=-1) >= common:
        raise BadInput(f"{what}; the output tokenizer ({tokenizer.name}) uses ids past the common {common} rows: {fix}")
    for name in inputs:
        other = load_tokenizer(sources[name])
        if other is None:
            raise BadInput(f"{what}; model {name} has no tokenizer files to check that its ids mean the same tokens: {fix}")
        if _by_id(other.get_vocab(), common) != expected:
            raise BadInput(f"{what}; model {name}'s tokenizer gives the first {common} ids other tokens: {fix}")


def _by_id(vocab: dict[str, int], limit: int) -> dict[int, str]:
    return {i: t for t, i in vocab.items() if i < limit}
