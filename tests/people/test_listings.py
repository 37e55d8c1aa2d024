"""Issue 18 items 2, 3, 4 (diff, --session) and 5: names beside ids, the review verdict as a column
and a filter, per-task metrics in `clade diff`, `clade review` as a table."""

from __future__ import annotations

import json

from archive.record import Review
from tests.review.fixtures import clade


def run(monkeypatch, capsys, ws, *argv) -> tuple[int, str, str]:
    code = clade(monkeypatch, *argv, "--workspace", str(ws.root))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_source_names_work_as_ids_and_are_shown_beside_them(zoo, monkeypatch, capsys):
    ws, archive, ids = zoo
    code, out, _ = run(monkeypatch, capsys, ws, "show", "sorter")
    assert code == 0 and out.startswith(f"candidate {ids['sorter']} (sorter)  source")
    code, out, _ = run(monkeypatch, capsys, ws, "candidates")
    assert f"{ids['adder']} (adder)" in out and out.splitlines()[0].split()[:4] == ["ID", "KIND", "STATUS", "REVIEW"]
    line = next(x for x in out.splitlines() if x.startswith(ids["lin"]))
    assert line.endswith(f"{ids['adder']} (adder), {ids['sorter']} (sorter)")
    code, out, _ = run(monkeypatch, capsys, ws, "lineage", ids["lin"])
    assert f"├── {ids['adder']} (adder) source" in out and f"└── {ids['sorter']} (sorter) source" in out
    code, out, _ = run(monkeypatch, capsys, ws, "lineage", "adder")
    assert code == 0 and out.startswith(f"{ids['adder']} (adder) source")
    code, out, _ = run(monkeypatch, capsys, ws, "candidates", "--json", "--kind", "source")
    assert {r["name"] for r in json.loads(out)} == {"base", "adder", "reverser", "sorter"}


def test_an_unknown_name_is_one_line_and_exit_2(zoo, monkeypatch, capsys):
    ws, archive, ids = zoo
    code, out, err = run(monkeypatch, capsys, ws, "show", "multiplier")
    assert code == 2 and out == "" and err.count("\n") == 1 and "'multiplier': neither a candidate id" in err


def test_the_review_verdict_is_a_column_and_a_filter(zoo, monkeypatch, capsys):
    ws, archive, ids = zoo
    archive.attach_review(ids["lin"], Review(verdict="rejected", comment="weak", who="ana"))
    archive.attach_review(ids["ta"], Review(verdict="approved", who="ana"))
    code, out, _ = run(monkeypatch, capsys, ws, "candidates")
    row = {line.split()[0]: line.split() for line in out.splitlines()[1:]}
    assert row[ids["lin"]][1:4] == ["merge", "succeeded", "rejected"] and row[ids["ta"]][3] == "approved"
    assert row[ids["bad"]][3] == "-"
    code, out, _ = run(monkeypatch, capsys, ws, "candidates", "--review", "rejected", "--json")
    assert [(r["id"], r["verdict"], r["status"]) for r in json.loads(out)] == [(ids["lin"], "rejected", "succeeded")]
    code, out, _ = run(monkeypatch, capsys, ws, "candidates", "--review", "none", "--kind", "merge", "--json")
    assert [r["id"] for r in json.loads(out)] == [ids["bad"]]
    code, out, _ = run(monkeypatch, capsys, ws, "candidates", "--status", "rejected")
    assert code == 0 and "reviewers' rejections: clade candidates --review rejected" in out
    archive.attach_review(ids["lin"], Review(verdict="approved", who="bo"))  # the latest verdict counts
    code, out, _ = run(monkeypatch, capsys, ws, "candidates", "--review", "approved", "--json")
    assert sorted(r["id"] for r in json.loads(out)) == sorted([ids["ta"], ids["lin"]])


def test_the_session_filter(zoo, monkeypatch, capsys):
    ws, archive, ids = zoo
    code, out, _ = run(monkeypatch, capsys, ws, "candidates", "--session", "s1", "--json")
    assert sorted(r["id"] for r in json.loads(out)) == sorted([ids["ta"], ids["lin"], ids["bad"]])
    assert {r["session"] for r in json.loads(out)} == {"s1"}
    code, out, _ = run(monkeypatch, capsys, ws, "candidates", "--session", "s-none")
    assert code == 0 and "no candidates from session s-none" in out


def test_diff_puts_metrics_per_task_side_by_side_above_the_genotype_diff(zoo, monkeypatch, capsys):
    ws, archive, ids = zoo
    code, out, _ = run(monkeypatch, capsys, ws, "diff", ids["lin"], ids["ta"])
    lines = out.splitlines()
    assert lines[0].split() == ["SPLIT", "METRIC", "A", ids["lin"], "B", ids["ta"], "B-A"]
    assert lines[1].split() == ["search", "fitness", "0.4000", "0.6000", "+0.2000"]
    assert lines[2].split() == ["search", "add/acc", "0.4000", "0.6000", "+0.2000"]
    assert lines[3].split() == ["test", "fitness", "-", "0.5500", "-"]
    assert f"--- {ids['lin']}/recipe.yaml" in out and "+merge_method: task_arithmetic" in out
    code, out, _ = run(monkeypatch, capsys, ws, "diff", ids["lin"], ids["ta"], "--json")
    data = json.loads(out)
    assert data["metrics"][0] == {"split": "search", "metric": "fitness", "a": 0.4, "b": 0.6, "delta": 0.6 - 0.4}
    assert data["note"] is None and "task_arithmetic" in data["diff"]


def test_diff_of_a_source_model_and_a_merge_says_why_there_is_no_genotype_diff(zoo, monkeypatch, capsys):
    ws, archive, ids = zoo
    code, out, _ = run(monkeypatch, capsys, ws, "diff", "adder", ids["lin"])
    assert code == 0 and f"{ids['adder']} is the source model adder (models/adder)" in out
    assert f"the recipe of {ids['lin']} uses it as `adder`" in out and "recipe.yaml" not in out
    assert f"A {ids['adder']} (adder)" in out.splitlines()[0]


def test_review_is_a_table_by_default(zoo, monkeypatch, capsys):
    ws, archive, ids = zoo
    code, out, _ = run(monkeypatch, capsys, ws, "review")
    lines = out.splitlines()
    assert code == 0 and len(lines) == 4  # header, two candidates, footer
    assert lines[0].split()[:6] == ["ID", "KIND", "SEARCH", "TEST", "TEST-adder", "PARENTS"]
    assert lines[1].split()[:6] == [ids["ta"], "merge", "0.6000", "0.5500", "+0.3000", "base,adder,reverser,sorter"]
    assert lines[2].split()[:5] == [ids["lin"], "merge", "0.4000", "-", "-"]
    assert lines[3].startswith("2 awaiting review. details: `clade show ID`")
    code, out, _ = run(monkeypatch, capsys, ws, "show", ids["lin"])
    relatives = out.split("fitness beside its relatives:\n")[1].splitlines()
    assert [line.split() for line in relatives[:4]] == [
        ["search", "test"],
        ["this", ids["lin"], "0.4000", "-"],
        ["parent", ids["adder"], "(adder)", "0.3000", "0.2500"],
        ["parent", ids["sorter"], "(sorter)", "0.2000", "0.1500"],
    ]
