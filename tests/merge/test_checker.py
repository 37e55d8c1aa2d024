"""A recipe is checked and planned once (tools/merge/checker.py), and the plan is reused by the resident merger."""

from __future__ import annotations

import pytest
import torch

from tests.merge.test_resident import RECIPES
from tools.errors import BadInput
from tools.merge.api import ResidentMerger, load_recipe
from tools.merge.checker import RecipeChecker, check


def test_a_checker_plans_each_distinct_recipe_once_and_says_a_refusal_every_time(zoo):
    checker = RecipeChecker(zoo)
    first = checker.check(RECIPES["ties"])
    reordered = dict(reversed(list(RECIPES["ties"].items())))  # the same recipe, keys in another order
    assert checker.check(reordered) is first and checker.planned == 1
    assert [p.name for p in first.plans] == [p.name for p in check(RECIPES["ties"], models=zoo).plans]
    bad = {**RECIPES["ties"], "base_model": "nobody"}
    for _ in range(2):
        with pytest.raises(BadInput, match="nobody"):
            checker.check(bad)
    assert (checker.asked, checker.planned) == (4, 2) and "nobody" in checker.problem(bad) and checker.problem(RECIPES["linear"]) is None


def test_a_checker_keeps_only_its_last_verdicts(zoo):
    checker = RecipeChecker(zoo, keep=1)
    checker.check(RECIPES["linear"])
    checker.check(RECIPES["ties"])
    checker.check(RECIPES["linear"])
    assert checker.planned == 3


def test_the_resident_merger_takes_the_prepared_recipe_for_the_merge_and_its_tokenizer(zoo):
    merger = ResidentMerger(zoo)
    prepared = merger.prepare(load_recipe(RECIPES["dare_ties"], models=zoo))
    assert merger.prepare(prepared) is prepared
    planned = {k: v.clone() for k, v in merger.apply(prepared, seed=3).state_dict().items()}
    again = merger.apply(RECIPES["dare_ties"], seed=3).state_dict()
    assert all(torch.equal(planned[k], again[k]) for k in planned)
    assert merger.tokenizer_dir(prepared) == merger.tokenizer_dir(RECIPES["dare_ties"]) == prepared.tokenizer.path
