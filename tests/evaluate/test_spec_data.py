"""Task specs, JSONL data, templates, suites: every bad input is BadInput naming the culprit."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.evaluate.conftest import addition_records, write_jsonl
from tools.errors import BadInput
from tools.evaluate.data import fewshot_prefix, load_examples, read_jsonl
from tools.evaluate.spec import EvaluationConfig
from tools.evaluate.suite import load_task_file, suite_from_config


def _task(tmp_path: Path, **fields) -> Path:
    spec = {"name": "add", "kind": "generation", "data": {"search": "s.jsonl", "test": "t.jsonl"}, **fields}
    path = tmp_path / "add.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    return path


def test_malformed_line_names_file_and_line(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"prompt": "1+1=", "answer": "2"}\n\n{"prompt": oops}\n', encoding="utf-8")
    with pytest.raises(BadInput, match=r"d\.jsonl:3: malformed JSON"):
        read_jsonl(path)


def test_non_object_line_is_rejected(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", [["a", "b"]])
    with pytest.raises(BadInput, match=r"d\.jsonl:1: expected a JSON object, got list"):
        read_jsonl(path)


def test_missing_template_field_names_record_and_field(tmp_path):
    spec = load_task_file(_task(tmp_path, prompt="{question}"))
    write_jsonl(tmp_path / "s.jsonl", addition_records(2))
    with pytest.raises(BadInput, match=r"s\.jsonl:1: record has no field 'question'"):
        load_examples(spec, tmp_path / "s.jsonl", "search")


def test_empty_split_is_bad_input(tmp_path):
    spec = load_task_file(_task(tmp_path))
    (tmp_path / "t.jsonl").write_text("\n", encoding="utf-8")
    with pytest.raises(BadInput, match="task 'add' has no data for split 'test'"):
        load_examples(spec, tmp_path / "t.jsonl", "test")


def test_task_without_test_split_is_rejected(tmp_path):
    path = _task(tmp_path, data={"search": "s.jsonl"})
    with pytest.raises(BadInput, match="field data: .*no data file for split 'test'"):
        load_task_file(path)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"metric": "perplexity"}, "not one of exact_match"),
        ({"kind": "perplexity", "metric": "perplexity"}, "lower-is-better"),
        ({"num_fewshot": 2}, "no 'fewshot' split"),
        ({"num_fewshot": 1, "fewshot_split": "test", "data": {"search": "s", "test": "t"}}, "split of its own"),
        ({"answer_pattern": "(unclosed"}, "not a valid regex"),
        ({"kind": "summarise"}, "kind"),
        ({"promt": "{prompt}"}, "promt"),
    ],
)
def test_bad_task_specs(tmp_path, fields, message):
    with pytest.raises(BadInput, match=message):
        load_task_file(_task(tmp_path, **fields))


def test_choice_records_are_checked(tmp_path):
    spec = load_task_file(_task(tmp_path, kind="multiple_choice"))
    write_jsonl(tmp_path / "s.jsonl", [{"question": "q", "choices": ["a", "b"], "gold": 2}])
    with pytest.raises(BadInput, match=r"s\.jsonl:1: field 'gold' must be an index"):
        load_examples(spec, tmp_path / "s.jsonl", "search")


def test_fewshot_prefix_solves_the_first_records(tmp_path):
    spec = load_task_file(_task(tmp_path, num_fewshot=2, data={"search": "s", "test": "t", "fewshot": "f.jsonl"}))
    shots = load_examples(spec, write_jsonl(tmp_path / "f.jsonl", addition_records(3)), "fewshot")
    assert fewshot_prefix(spec, shots) == "10+11=21\n11+12=23\n"


def test_suite_resolves_files_inline_tasks_and_weights(tmp_path):
    (tmp_path / "tasks").mkdir()
    _task(tmp_path / "tasks")
    inline = {"name": "ppl", "kind": "perplexity", "data": {"search": "p.jsonl", "test": "p.jsonl"}}
    config = EvaluationConfig.model_validate({"tasks": ["tasks/add.yaml", inline], "weights": {"ppl": 0.5}})
    suite = suite_from_config(config, tmp_path)
    assert [(t.name, t.weight) for t in suite.tasks] == [("add", 1.0), ("ppl", 0.5)]
    assert suite.tasks[0].base_dir == (tmp_path / "tasks").resolve()
    assert suite.tasks[1].base_dir == tmp_path


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"tasks": []}, "evaluation.tasks is empty"),
        ({"tasks": ["missing.yaml"]}, "missing.yaml: no such task spec file"),
        ({"tasks": ["add.yaml"], "weights": {"sub": 1.0}}, "names 'sub', which is not a task"),
        ({"tasks": ["add.yaml"], "weights": {"add": 0.0}}, "all zero"),
        ({"tasks": ["add.yaml", "add.yaml"]}, "two tasks are named 'add'"),
    ],
)
def test_bad_suites(tmp_path, config, message):
    _task(tmp_path)
    with pytest.raises(BadInput, match=message):
        suite_from_config(EvaluationConfig.model_validate(config), tmp_path)


def test_split_data_is_read_lazily(tmp_path):
    _task(tmp_path)
    write_jsonl(tmp_path / "s.jsonl", addition_records(3))
    suite = suite_from_config(EvaluationConfig.model_validate({"tasks": ["add.yaml"]}), tmp_path)
    assert len(suite.tasks[0].examples("search")) == 3
    with pytest.raises(BadInput, match=r"t\.jsonl: no such data file"):
        suite.tasks[0].examples("test")
