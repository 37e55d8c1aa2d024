"""End to end over a suite: metrics, fitness, cascade, splits, chat templates, encoding errors."""

from __future__ import annotations

import math

import pytest
import torch

from tests.evaluate.conftest import addition_records, char_tokenizer, write_jsonl
from tools.errors import BadInput
from tools.evaluate.api import evaluate_module, suite_from_config
from tools.evaluate.spec import EvaluationConfig


def _suite(tmp_path, tasks, **config):
    return suite_from_config(EvaluationConfig.model_validate({"tasks": tasks, **config}), tmp_path)


def _gen_task(tmp_path, name="add", records=None, **fields):
    write_jsonl(tmp_path / f"{name}.s.jsonl", records or addition_records(10))
    write_jsonl(tmp_path / f"{name}.t.jsonl", addition_records(4, offset=50))
    return {
        "name": name,
        "kind": "generation",
        "data": {"search": f"{name}.s.jsonl", "test": f"{name}.t.jsonl"},
        "max_new_tokens": 4,
        **fields,
    }


def _answers(records, wrong=()):
    return {r["prompt"]: ("9" if i in wrong else r["answer"]) for i, r in enumerate(records)}


def test_exact_match_and_char_accuracy(tmp_path, oracle, tokenizer):
    records = addition_records(10)  # answers 21, 23, ..., 39
    suite = _suite(tmp_path, [_gen_task(tmp_path)])
    result = evaluate_module(oracle(_answers(records, wrong={0, 1, 2, 3})), tokenizer, suite)
    assert result.tasks["add"]["exact_match"] == pytest.approx(0.6)
    assert result.tasks["add"]["char_accuracy"] == pytest.approx(0.6)  # "9" shares no position with "2x"/"3x"
    assert result.fitness == pytest.approx(0.6) and result.split == "search" and result.examples == {"add": 10}


def test_answer_pattern_and_stop_strings(tmp_path, oracle, tokenizer):
    records = [{"prompt": "1+1=", "answer": "2"}, {"prompt": "2+2=", "answer": "4"}]
    task = _gen_task(tmp_path, records=records, answer_pattern=r"a(\d)", stop=["x"], max_new_tokens=6)
    model = oracle({"1+1=": "a2x9", "2+2=": "b4"})
    result = evaluate_module(model, tokenizer, _suite(tmp_path, [task]))
    assert result.tasks["add"]["exact_match"] == 0.5


def test_weighted_fitness_and_test_split(tmp_path, oracle, tokenizer):
    right = addition_records(10) + addition_records(4, offset=50)
    model = oracle(_answers(right))
    tasks = [_gen_task(tmp_path, "a"), _gen_task(tmp_path, "b", records=addition_records(10, offset=20))]
    suite = _suite(tmp_path, tasks, weights={"a": 3.0, "b": 1.0})
    result = evaluate_module(model, tokenizer, suite)
    assert (result.tasks["a"]["exact_match"], result.tasks["b"]["exact_match"]) == (1.0, 0.0)
    assert result.fitness == pytest.approx(0.75)
    held_out = evaluate_module(model, tokenizer, suite, split="test")
    assert held_out.split == "test" and held_out.examples == {"a": 4, "b": 4} and held_out.fitness == 1.0
    with pytest.raises(BadInput, match="unknown split 'train'"):
        evaluate_module(model, tokenizer, suite, split="train")


def test_cascade_stops_early_or_matches_the_plain_pass(tmp_path, oracle, tokenizer):
    records = addition_records(10)
    model = oracle(_answers(records, wrong={0, 1, 7}))
    task = _gen_task(tmp_path, records=records)
    plain = evaluate_module(model, tokenizer, _suite(tmp_path, [task]))
    stopped = evaluate_module(model, tokenizer, _suite(tmp_path, [task], cascade={"examples": 4, "threshold": 0.6}))
    assert (stopped.stage, stopped.examples, stopped.fitness) == ("cascade", {"add": 4}, 0.5)
    passed = evaluate_module(model, tokenizer, _suite(tmp_path, [task], cascade={"examples": 4, "threshold": 0.5}))
    assert passed.stage == "full" and passed.tasks == plain.tasks and passed.fitness == pytest.approx(0.7)
    held_out = evaluate_module(model, tokenizer, _suite(tmp_path, [task], cascade={"examples": 4, "threshold": 0.9}), split="test")
    assert held_out.stage == "full", "the cascade applies to the search split only"


def test_multiple_choice_picks_the_likeliest_option(tmp_path, oracle, tokenizer):
    rows = [{"question": "1+1=", "choices": ["2", "3"], "gold": 0}, {"question": "2+2=", "choices": ["4", "44"], "gold": 1}]
    write_jsonl(tmp_path / "mc.jsonl", rows)
    task = {"name": "mc", "kind": "multiple_choice", "data": {"search": "mc.jsonl", "test": "mc.jsonl"}, "choice_prefix": ""}
    result = evaluate_module(oracle({"1+1=": "2", "2+2=": "4"}), tokenizer, _suite(tmp_path, [task]))
    assert result.tasks["mc"] == {"acc": 0.5, "acc_norm": 0.5}


def test_perplexity_matches_a_direct_computation(tmp_path, tiny_llama, tokenizer):
    texts = ["hello world", "abc abc abc"]
    write_jsonl(tmp_path / "p.jsonl", [{"text": t} for t in texts])
    task = {"name": "lm", "kind": "perplexity", "data": {"search": "p.jsonl", "test": "p.jsonl"}}
    result = evaluate_module(tiny_llama, tokenizer, _suite(tmp_path, [task]))
    total, count = 0.0, 0
    for text in texts:
        ids = torch.tensor([tokenizer(text)["input_ids"]])
        with torch.no_grad():
            logp = torch.log_softmax(tiny_llama(ids).logits[0, :-1], -1)
        total += logp.gather(-1, ids[0, 1:, None]).sum().item()
        count += ids.shape[1] - 1
    assert result.tasks["lm"]["perplexity"] == pytest.approx(math.exp(-total / count), rel=1e-4)
    assert result.fitness == pytest.approx(math.exp(total / count), rel=1e-4)


def test_unencodable_text_names_task_record_and_character(tmp_path, tiny_llama, tokenizer):
    task = _gen_task(tmp_path, records=[{"prompt": "1+1=", "answer": "2"}, {"prompt": "1*1=", "answer": "1"}])
    with pytest.raises(BadInput, match=r"task 'add', .*add\.s\.jsonl:2: the model's tokenizer cannot encode '\*'"):
        evaluate_module(tiny_llama, tokenizer, _suite(tmp_path, [task]))


def test_prompt_longer_than_the_context_is_bad_input(tmp_path, tiny_llama, tokenizer):
    task = _gen_task(tmp_path, records=[{"prompt": "1" * 70 + "=", "answer": "2"}])
    with pytest.raises(BadInput, match="needs 76 tokens but the model takes at most 64"):
        evaluate_module(tiny_llama, tokenizer, _suite(tmp_path, [task]))


def test_chat_template_wraps_prompts(tmp_path, oracle, tokenizer):
    task = _gen_task(tmp_path, records=[{"prompt": "1+1=", "answer": "2"}], chat_template=True)
    with pytest.raises(BadInput, match="has no chat template"):
        evaluate_module(oracle({}), tokenizer, _suite(tmp_path, [task]))
    chat = char_tokenizer()
    chat.chat_template = "{% for m in messages %}user: {{ m['content'] }}{% endfor %}"
    result = evaluate_module(oracle({"user: 1+1=": "2"}), chat, _suite(tmp_path, [task]))
    assert result.tasks["add"]["exact_match"] == 1.0


def test_repeated_evaluation_is_identical_and_reuses_the_encoding(tmp_path, tiny_llama, tokenizer):
    suite = _suite(tmp_path, [_gen_task(tmp_path, score_target=True)])
    first = evaluate_module(tiny_llama, tokenizer, suite)
    cached = dict(suite.cache)
    second = evaluate_module(tiny_llama, tokenizer, suite)
    assert first == second and suite.cache == cached and "target_logprob" in first.tasks["add"]
    assert first.tasks["add"]["target_logprob"] < 0


def test_cache_keeps_a_bounded_number_of_tokenizers(tmp_path, tiny_llama):
    from tools.evaluate.runner import MAX_TOKENIZERS

    suite = _suite(tmp_path, [_gen_task(tmp_path)])
    results = [evaluate_module(tiny_llama, char_tokenizer(), suite) for _ in range(MAX_TOKENIZERS + 2)]
    assert len({key[4] for key in suite.cache}) == MAX_TOKENIZERS
    assert all(r == results[0] for r in results)


def test_per_example_scores_give_back_each_task_metric(tmp_path, oracle, tiny_llama, tokenizer):
    records = addition_records(10)
    suite = _suite(
        tmp_path,
        [_gen_task(tmp_path, metric="char_accuracy"), _gen_task(tmp_path, "b", score_target=True, metric="target_logprob")],
        weights={"add": 2.0, "b": 1.0},
    )
    result = evaluate_module(oracle(_answers(records, wrong={0, 3})), tokenizer, suite)
    add = result.per_example["add"]
    assert (add.metric, len(add.values), add.weights) == ("char_accuracy", 10, None) and sorted(set(add.values)) == [0.0, 1.0]
    assert add.value() == pytest.approx(result.tasks["add"]["char_accuracy"]) and result.weights == {"add": 2.0, "b": 1.0}
    ratio = evaluate_module(tiny_llama, tokenizer, suite).per_example["b"]  # a per-token mean: log-likelihoods over token counts
    assert ratio.metric == "target_logprob" and ratio.weights is not None and len(ratio.weights) == 10
    assert ratio.value() == pytest.approx(evaluate_module(tiny_llama, tokenizer, suite).tasks["b"]["target_logprob"])
