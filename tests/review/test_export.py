from __future__ import annotations

import pytest

from agents.review.actions import approve, reject
from tests.review.fixtures import TA, add_code, clade

LICENSED = "---\nlicense: apache-2.0\ntags: [tiny]\n---\n# adder\nA tiny model that adds.\n"


def test_export_of_an_approved_merge_loads_and_equals_a_fresh_merge(zoo, monkeypatch, capsys, tmp_path):
    import torch
    from transformers import AutoModelForCausalLM

    from tools.merge.api import load_recipe, merge_to_dir

    ws, archive, ids = zoo
    (ws.root / "models" / "adder" / "README.md").write_text(LICENSED)
    approve(archive, ids["ta"], comment="best on add", who="ana")
    out = tmp_path / "exported"
    assert clade(monkeypatch, "export", ids["ta"], str(out), "--workspace", str(ws.root)) == 0
    said = capsys.readouterr().out
    assert f"exported merge candidate {ids['ta']}" in said and "merge seed 3" in said
    fresh = tmp_path / "fresh"
    merge_to_dir(load_recipe(TA, models=ws.model_paths()), fresh, seed=3)
    tokens = torch.tensor([[1, 5, 9, 3, 7]])
    with torch.no_grad():
        got = AutoModelForCausalLM.from_pretrained(out).eval()(tokens).logits
        want = AutoModelForCausalLM.from_pretrained(fresh).eval()(tokens).logits
    assert torch.equal(got, want)
    assert {"config.json", "tokenizer.json", "README.md"} <= {p.name for p in out.iterdir()}
    card = (out / "README.md").read_text()
    assert all(f"source model **{name}**" in card for name in ("adder", "reverser", "sorter", "base"))
    assert "merge_method: task_arithmetic" in card and "lambda: 0.8" in card
    assert "## Metrics on the held-out split ('test')" in card and "Fitness: 0.5500" in card and "| add | acc | 0.5500 |" in card
    assert "strategy `llm` with model `scripted`" in card and "session: s1" in card and "approved by ana" in card
    assert "| adder | apache-2.0 |" in card and "| sorter | not declared |" in card and "license:" not in card.split("---")[1]


def test_card_says_when_the_held_out_split_was_not_measured(zoo, tmp_path):
    from agents.review.export import export

    ws, archive, ids = zoo
    approve(archive, ids["lin"], who="ana")
    for name in ("adder", "sorter"):
        (ws.root / "models" / name / "README.md").write_text(LICENSED)
    report = export(ws, archive, ids["lin"], tmp_path / "lin")
    card = (tmp_path / "lin" / "README.md").read_text()
    assert "Not measured on the held-out split." in card
    assert card.startswith("---\nlicense: apache-2.0\n") and report.seed == 3


@pytest.mark.parametrize("case", ["rejected", "unreviewed", "nonexistent", "not empty"])
def test_export_refusals_exit_2_and_write_nothing(zoo, monkeypatch, capsys, tmp_path, case):
    ws, archive, ids = zoo
    out, ref = tmp_path / "out", ids["ta"]
    if case == "rejected":
        approve(archive, ref, who="ana")
        reject(archive, ref, reason="changed my mind", who="ana")
    elif case == "nonexistent":
        ref = "abcdef1234"
    elif case == "not empty":
        approve(archive, ref, who="ana")
        out.mkdir()
        (out / "keep.txt").write_text("mine")
    assert clade(monkeypatch, "export", ref, str(out), "--workspace", str(ws.root)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert {
        "rejected": "was rejected",
        "unreviewed": "has not been reviewed",
        "nonexistent": "no such candidate",
        "not empty": "is not empty",
    }[case] in err
    assert [p.name for p in tmp_path.iterdir() if p.name != "ws"] == (["out"] if case == "not empty" else [])
    assert case != "not empty" or [p.name for p in out.iterdir()] == ["keep.txt"]


def test_code_export_writes_the_workspace_tree(zoo, monkeypatch, tmp_path):
    ws, archive, ids = zoo
    src, child = add_code(archive)
    approve(archive, child, who="ana")
    out = tmp_path / "code"
    out.mkdir()  # an empty directory is fine
    assert clade(monkeypatch, "export", child, str(out), "--workspace", str(ws.root)) == 0
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()) == ["train.py", "util/io.py"]
    assert (out / "train.py").read_text() == "lr = 0.05\n"


def test_the_merge_seed_is_the_proposers_else_its_sessions_else_clade_yaml(zoo):
    from agents.budget import BudgetConfig
    from agents.review.export import merge_seed
    from agents.session.records import SessionRecord
    from archive.record import Candidate, Proposer

    ws, archive, ids = zoo
    assert merge_seed(ws, archive.get(ids["ta"])) == 3
    sessions = ws.root / ".clade" / "sessions"
    sessions.mkdir(parents=True)
    record = SessionRecord(id="s-7", strategy="llm", seed=7, budget=BudgetConfig(), backend="local")
    (sessions / "s-7.json").write_text(record.model_dump_json())
    probe = lambda session: Candidate(kind="merge", parents=[ids["adder"]], genotype={"recipe": TA}, proposer=Proposer(session=session))
    assert merge_seed(ws, probe("s-7")) == 7
    assert merge_seed(ws, probe(None)) == ws.config.planner.seed == 0


def test_export_under_a_file_exits_2_and_a_failed_export_leaves_no_new_directories(zoo, monkeypatch, capsys, tmp_path):
    ws, archive, ids = zoo
    approve(archive, ids["ta"], who="ana")
    (tmp_path / "f").write_text("a file")
    assert clade(monkeypatch, "export", ids["ta"], str(tmp_path / "f" / "sub"), "--workspace", str(ws.root)) == 2
    assert "is a file, not a directory" in capsys.readouterr().err
    models = ws.root / "models" / "adder"
    models.rename(ws.root / "models" / "gone")  # the merge now fails while materialising
    assert clade(monkeypatch, "export", ids["ta"], str(tmp_path / "new" / "deep" / "out"), "--workspace", str(ws.root)) == 2
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize("case", ["empty", "too long", "read-only file system", "a file"])
def test_export_to_an_unwritable_target_exits_2_with_one_line(zoo, monkeypatch, capsys, tmp_path, case):
    ws, archive, ids = zoo
    approve(archive, ids["ta"], who="ana")
    (tmp_path / "f").write_text("a file")
    target = {
        "empty": "",
        "too long": str(tmp_path / ("x" * 300)),
        "read-only file system": "/proc/clade-export",
        "a file": str(tmp_path / "f"),
    }[case]
    assert clade(monkeypatch, "export", ids["ta"], target, "--workspace", str(ws.root)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f", "ws"] and (tmp_path / "f").read_text() == "a file"


def test_rejecting_a_queued_candidate_takes_it_off_the_queue(zoo):
    from archive.record import Candidate, Proposer

    ws, archive, ids = zoo
    queued = archive.record(
        Candidate(
            kind="merge",
            parents=[ids["ta"]],
            genotype={"recipe": {"merge_method": "linear", "models": []}},
            proposer=Proposer(strategy="chat"),
        )
    )
    assert archive.queued() == [queued]
    reject(archive, queued, reason="not worth a run", who="ana")
    assert archive.queued() == [] and archive.get(queued).status == "rejected"


def test_review_top_must_be_positive(zoo, monkeypatch, capsys):
    ws, _, _ = zoo
    with pytest.raises(SystemExit) as stop:
        clade(monkeypatch, "review", "--top", "0", "--workspace", str(ws.root))
    assert stop.value.code == 2 and "1 or more" in capsys.readouterr().err
