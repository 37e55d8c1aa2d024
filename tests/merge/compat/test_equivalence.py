"""Clade against mergekit 0.1.5 on mergekit's own test configurations and examples (cases.py).

Without mergekit: every case is merged by Clade and checked against mergekit's outputs committed
in expected.json (checksums; regenerate them with `python -m tests.merge.compat.regenerate`).
With a venv holding mergekit 0.1.5 (CLADE_MERGEKIT_PYTHON, default /tmp/mk-venv/bin/python),
`test_live_against_mergekit` also runs mergekit now and compares every tensor.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from tests.merge.compat.cases import CASES
from tests.merge.compat.check import check, load_expected, run_clade
from tests.merge.compat.reference import mergekit_cases, run_mergekit, text_zoo
from tests.merge.compat.summary import load_tensors
from tests.merge.compat.zoo import ADAPTERS, MODELS, build_zoo, fingerprint

MERGEKIT_PYTHON = os.environ.get("CLADE_MERGEKIT_PYTHON", "/tmp/mk-venv/bin/python")


@pytest.fixture(scope="module")
def zoo(tmp_path_factory) -> dict[str, Path]:
    return build_zoo(tmp_path_factory.mktemp("compat-zoo"))


@pytest.fixture(scope="module")
def expected() -> dict:
    return load_expected()


def test_the_zoo_is_the_one_the_expected_outputs_were_made_from(zoo, expected):
    changed = [name for name in (*MODELS, *ADAPTERS) if fingerprint(zoo[name]) != expected["zoo"][name]]
    assert not changed, f"zoo models {changed} changed (torch/transformers version?): regenerate expected.json (see regenerate.py)"


def test_every_mergekit_configuration_has_a_case(expected):
    base = [c for c in CASES.values() if c.twin_of is None]
    assert sum(c.suite == "tests" for c in base) == 59 and sum(c.suite == "examples" for c in base) == 6
    assert set(expected["cases"]) == set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_case_matches_mergekit(name, zoo, expected, tmp_path):
    problems = check(CASES[name], expected["cases"][name], zoo, tmp_path / "out")
    assert not problems, "; ".join(problems)


@pytest.mark.skipif(not Path(MERGEKIT_PYTHON).is_file(), reason="no mergekit venv (set CLADE_MERGEKIT_PYTHON)")
def test_live_against_mergekit(zoo, tmp_path):
    """Every deterministic float32 case: each tensor within 1e-5 of what mergekit writes now."""
    cases = [c for c in CASES.values() if c.recipe.get("dtype", "float32") == "float32" and not c.random and not c.error]
    models = zoo | text_zoo(zoo, tmp_path / "text")
    results = run_mergekit(MERGEKIT_PYTHON, mergekit_cases(cases), models, tmp_path / "mergekit")
    worst = {}
    for case in cases:
        assert results[case.name]["status"] == "ok", f"{case.name}: mergekit failed: {results[case.name]}"
        assert run_clade(case, zoo, tmp_path / "clade" / case.name)[0] == "ok"
        ours = load_tensors(tmp_path / "clade" / case.name)
        theirs = _mergekit_tensors(tmp_path / "mergekit", case.name, ours)
        assert set(theirs) <= set(ours), f"{case.name}: {sorted(set(theirs) - set(ours))[:3]}"
        worst[case.name] = max((ours[k].double() - v.double()).abs().max().item() for k, v in theirs.items())
    assert max(worst.values()) <= 1e-5, {k: v for k, v in worst.items() if v > 1e-5}


def _mergekit_tensors(root: Path, name: str, ours: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    tensors = {(k if k in ours else k.removeprefix("model.")): v for k, v in load_tensors(root / name).items()}
    if (root / f"{name}#text").is_dir():
        tensors |= {"language_model." + k: v for k, v in load_tensors(root / f"{name}#text").items()}
    return tensors
