"""Calibration end to end on tiny models: the recipe section, the data read through tools.evaluate,
the statistics checked against independent computations, both execution paths, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from tools.errors import BadInput
from tools.evaluate.suite import Task, load_task_file
from tools.merge.api import ResidentMerger, load_recipe, merge_to_dir
from tools.merge.calibrate import collect, encode
from tools.merge.execute import TensorReader
from tools.merge.plan import Input
from tools.merge.prepare import prepare

RECORDS = [{"prompt": f"{a}+{b}=", "answer": str(a + b)} for a, b in ((12, 7), (30, 41), (5, 5), (66, 20), (9, 90), (1, 2))]


@pytest.fixture
def task_file(tmp_path) -> Path:
    """A generation task whose held-out split does not exist: calibration must never open it."""
    data = tmp_path / "add.search.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in RECORDS))
    spec = tmp_path / "add.yaml"
    spec.write_text("name: add\nkind: generation\ndata: {search: add.search.jsonl, test: missing.test.jsonl}\n")
    return spec


def recipe(zoo, task_file, method="regmean", models=("base", "a"), **calibration):
    return {
        "merge_method": method,
        "models": [{"model": str(zoo[m])} for m in models],
        "calibration": {"tasks": [str(task_file)], "batch_size": 4} | calibration,
    }


def tensors(path: Path) -> dict[str, torch.Tensor]:
    with safe_open(path / "model.safetensors", "pt") as f:
        return {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open is no dict)


def statistics(zoo, task_file, method="regmean", **calibration):
    prepared = prepare(load_recipe(recipe(zoo, task_file, method, **calibration)))
    return prepared, collect(prepared, TensorReader(prepared.sources, "cpu"), 0)


def test_gram_is_the_mean_outer_product_of_the_layers_real_inputs(zoo, task_file):
    import transformers

    prepared, stats = statistics(zoo, task_file)
    model = transformers.AutoModelForCausalLM.from_pretrained(zoo["a"]).eval()
    data = encode(prepared)[str(zoo["a"])]
    xs = []
    with torch.no_grad():
        for context, answer in data.pairs:
            hidden = model(torch.tensor([context + answer]), output_hidden_states=True).hidden_states[1]
            xs.append(model.model.layers[1].input_layernorm(hidden)[0])
    x = torch.cat(xs)
    stat = stats[Input(str(zoo["a"]), "model.layers.1.self_attn.q_proj.weight")]
    assert stat.tokens == x.shape[0] == sum(len(c) + len(a) for c, a in data.pairs)
    torch.testing.assert_close(stat.tensor, x.T @ x / x.shape[0], rtol=1e-4, atol=1e-6)


def test_fisher_is_the_mean_squared_gradient_of_the_answers_log_likelihood(zoo, task_file):
    import transformers

    prepared, stats = statistics(zoo, task_file, "fisher", examples=2)
    model = transformers.AutoModelForCausalLM.from_pretrained(zoo["a"])
    total = 0
    for context, answer in encode(prepared)[str(zoo["a"])].pairs:
        ids = torch.tensor([context + answer])
        logp = model(ids).logits[0, :-1].log_softmax(-1).gather(-1, ids[0, 1:, None]).squeeze(-1)
        model.zero_grad()
        logp[len(context) - 1 :].sum().backward()
        total = total + model.model.layers[0].mlp.up_proj.weight.grad.square()
    stat = stats[Input(str(zoo["a"]), "model.layers.0.mlp.up_proj.weight")]
    assert stat.tokens == 2 and stat.norm > 0
    torch.testing.assert_close(stat.tensor, total / 2, rtol=1e-4, atol=1e-10)


def test_calibration_reads_the_first_examples_of_the_search_split_only(zoo, task_file):
    prepared = prepare(load_recipe(recipe(zoo, task_file, examples=3)))
    pairs = encode(prepared)[str(zoo["a"])].pairs
    assert len(pairs) == 3  # and the missing test file was never opened


@pytest.mark.parametrize("method", ["regmean", "regmean_plusplus", "fisher"])
def test_merging_a_model_with_itself_gives_it_back(zoo, task_file, tmp_path, method):
    merge_to_dir(load_recipe(recipe(zoo, task_file, method, models=("a",)) | {"models": [{"model": str(zoo["a"])}] * 1}), tmp_path / "one")
    merged, original = tensors(tmp_path / "one"), tensors(zoo["a"])
    for name, tensor in original.items():
        torch.testing.assert_close(merged[name], tensor, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("method", ["regmean", "regmean_plusplus", "fisher"])
def test_in_memory_merge_equals_the_written_one(zoo, task_file, tmp_path, method):
    r = recipe(zoo, task_file, method)
    merge_to_dir(load_recipe(r), tmp_path / "out")
    module = ResidentMerger({}).apply(load_recipe(r))
    written = tensors(tmp_path / "out")
    state = module.state_dict()
    for name, tensor in written.items():
        assert torch.equal(state[name], tensor), name


def test_regmean_plusplus_learns_from_the_merged_layers(zoo, task_file):
    (_, plain), (_, chained) = statistics(zoo, task_file), statistics(zoo, task_file, "regmean_plusplus")
    name = Input(str(zoo["a"]), "model.layers.2.mlp.down_proj.weight")
    assert plain[name].tokens == chained[name].tokens
    assert not torch.allclose(plain[name].tensor, chained[name].tensor)
    assert Input(str(zoo["a"]), "lm_head.weight") in chained


def test_resident_merger_resolves_workspace_task_names_and_caches_statistics(zoo, task_file):
    merger = ResidentMerger({"base": zoo["base"], "a": zoo["a"]})
    merger.set_tasks({"add": Task(load_task_file(task_file), 1.0, task_file.parent)})
    r = {"merge_method": "regmean", "models": [{"model": "base"}, {"model": "a"}], "calibration": {"tasks": ["add"]}}
    merger.apply(r)
    assert len(merger._stats) == 2
    merger.apply(r | {"parameters": {"alpha": 0.5}})
    assert len(merger._stats) == 2


def test_per_model_tasks(zoo, task_file, tmp_path):
    other = tmp_path / "sub.yaml"
    (tmp_path / "sub.search.jsonl").write_text(json.dumps({"prompt": "9-2=", "answer": "7"}) + "\n")
    other.write_text("name: sub\nkind: generation\ndata: {search: sub.search.jsonl, test: x.jsonl}\n")
    prepared = prepare(load_recipe(recipe(zoo, task_file, tasks={str(zoo["base"]): str(task_file), str(zoo["a"]): [str(other)]})))
    data = encode(prepared)
    assert len(data[str(zoo["base"])].pairs) == len(RECORDS) and len(data[str(zoo["a"])].pairs) == 1


@pytest.mark.parametrize(
    "change,match",
    [
        ({"split": "test"}, "the test split is held out"),
        ({"tasks": []}, "name at least one task"),
        ({"tasks": ["nope"]}, "'nope' is neither a task of the workspace"),
        ({"split": "train"}, "has no 'train' split"),
        ({"examples": 0}, "calibration.examples"),
        ({"bogus": 1}, "calibration.bogus"),
    ],
)
def test_bad_calibration_sections_are_refused_in_one_line(zoo, task_file, change, match):
    r = recipe(zoo, task_file)
    r["calibration"] = r["calibration"] | change
    with pytest.raises(BadInput, match=match) as info:
        load_recipe(r)
    assert "\n" not in str(info.value)


def test_data_methods_need_calibration_and_the_others_refuse_it(zoo, task_file):
    r = recipe(zoo, task_file)
    with pytest.raises(BadInput, match="field calibration: merge_method regmean learns from data"):
        load_recipe({k: v for k, v in r.items() if k != "calibration"})
    with pytest.raises(BadInput, match="field calibration: merge_method ties uses no data"):
        load_recipe(r | {"merge_method": "ties", "base_model": str(zoo["base"])})


def test_a_model_without_tasks_in_the_mapping_is_named(zoo, task_file):
    prepared = prepare(load_recipe(recipe(zoo, task_file, tasks={str(zoo["base"]): str(task_file)})))
    with pytest.raises(BadInput, match=f"names no task for model '{zoo['a']}'"):
        encode(prepared)


def test_a_record_longer_than_the_context_is_named(zoo, task_file):
    data = task_file.parent / "add.search.jsonl"
    data.write_text(json.dumps({"prompt": "1" * 80 + "=", "answer": "2"}) + "\n")
    with pytest.raises(BadInput, match=r"add.search.jsonl:1: encodes to \d+ tokens"):
        merge_to_dir(load_recipe(recipe(zoo, task_file)), task_file.parent / "out")
    assert not (task_file.parent / "out").exists()


def test_gpt2_conv1d_layers_get_grams_too(zoo, task_file):
    r = {
        "merge_method": "regmean",
        "models": [{"model": str(zoo["gbase"])}, {"model": str(zoo["ga"])}],
        "calibration": {"tasks": [str(task_file)]},
    }
    prepared = prepare(load_recipe(r))
    stats = collect(prepared, TensorReader(prepared.sources, "cpu"), 0)
    stat = stats[Input(str(zoo["ga"]), "transformer.h.0.attn.c_attn.weight")]
    assert stat.inputs_first and stat.tensor.shape == (32, 32)
