from __future__ import annotations

import json

from archive.record import ResultEvent
from tests.review.fixtures import LINEAR, clade, metrics, record_merge


def test_review_details_list_best_first_with_parents_best_source_cost_and_logs(zoo, monkeypatch, capsys):
    ws, archive, ids = zoo
    assert clade(monkeypatch, "review", "--details", "--workspace", str(ws.root)) == 0
    out = capsys.readouterr().out
    assert out.index(f"== {ids['ta']}") < out.index(f"== {ids['lin']}")
    assert "merge_method: task_arithmetic" in out and "rationale: task arithmetic of all three" in out
    assert f"parent {ids['adder']} (adder)" in out and "0.3000" in out and "0.2500" in out
    assert "3.5 s compute" in out and "evaluated 3 tasks" in out
    assert f"best source {ids['adder']}" not in out.split(f"== {ids['lin']}")[0]  # adder is a parent there
    assert ids["bad"] not in out


def test_review_json(zoo, monkeypatch, capsys):
    ws, archive, ids = zoo
    rs = record_merge(
        archive,
        [ids["reverser"], ids["sorter"]],
        {**LINEAR, "models": LINEAR["models"][::-1]},
        "",
        ResultEvent(status="succeeded", metrics=metrics(0.35, 0.3)),
    )
    assert clade(monkeypatch, "review", "--json", "--workspace", str(ws.root)) == 0
    items = json.loads(capsys.readouterr().out)
    assert [i["id"] for i in items] == [ids["ta"], ids["lin"], rs]
    assert items[1]["metrics"] == [
        {"role": "candidate", "id": ids["lin"], "name": None, "search": 0.4, "test": None},
        {"role": "parent", "id": ids["adder"], "name": "adder", "search": 0.3, "test": 0.25},
        {"role": "parent", "id": ids["sorter"], "name": "sorter", "search": 0.2, "test": 0.15000000000000002},
    ]
    assert items[2]["metrics"][-1] == {"role": "best source", "id": ids["adder"], "name": "adder", "search": 0.3, "test": 0.25}
    assert items[0]["cost"]["compute_s"] == 3.5 and items[0]["log_tail"].endswith("evaluated 3 tasks")
    assert items[0]["proposer"]["session"] == "s1" and "task_arithmetic" in items[0]["genotype"]


def test_approve_and_reject_from_the_command_line(zoo, monkeypatch, capsys):
    ws, archive, ids = zoo
    assert clade(monkeypatch, "approve", ids["ta"], "--comment", "good", "--who", "ana", "--workspace", str(ws.root)) == 0
    assert clade(monkeypatch, "reject", ids["lin"], "--reason", "weak", "--workspace", str(ws.root)) == 0
    out = capsys.readouterr().out
    assert f"approved {ids['ta']} as ana" in out and f"rejected {ids['lin']} as " in out
    archive.sync()
    assert archive.get(ids["lin"]).reviews[0].who  # the login name
    assert clade(monkeypatch, "review", "--workspace", str(ws.root)) == 0
    assert "nothing awaits review" in capsys.readouterr().out


def test_approving_a_failed_candidate_exits_2_with_one_line_and_writes_nothing(zoo, monkeypatch, capsys):
    ws, archive, ids = zoo
    before = archive.notes.head()
    assert clade(monkeypatch, "approve", ids["bad"], "--workspace", str(ws.root)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"candidate {ids['bad']}: its status is failed" in err
    assert archive.notes.head() == before


def test_review_approve_reject_and_chat_registration_import_no_torch_transformers_or_litellm(zoo):
    import subprocess
    import sys

    ws, archive, ids = zoo
    code = f"""
import sys, agents.cli
for argv in (["review", "--json"], ["approve", "{ids["ta"]}", "--who", "ana"], ["reject", "{ids["lin"]}", "--reason", "weak"]):
    assert agents.cli.main([*argv, "--workspace", {str(ws.root)!r}]) == 0
heavy = sorted(m for m in ("torch", "transformers", "litellm") if m in sys.modules)
assert not heavy, heavy
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
