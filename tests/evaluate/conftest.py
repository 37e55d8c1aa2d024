"""Fixtures for the evaluation tests: a character tokenizer, a tiny random Llama saved as a
Hugging Face directory, an oracle LM that knows some answers, and a writer for tasks and data."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

CHARS = "0123456789abcdefghijklmnopqrstuvwxyz+=: \n"


def char_tokenizer():
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {tok: i for i, tok in enumerate(("<pad>", "<unk>", "<s>", "</s>", *CHARS))}
    core = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    core.decoder = decoders.Fuse()
    core.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 2)])
    return PreTrainedTokenizerFast(tokenizer_object=core, bos_token="<s>", eos_token="</s>", pad_token="<pad>", unk_token="<unk>")


@pytest.fixture(scope="session")
def tokenizer():
    return char_tokenizer()


@pytest.fixture(scope="session")
def tiny_llama(tokenizer):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
        bos_token_id=2,
        eos_token_id=3,
        pad_token_id=0,
    )
    return LlamaForCausalLM(config).eval()


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory, tiny_llama, tokenizer) -> Path:
    path = tmp_path_factory.mktemp("tiny-llama")
    tiny_llama.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


class OracleLM(torch.nn.Module):
    """A fake causal LM: after "PROMPT=" it spells `answers[PROMPT]` then EOS; elsewhere it is uniform.

    It follows the transformers call signature the evaluator uses (ids, mask, positions, a
    "cache" that is simply the ids seen so far, logits_to_keep)."""

    def __init__(self, tokenizer, answers: dict[str, str]):
        super().__init__()
        self.tok, self.answers = tokenizer, answers
        self.anchor = torch.nn.Parameter(torch.zeros(1))
        self.config = SimpleNamespace(max_position_embeddings=64)
        self.calls = 0

    def forward(self, input_ids, attention_mask=None, position_ids=None, past_key_values=None, use_cache=False, logits_to_keep=0):
        self.calls += 1
        full = input_ids if past_key_values is None else torch.cat([past_key_values, input_ids], dim=1)
        start = full.shape[1] - input_ids.shape[1]
        logits = torch.zeros(full.shape[0], input_ids.shape[1], len(self.tok))
        for row in range(full.shape[0]):
            for t in range(start, full.shape[1]):
                logits[row, t - start, self._next(full[row, : t + 1].tolist())] = 10.0
        if logits_to_keep:
            logits = logits[:, -logits_to_keep:]
        return SimpleNamespace(logits=logits, past_key_values=full)

    def _next(self, ids: list[int]) -> int:
        text = self.tok.decode(ids, skip_special_tokens=True)
        if "=" not in text:
            return self.tok.pad_token_id
        prompt, produced = text.split("=", 1)
        answer = self.answers.get(prompt.split("\n")[-1] + "=")
        if answer is None or not answer.startswith(produced) or len(produced) >= len(answer):
            return self.tok.eos_token_id
        return self.tok.convert_tokens_to_ids(answer[len(produced)])


@pytest.fixture
def oracle(tokenizer):
    return lambda answers: OracleLM(tokenizer, answers)


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def addition_records(n: int, offset: int = 0) -> list[dict]:
    return [{"prompt": f"{a}+{a + 1}=", "answer": str(2 * a + 1)} for a in range(10 + offset, 10 + offset + n)]
