"""The lm-eval adapter on local custom tasks and local data (nothing downloaded): its numbers
agree with Clade's own evaluation of the same records."""

from __future__ import annotations

import pytest
import yaml

from tests.evaluate.conftest import addition_records, write_jsonl
from tools.errors import BadInput
from tools.evaluate.api import evaluate_module, suite_from_config
from tools.evaluate.spec import EvaluationConfig

pytest.importorskip("lm_eval")

from tools.evaluate.lmeval import evaluate_lmeval  # noqa: E402

MC = [
    {"question": "1+1=", "choices": ["2", "3"], "gold": 0},
    {"question": "2+2=", "choices": ["4", "44"], "gold": 1},
    {"question": "3+3=", "choices": ["5", "6", "7"], "gold": 1},
]
TEXTS = [{"text": "hello world"}, {"text": "abc abc abc abc"}]


@pytest.fixture
def local(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf-cache"))
    files = {
        "mc": write_jsonl(tmp_path / "mc.jsonl", MC),
        "gen": write_jsonl(tmp_path / "add.jsonl", addition_records(10)),
        "ppl": write_jsonl(tmp_path / "ppl.jsonl", TEXTS),
    }
    common = {"dataset_path": "json", "test_split": "test", "target_delimiter": ""}
    tasks = {
        "clade_mc": {
            "output_type": "multiple_choice",
            "doc_to_text": "{{question}}",
            "doc_to_choice": "{{choices}}",
            "doc_to_target": "{{gold}}",
            "metric_list": [{"metric": "acc"}],
        },
        "clade_gen": {
            "output_type": "generate_until",
            "doc_to_text": "{{prompt}}",
            "doc_to_target": "{{answer}}",
            "generation_kwargs": {"until": ["\n"], "max_gen_toks": 4, "do_sample": False},
            "metric_list": [{"metric": "exact_match"}],
        },
        "clade_ppl": {
            "output_type": "loglikelihood_rolling",
            "doc_to_text": "",
            "doc_to_target": "{{text}}",
            "metric_list": [{"metric": "bits_per_byte"}],
        },
    }
    for (name, spec), data in zip(tasks.items(), files.values()):
        spec = {"task": name, **common, "dataset_kwargs": {"data_files": {"test": str(data)}}, **spec}
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(spec), encoding="utf-8")
    return tmp_path


def _clade(tmp_path, model, tokenizer, task):
    suite = suite_from_config(EvaluationConfig.model_validate({"tasks": [task]}), tmp_path)
    return evaluate_module(model, tokenizer, suite).tasks[task["name"]]


def test_choice_and_generation_agree_with_clade(local, oracle, tokenizer):
    records = addition_records(10)
    model = oracle({**{r["prompt"]: r["answer"] for r in records[3:]}, "1+1=": "2", "2+2=": "4", "3+3=": "6"})
    got = evaluate_lmeval(model, tokenizer, ["clade_mc", "clade_gen"], include_path=local)
    mc = {"name": "mc", "kind": "multiple_choice", "data": {"search": "mc.jsonl", "test": "mc.jsonl"}, "choice_prefix": ""}
    gen = {"name": "gen", "kind": "generation", "data": {"search": "add.jsonl", "test": "add.jsonl"}, "max_new_tokens": 4}
    assert got["clade_mc"]["acc"] == _clade(local, model, tokenizer, mc)["acc"] == pytest.approx(2 / 3)
    assert got["clade_gen"]["exact_match"] == _clade(local, model, tokenizer, gen)["exact_match"] == pytest.approx(0.7)


def test_rolling_loglikelihood_agrees_with_clade_perplexity(local, tiny_llama, tokenizer):
    got = evaluate_lmeval(tiny_llama, tokenizer, ["clade_ppl"], include_path=local)
    ppl = {"name": "ppl", "kind": "perplexity", "data": {"search": "ppl.jsonl", "test": "ppl.jsonl"}}
    assert got["clade_ppl"]["bits_per_byte"] == pytest.approx(_clade(local, tiny_llama, tokenizer, ppl)["bits_per_char"], rel=1e-5)


def test_unknown_task_is_bad_input(local, tiny_llama, tokenizer):
    with pytest.raises(BadInput, match="lm-eval task 'nope' not found"):
        evaluate_lmeval(tiny_llama, tokenizer, ["nope"], include_path=local)
