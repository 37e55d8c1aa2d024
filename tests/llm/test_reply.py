"""Reading LLM replies: a corpus of real-looking replies with the expected result or error."""

from __future__ import annotations

import re

import pytest

from agents.strategies.recipes import to_recipe
from agents.strategies.reply import MergeReply, ReplyError, StructureReply, parse_reply

GOOD = '{"rationale": "r", "method": "ties", "base": "base", "sources": ["adder"], "parameters": {"adder": {"weight": 0.7}}}'


@pytest.mark.parametrize(
    "text",
    [
        f"```json\n{GOOD}\n```",
        f"Here is my proposal.\n\n```json\n{GOOD}\n```\nI expect it to do well.",
        f"```\n{GOOD}\n```",
        GOOD,
        f"Sure! {GOOD} Hope this helps.",
    ],
)
def test_good_replies_parse(text):
    reply = parse_reply(text, MergeReply)
    assert (reply.method, reply.base, reply.sources, reply.parameters) == ("ties", "base", ["adder"], {"adder": {"weight": 0.7}})


@pytest.mark.parametrize(
    "text, error",
    [
        ("I think ties would be good.", "no JSON object found"),
        (f"```json\n{GOOD}\n```\n```json\n{GOOD}\n```", "2 ```json blocks"),
        ('```json\n{"rationale": "r", "method": "ties",}\n```', "the JSON is not valid: Expecting property name"),
        ("```json\n[1, 2]\n```", "expected one JSON object"),
        ('{"method": "ties", "sources": ["adder"]}', "field rationale: Field required"),
        ('{"rationale": "r", "method": "ties", "sources": ["adder"], "temperature": 3}', "field temperature: Extra inputs"),
        ('{"rationale": "r", "method": "ties", "sources": []}', "sources is empty"),
        (
            '{"rationale": "r", "method": "ties", "sources": ["adder"], "parameters": {"sorter": {"weight": 1}}}',
            "parameters name ['sorter'], which are not in sources",
        ),
        (
            '{"rationale": "r", "method": "ties", "sources": ["adder"], "layer_path": [{"model": "adder", "layer": 0}]}',
            "a layer_path reply has method passthrough",
        ),
    ],
)
def test_bad_replies_name_the_problem(text, error):
    with pytest.raises(ReplyError, match=re.escape(error)):
        parse_reply(text, MergeReply)


def test_structure_reply_lists_the_methods():
    with pytest.raises(ReplyError, match="field method: Input should be 'ties', 'dare_ties'"):
        parse_reply('{"rationale": "r", "method": "della", "sources": ["adder"]}', StructureReply)


def _reply(**fields) -> MergeReply:
    return MergeReply.model_validate({"rationale": "r", **fields})


def test_one_group_is_the_models_form():
    reply = _reply(
        method="ties",
        base="base",
        sources=["adder", "sorter"],
        parameters={"adder": {"weight": 0.7, "density": 0.5}, "sorter": {"weight": [0.3]}},
        method_parameters={"normalize": False},
    )
    assert to_recipe(reply, 4, ["o_proj"]) == {
        "merge_method": "ties",
        "base_model": "base",
        "parameters": {"normalize": False},
        "models": [{"model": "adder", "parameters": {"weight": 0.7, "density": 0.5}}, {"model": "sorter", "parameters": {"weight": 0.3}}],
    }


def test_groups_are_slices_with_the_base_in_each():
    reply = _reply(
        method="task_arithmetic",
        base="base",
        sources=["adder"],
        layer_groups=2,
        parameters={"adder": {"weight": [0.9, 0.1]}},
        method_parameters={"lambda": 0.8},
    )
    recipe = to_recipe(reply, 4, ["o_proj"])
    assert recipe["slices"] == [
        {
            "sources": [{"model": "base", "layer_range": [0, 2]}, {"model": "adder", "layer_range": [0, 2], "parameters": {"weight": 0.9}}],
            "parameters": {"lambda": 0.8},
        },
        {
            "sources": [{"model": "base", "layer_range": [2, 4]}, {"model": "adder", "layer_range": [2, 4], "parameters": {"weight": 0.1}}],
            "parameters": {"lambda": 0.8},
        },
    ]


def test_layer_path_scales_the_residual_outputs():
    reply = _reply(method="passthrough", layer_path=[{"model": "adder", "layer": 0}, {"model": "sorter", "layer": 3, "scale": 0.5}])
    assert to_recipe(reply, 4, ["o_proj", "down_proj"])["layer_path"] == [
        {"model": "adder", "layer": 0},
        {
            "model": "sorter",
            "layer": 3,
            "parameters": {"scale": [{"filter": "o_proj", "value": 0.5}, {"filter": "down_proj", "value": 0.5}, {"value": 1.0}]},
        },
    ]


@pytest.mark.parametrize(
    "fields, error",
    [
        (
            dict(method="ties", base="base", sources=["adder"], layer_groups=2, parameters={"adder": {"weight": [1, 2, 3]}}),
            "parameters.adder.weight has 3 values for 2 layer group(s)",
        ),
        (dict(method="ties", sources=["adder"]), "method ties needs a base"),
        (dict(method="linear", base="base", sources=["adder"]), "method linear takes no base"),
        (dict(method="frankenstein", sources=["adder"]), "method 'frankenstein' is not a merge method"),
        (dict(method="ties", base="base", sources=["adder"], layer_groups=9), "layer_groups 9 is more than the 4 layers"),
        (dict(method="ties", base="adder", sources=["adder"]), "adder is both the base and a source"),
    ],
)
def test_recipe_shape_errors(fields, error):
    with pytest.raises(ReplyError, match=re.escape(error)):
        to_recipe(_reply(**fields), 4, ["o_proj"])


def test_a_data_method_is_calibrated_on_the_search_split_of_the_workspace_tasks():
    reply = _reply(method="regmean", sources=["adder", "sorter"], method_parameters={"alpha": 0.9})
    assert to_recipe(reply, 4, ["o_proj"], tasks=["add", "sort"]) == {
        "merge_method": "regmean",
        "calibration": {"tasks": ["add", "sort"], "split": "search"},
        "parameters": {"alpha": 0.9},
        "models": [{"model": "adder"}, {"model": "sorter"}],
    }
    assert "calibration" not in to_recipe(_reply(method="iso_c", base="base", sources=["adder"]), 4, ["o_proj"], tasks=["add"])
    with pytest.raises(ReplyError, match="regmean learns from calibration data and this workspace has no evaluation tasks"):
        to_recipe(reply, 4, ["o_proj"])


def test_the_method_list_says_which_methods_learn_from_data():
    from agents.strategies.prompt_context import methods_text

    lines = {line.split(":")[0][2:]: line for line in methods_text().splitlines()}
    assert "learns from calibration data" in lines["regmean"] and "learns from calibration data" in lines["fisher"]
    assert "learns from calibration data" not in lines["wudi"] and "common_space_fraction" in lines["iso_cts"]
