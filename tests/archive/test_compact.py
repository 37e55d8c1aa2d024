"""Compact candidate views: every number of a recipe on one line, per-task scores, whole sentences."""

from __future__ import annotations

import pytest

from archive.compact import recipe_text, task_scores_text, whole_sentences
from archive.record import SplitMetrics


def slices(method: str, groups: list[tuple[int, int]], **weights: list[float]) -> dict:
    pieces = [
        {
            "sources": [{"model": "base", "layer_range": list(r)}]
            + [{"model": m, "layer_range": list(r), "parameters": {"weight": w[g]}} for m, w in weights.items()]
        }
        for g, r in enumerate(groups)
    ]
    return {"merge_method": method, "base_model": "base", "slices": pieces, "parameters": {"normalize": False}}


@pytest.mark.parametrize(
    "recipe, text",
    [
        (
            {
                "merge_method": "ties",
                "base_model": "base",
                "models": [
                    {"model": "adder", "parameters": {"weight": 0.9, "density": 0.5}},
                    {"model": "sorter", "parameters": {"weight": 0.8123456, "density": 0.5}},
                ],
                "parameters": {"normalize": False},
                "dtype": "bfloat16",
            },
            "ties base=base: adder(weight 0.9, density 0.5), sorter(weight 0.8123, density 0.5); normalize false; dtype bfloat16",
        ),
        (
            slices("task_arithmetic", [(0, 2), (2, 4)], adder=[0.8, 1.1], sorter=[1.0, 1.0]),
            "task_arithmetic base=base, 2 layer group(s) (layers 0-1, layers 2-3): adder(weight 0.8/1.1), sorter(weight 1); normalize false",
        ),
        (
            {
                "merge_method": "passthrough",
                "layer_path": [
                    {"model": "adder", "layer": 0},
                    {"model": "sorter", "layer": 1, "parameters": {"scale": [{"filter": "o_proj", "value": 0.9}, {"value": 1.0}]}},
                ],
            },
            "passthrough layer path of 2: adder.0 sorter.1(scale o_proj 0.9, * 1)",
        ),
        (
            {
                "merge_method": "passthrough",
                "slices": [
                    {"sources": [{"model": "adder", "layer_range": [0, 2]}]},
                    {"sources": [{"model": "sorter", "layer_range": [2, 4]}]},
                ],
            },
            "passthrough slices: adder layers 0-1 | sorter layers 2-3",
        ),
        (
            {
                "merge_method": "slerp",
                "base_model": "adder",
                "slices": [
                    {
                        "sources": [{"model": "adder", "layer_range": [0, 4]}, {"model": "sorter", "layer_range": [0, 4]}],
                        "parameters": {"t": 0.3},
                    }
                ],
            },
            "slerp from adder toward the other, 1 layer group(s) (layers 0-3): adder, sorter; t 0.3",
        ),
        (
            {"merge_method": "linear", "models": [{"model": "adder", "parameters": {"weight": [0.1, 0.5, 0.9]}}]},
            "linear: adder(weight [0.1, 0.5, 0.9])",
        ),
        ({"strange": {"shape": 1}}, 'recipe {"strange":{"shape":1}}'),
        ({}, "(no recipe)"),
    ],
)
def test_recipe_text_keeps_every_number_and_names_the_form(recipe, text):
    assert recipe_text(recipe) == text


def test_opposite_layer_tilts_read_differently():
    one = recipe_text(slices("task_arithmetic", [(0, 2), (2, 4)], adder=[1.1, 0.8], sorter=[0.8, 1.0]))
    two = recipe_text(slices("task_arithmetic", [(0, 2), (2, 4)], adder=[0.8, 1.1], sorter=[1.0, 0.8]))
    assert one != two and "adder(weight 1.1/0.8)" in one and "adder(weight 0.8/1.1)" in two


def test_task_scores_pick_the_fitness_metric():
    m = SplitMetrics(fitness=0.7, tasks={"add": {"exact_match": 0.5, "char_accuracy": 0.61234}, "sort": {"acc": 0.9}})
    assert task_scores_text(m, {"add": "char_accuracy", "sort": "acc"}) == "add 0.612, sort 0.900"
    assert task_scores_text(m) == "add exact_match 0.500 char_accuracy 0.612, sort 0.900"
    assert task_scores_text(None) == ""


def test_whole_sentences_never_cut_a_sentence():
    text = "First point here. Second point is longer than that. Third."
    assert whole_sentences(text, 30) == "First point here."
    assert whole_sentences(text, 200) == text
    long_first = "A" * 50 + " b. Next."
    assert whole_sentences(long_first, 30) == "A" * 50 + " b."  # one sentence over the limit is kept whole
    words = "word " * 40
    assert whole_sentences(words, 30).endswith("[... 140 characters cut]")  # no sentence end at all: cut after a word, said so
