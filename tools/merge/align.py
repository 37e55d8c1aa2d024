"""Aligning the token-indexed tensors (input embeddings, output head) of the inputs to the output
vocabulary before the merge method sees them, as mergekit 0.1.5's PermutedVocabulary does.

For the models of one tensor (in slice order, the base included), output token id i of model m
is m's own row of that token. Where m lacks the token (or the token is forced), the row is the
token's default, chosen per token:
- a `tokenizer.tokens` setting: zero, another model's row of the token, or `model_token`: a
  model's row given by id or by the token's text in that model's vocabulary;
- else: the only model that has the token; the base's row when the base has it; the mean of the
  rows of the models that have it; zero when none does.
Rows past the vocabulary (pad_to_multiple_of) are the mean of the vocabulary's rows.

Without a tokenizer setting, inputs whose rows differ are cut to the common rows (`truncate`):
mergekit 0.1.5 refuses that unless told `--unsafe-truncate-embeddings`; Clade does it only when
every input's tokenizer gives the kept ids the same tokens (checked in legacy.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from tools.errors import BadInput
from tools.merge.recipe import ModelToken, TokenSetting, ZeroToken
from tools.merge.vocabulary import Vocabulary

VOCAB_SUFFIXES = ("embed_tokens.weight", "wte.weight", "lm_head.weight", "embed_out.weight", "word_embeddings.weight", "embed_in.weight")


def is_vocabulary_tensor(name: str) -> bool:
    return name.endswith(VOCAB_SUFFIXES)


@dataclass(frozen=True, eq=False)
class Alignment:
    """How every vocabulary tensor's inputs are re-indexed (a Vocabulary, or a plain cut)."""

    rows: int
    vocabulary: Vocabulary | None = None
    base: str | None = None

    def align(self, tensors: dict[str, torch.Tensor], name: str) -> dict[str, torch.Tensor]:
        if self.vocabulary is None:
            return {m: t[: self.rows] for m, t in tensors.items()}
        defaults = _Defaults(self.vocabulary, tensors, self.base, name).compute()
        return {m: self._one(m, t, defaults) for m, t in tensors.items()}

    def _one(self, model: str, tensor: torch.Tensor, defaults: dict[int, torch.Tensor]) -> torch.Tensor:
        vocab = self.vocabulary
        out = torch.zeros((self.rows, *tensor.shape[1:]), dtype=tensor.dtype, device=tensor.device)
        index = torch.tensor(vocab.permutations[model], dtype=torch.long, device=tensor.device)
        forced = [vocab.vocab[t] for t, s in vocab.tokens.items() if s.force and t in vocab.vocab]
        own = index >= 0
        own[forced] = False
        ids = own.nonzero().squeeze(-1)
        out[ids] = tensor[index[ids]]
        for i, row in defaults.items():
            if not own[i]:
                out[i] = row
        size = len(vocab.vocab)
        if self.rows > size:
            out[size:] = out[:size].mean(dim=0)
        return out


class _Defaults:
    """The default row of every token some model lacks or that is forced."""

    def __init__(self, vocabulary: Vocabulary, tensors: dict[str, torch.Tensor], base: str | None, name: str):
        self.v, self.tensors, self.base, self.name = vocabulary, tensors, base, name
        self.models = list(tensors)

    def compute(self) -> dict[int, torch.Tensor]:
        result = {}
        for token, i in self.v.vocab.items():
            setting = self.v.tokens.get(token)
            holders = [m for m in self.models if self.v.permutations[m][i] >= 0]
            if not (setting and setting.force) and len(holders) == len(self.models):
                continue
            result[i] = self._configured(token, i, setting) if setting else self._automatic(i, holders)
        return result

    def _row(self, model: str, row: int, token: str) -> torch.Tensor:
        if model not in self.tensors:
            raise BadInput(f"field tokenizer.tokens.{token}: model {model} is not an input of tensor {self.name}")
        if not 0 <= row < self.tensors[model].shape[0]:
            raise BadInput(f"field tokenizer.tokens.{token}: token id {row} is outside model {model}'s {self.tensors[model].shape[0]} rows")
        return self.tensors[model][row]

    def _automatic(self, i: int, holders: list[str]) -> torch.Tensor:
        first = self.tensors[self.models[0]]
        if not holders:
            return first.new_zeros(first.shape[1:])
        if len(holders) == 1:
            return self._row(holders[0], self.v.permutations[holders[0]][i], "")
        if self.base in holders:
            return self._row(self.base, self.v.permutations[self.base][i], "")
        total = torch.zeros(first.shape[1:], dtype=first.dtype, device=first.device)
        for m in holders:
            total = total + self.tensors[m][self.v.permutations[m][i]]
        return total / len(holders)

    def _configured(self, token: str, i: int, setting: TokenSetting) -> torch.Tensor:
        source = setting.source
        if isinstance(source, ZeroToken):
            first = self.tensors[self.models[0]]
            return first.new_zeros(first.shape[1:])
        if isinstance(source, ModelToken):
            row = source.token_id if source.token_id is not None else self.v.originals[source.model].get(source.token, -1)
            if row < 0:
                raise BadInput(f"field tokenizer.tokens.{token}.source.token: model {source.model} has no token {source.token!r}")
            return self._row(source.model, row, token)
        if isinstance(source, str):
            row = self.v.permutations[source][i]
            if row < 0:
                raise BadInput(f"field tokenizer.tokens.{token}.source: model {source} has no token {token!r}")
            return self._row(source, row, token)
        raise BadInput(f"field tokenizer.tokens.{token}.source: missing (give a model, {{kind: zero}} or {{kind: model_token, ...}})")
