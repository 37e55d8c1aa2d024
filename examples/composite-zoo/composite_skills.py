"""The skills of the composite zoo, its made-up number language, its vocabulary and tokenizer.

The language ("Kelvish") names each digit with one letter: 0 z, 1 k, 2 m, 3 t, 4 r, 5 v,
6 p, 7 s, 8 d, 9 n; a number is written digit by digit (37 -> "ts"). Skills (prompt -> answer):
- `add`:       `37+48=`  -> `85`     two 2-digit numbers added, in digits (the adder's skill)
- `read`:      `tsdm:`   -> `3782`   a 2-4 digit Kelvish number read into digits (the reader's skill)
- `kel_add`:   `ts+rd=`  -> `85`     the composite: the sum posed in Kelvish, answered in digits
Training also uses `copy` (`3782:` -> `3782`, the `read` format in digits) and `write`
(`3782>` -> `tsdm`, digits into Kelvish); the composite is never trained on.
Evaluation prompts are drawn first from their own seeds; training streams skip them (and any
prompt whose underlying numbers are an evaluation composite's), so every number is held out.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from pathlib import Path

DIGIT_NAMES = "zkmtrvpsdn"  # Kelvish letter of each digit 0-9
CHARS = "0123456789" + DIGIT_NAMES + "+=:>"
SPECIALS = ("<pad>", "<unk>", "<s>", "</s>")


def kel(n: int | str) -> str:
    return "".join(DIGIT_NAMES[int(c)] for c in str(n))


def addition(rng: random.Random) -> tuple[str, str]:
    a, b = rng.randint(10, 99), rng.randint(10, 99)
    return f"{a}+{b}=", str(a + b)


def reading(rng: random.Random) -> tuple[str, str]:
    n = rng.randint(10, 9999)
    return f"{kel(n)}:", str(n)


def copying(rng: random.Random) -> tuple[str, str]:
    n = rng.randint(10, 9999)
    return f"{n}:", str(n)


def writing(rng: random.Random) -> tuple[str, str]:
    n = rng.randint(10, 9999)
    return f"{n}>", kel(n)


def kel_addition(rng: random.Random) -> tuple[str, str]:
    a, b = rng.randint(10, 99), rng.randint(10, 99)
    return f"{kel(a)}+{kel(b)}=", str(a + b)


SKILLS: dict[str, Callable[[random.Random], tuple[str, str]]] = {
    "add": addition,
    "read": reading,
    "copy": copying,
    "write": writing,
    "kel_add": kel_addition,
}
TASKS = ("add", "read", "kel_add")  # the evaluated tasks
EXPERTS = {"add": "adder", "read": "reader"}
SPLIT_SIZES = {"search": 500, "test": 500}
SPLIT_SEEDS = {"search": 1001, "test": 2002}


def eval_split(skill: str, split: str) -> list[tuple[str, str]]:
    """The fixed evaluation pairs of one task and split (distinct prompts, across splits too)."""
    earlier = list(SPLIT_SIZES)[: list(SPLIT_SIZES).index(split)]
    taken = {p for other in earlier for p, _ in eval_split(skill, other)}
    rng, pairs, seen = random.Random(SPLIT_SEEDS[split] * 7 + len(skill)), [], set(taken)
    while len(pairs) < SPLIT_SIZES[split]:
        prompt, answer = SKILLS[skill](rng)
        if prompt not in seen:
            seen.add(prompt)
            pairs.append((prompt, answer))
    return pairs


def _digits(prompt: str) -> str:
    return "".join(str(DIGIT_NAMES.index(c)) if c in DIGIT_NAMES else c for c in prompt)


def held_out_prompts() -> set[str]:
    """Every evaluation prompt, and each in its other script (so `ts+rd=`'s sum is held out in digits too)."""
    out = set()
    for skill in TASKS:
        for split in SPLIT_SIZES:
            for p, _ in eval_split(skill, split):
                out |= {p, _digits(p)}
    return out


def training_stream(mix: dict[str, float], seed: int) -> Iterator[tuple[str, str]]:
    """An endless stream of training pairs drawn by `mix` (skill -> share), held-out prompts skipped."""
    rng, held_out = random.Random(seed), held_out_prompts()
    skills, shares = list(mix), list(mix.values())
    while True:
        prompt, answer = SKILLS[rng.choices(skills, shares)[0]](rng)
        if prompt not in held_out and _digits(prompt) not in held_out:
            yield prompt, answer


def write_eval_data(data_dir: Path) -> None:
    """data/<task>.<split>.jsonl: one {"prompt", "answer"} object a line."""
    data_dir.mkdir(parents=True, exist_ok=True)
    for skill in TASKS:
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
