"""recipe.yaml: our block-YAML writer reads back as the same data with PyYAML (what mergekit uses)."""

import random

import pytest
import yaml

from archive.yamlout import dump

CORPUS = [
    {
        "merge_method": "ties",
        "base_model": "mistralai/Mistral-7B-v0.1",
        "dtype": "bfloat16",
        "models": [
            {"model": "a", "parameters": {"density": [1, 0.7, 0.1], "weight": [{"filter": "mlp", "value": 0.5}, {"value": 1e-05}]}},
            {"model": "b"},
        ],
        "parameters": {"normalize": True, "int8_mask": False, "lambda": None},
    },
    {
        "slices": [{"sources": [{"model": "a", "layer_range": [0, 16]}]}, {"sources": [{"model": "b", "layer_range": [8, 24]}]}],
        "merge_method": "passthrough",
    },
    {"path": [["a", 0, 1.5], ["b", 3, -0.0]], "empty": {}, "none": [], "nested": [[1, [2, []]], {"k": {}}]},
    {
        "yes": "no",
        "on": "off",
        "y": "n",
        "null": "~",
        "true": "True",
        "1": "0x1F",
        "date": "2026-01-01",
        "e": "1e5",
        "colon": "a: b",
        "hash": "a #b",
        "quote": 'say "hi"',
        "uni": "héllo ✓",
        "nl": "a\nb",
        "tab": "a\tb",
        "lead": " x",
        "dash": "-",
        "star": "*a",
        "amp": "&x",
        "pct": "%x",
        "at": "@x",
        "tick": "`x",
        "big": 10**30,
        "neg": -3,
        "inf": float("inf"),
        "ninf": float("-inf"),
        "large": 1e16,
        "tiny": 5e-324,
        "ctrl": "\x7f\x85",
    },
]


@pytest.mark.parametrize("data", CORPUS)
def test_corpus_round_trips(data):
    assert yaml.safe_load(dump(data)) == data


def test_reads_like_pyyaml_block_style():
    data = {"merge_method": "linear", "models": [{"model": "a", "parameters": {"weight": 0.5}}]}
    assert dump(data) == yaml.safe_dump(data, sort_keys=False)


def _random(rng: random.Random, depth: int = 0):
    kind = rng.randrange(8 if depth < 4 else 5)
    if kind == 0:
        return rng.choice([None, True, False, 0, -7, 2**40])
    if kind == 1:
        return rng.choice([0.1, 1e-8, -2.5e10, 3.0, 1 / 3, -0.0])
    if kind in (2, 3, 4):
        return "".join(rng.choice("ab yZ:#-_./'\"\\\n01é✓") for _ in range(rng.randrange(6)))
    if kind in (5, 6):
        return {str(_random(rng, 9)): _random(rng, depth + 1) for _ in range(rng.randrange(4))}
    return [_random(rng, depth + 1) for _ in range(rng.randrange(4))]


def test_random_data_round_trips():
    rng = random.Random(7)
    for _ in range(400):
        data = _random(rng)
        assert yaml.safe_load(dump(data)) == data, dump(data)
