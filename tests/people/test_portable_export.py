"""Issue 18 item 8: an exported recipe.yaml re-creates the model from anywhere (source paths resolved, names as comments)."""

from __future__ import annotations

import os

from archive.record import Review
from tests.review.fixtures import clade


def test_the_exported_recipe_merges_again_outside_the_workspace(zoo, monkeypatch, capsys, tmp_path):
    ws, archive, ids = zoo
    archive.attach_review(ids["ta"], Review(verdict="approved", who="ana"))
    assert clade(monkeypatch, "export", ids["ta"], str(tmp_path / "export"), "--workspace", str(ws.root)) == 0
    text = (tmp_path / "export" / "recipe.yaml").read_text()
    assert f"- model: {ws.root / 'models' / 'adder'}  # adder" in text and f"base_model: {ws.root / 'models' / 'base'}  # base" in text
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # no workspace here: the names would not resolve, the paths do
    capsys.readouterr()
    assert clade(monkeypatch, "merge", str(tmp_path / "export" / "recipe.yaml"), "again", "--seed", "3") == 0
    assert (elsewhere / "again" / "model.safetensors").read_bytes() == (tmp_path / "export" / "model.safetensors").read_bytes()
    assert os.path.exists(elsewhere / "again" / "recipe.yaml")
