"""The synthetic skills of the tiny zoo, its character vocabulary and its tokenizer.

Each skill turns a random generator into (prompt, answer) pairs. The evaluation prompts are
drawn first, from their own seeds, and the training streams skip them, so every reported
number is on prompts no model was trained on.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from pathlib import Path

CHARS = "0123456789abcdefghijklmnopqrstuvwxyz+=: \n"
SPECIALS = ("<pad>", "<unk>", "<s>", "</s>")
LETTERS = "abcdefghijklmnopqrstuvwxyz"


def _word(rng: random.Random, lo: int, hi: int) -> str:
    return "".join(rng.choice(LETTERS) for _ in range(rng.randint(lo, hi)))


def addition(rng: random.Random) -> tuple[str, str]:
    a, b = rng.randint(10, 99), rng.randint(10, 99)
    return f"{a}+{b}=", str(a + b)


def reversal(rng: random.Random) -> tuple[str, str]:
    word = _word(rng, 6, 10)
    return f"rev {word}=", word[::-1]


def sorting(rng: random.Random) -> tuple[str, str]:
    word = _word(rng, 4, 8)
    return f"sort {word}=", "".join(sorted(word))


SKILLS: dict[str, Callable[[random.Random], tuple[str, str]]] = {
    "add": addition,
    "reverse": reversal,
    "sort": sorting,
}
EXPERTS = {"add": "adder", "reverse": "reverser", "sort": "sorter"}
SPLIT_SIZES = {"search": 100, "test": 200}
SPLIT_SEEDS = {"search": 1001, "test": 2002}


def eval_split(skill: str, split: str) -> list[tuple[str, str]]:
    """The fixed evaluation pairs of one skill and split (distinct prompts, across splits too)."""
    earlier = list(SPLIT_SIZES)[: list(SPLIT_SIZES).index(split)]
    taken = {p for other in earlier for p, _ in eval_split(skill, other)}
    rng, pairs, seen = random.Random(SPLIT_SEEDS[split] + len(skill)), [], set(taken)
    while len(pairs) < SPLIT_SIZES[split]:
        prompt, answer = SKILLS[skill](rng)
        if prompt not in seen:
            seen.add(prompt)
            pairs.append((prompt, answer))
    return pairs


def held_out_prompts() -> set[str]:
    return {p for skill in SKILLS for split in SPLIT_SIZES for p, _ in eval_split(skill, split)}


def training_stream(skills: list[str], seed: int) -> Iterator[tuple[str, str]]:
    """An endless stream of training pairs, skills mixed uniformly, held-out prompts skipped."""
    rng, held_out = random.Random(seed), held_out_prompts()
    while True:
        prompt, answer = SKILLS[rng.choice(skills)](rng)
        if prompt not in held_out:
            yield prompt, answer


def write_eval_data(data_dir: Path) -> None:
    """data/<skill>.<split>.jsonl: one {"prompt", "answer"} object a line."""
    data_dir.mkdir(parents=True, exist_ok=True)
    for skill in SKILLS:
        for split in SPLIT_SIZES:
            lines = [json.dumps({"prompt": p, "answer": a}) for p, a in eval_split(skill, split)]
            (data_dir / f"{skill}.{split}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


def build_tokenizer():
    """A character-level Hugging Face fast tokenizer: <s> prepended, </s> ends an answer."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {tok: i for i, tok in enumerate((*SPECIALS, *CHARS))}
    core = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    core.decoder = decoders.Fuse()
    core.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A $B", special_tokens=[("<s>", vocab["<s>"])])
    return PreTrainedTokenizerFast(tokenizer_object=core, bos_token="<s>", eos_token="</s>", pad_token="<pad>", unk_token="<unk>")
