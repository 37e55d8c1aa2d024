"""`scored_pairs` (the gradient strategy's training pairs) encode each example exactly as the evaluator scores it:
for every task kind, context + answer equal the ids of `prepare`'s score batches, and the answer is what they score."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import TypeAdapter

from tools.evaluate.loading import load_tokenizer
from tools.evaluate.prepare import prepare, scored_pairs
from tools.evaluate.spec import TaskSpec
from tools.evaluate.suite import Task

ZOO = Path(__file__).resolve().parents[2] / "examples" / "tiny-zoo"
RECORDS = [
    {"prompt": "12+30=", "answer": "42", "choices": ["41", "42", "43"], "gold": 1, "text": "rev abc=cba"},
    {"prompt": "sort dcba=", "answer": "abcd", "choices": ["abcd", "dcba"], "gold": 0, "text": "sort cab=abc"},
]
SPECS = {
    "generation": {"kind": "generation", "score_target": True},
    "multiple_choice": {"kind": "multiple_choice", "prompt": "{prompt}"},
    "perplexity": {"kind": "perplexity"},
}


@pytest.mark.parametrize("kind", SPECS)
def test_pairs_are_the_evaluators_scored_sequences(tmp_path, kind):
    data = tmp_path / "data.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in RECORDS))
    spec = TypeAdapter(TaskSpec).validate_python({"name": "t", "data": {"search": str(data), "test": str(data)}, **SPECS[kind]})
    task = Task(spec, 1.0, tmp_path)
    tokenizer = load_tokenizer(ZOO / "models" / "base")
    examples = task.examples("search")
    pairs = scored_pairs(task, examples, tokenizer)
    prepared = prepare(task, examples, tokenizer, batch_size=1, device="cpu")
    rows = {batch.rows[0]: batch for batch in prepared.score}
    wanted = [ex.gold for ex in examples] if kind == "multiple_choice" else [0, 0]
    for i, (context, answer) in enumerate(pairs):
        row = prepared.choice_rows[i][wanted[i]] if kind == "multiple_choice" else i
        batch = rows[row]
        assert batch.ids[0].tolist() == context + answer
        assert batch.scored[0].nonzero().flatten().tolist() == list(range(len(context) - 1, len(context) + len(answer) - 1))
    if kind == "generation":
        assert tokenizer.decode(pairs[0][1]) == "42"
