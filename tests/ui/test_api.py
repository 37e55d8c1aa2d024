"""The JSON endpoints over real HTTP, on a real archive in tmp_path."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.ui.conftest import make_lineage, open_archive, serve

ROOT = Path(__file__).resolve().parents[2]


def test_overview_counts_spend_and_best_curve(running, lineage):
    status, o = running.get("/api/overview")
    assert status == 200
    assert o["total"] == 6 and o["counts"]["status"] == {"succeeded": 3, "failed": 1, "proposed": 2}
    assert o["spend"]["dollars"] == 0.25 and o["spend"]["compute_s"] == 6.0 and o["spend"]["llm_tokens"] == 300
    assert [p["best"] for p in o["curve"]][-1] == 0.75
    assert [p["id"] for p in o["curve"]][0] == lineage["a"]  # creation order


def test_graph_has_a_node_per_candidate_failed_included(running, lineage):
    _, g = running.get("/api/graph")
    nodes = {n["id"]: n for n in g["nodes"]}
    assert set(nodes) == set(lineage.values())
    assert nodes[lineage["failed"]]["status"] == "failed" and nodes[lineage["failed"]]["reason"] == "merge ran out of memory"
    assert (nodes[lineage["a"]]["column"], nodes[lineage["good"]]["column"], nodes[lineage["best"]]["column"]) == (0, 1, 2)
    assert g["fitness_range"] == [0.30, 0.75]


def test_candidate_page_data(running, lineage):
    status, d = running.get(f"/api/candidate/{lineage['best'][:6]}")
    assert status == 200
    c = d["candidate"]
    assert c["id"] == lineage["best"] and c["metrics"]["search"]["fitness"] == 0.75 and "fitness 0.75" in c["logs"]
    assert "merge_method: linear" in d["files"]["recipe.yaml"] and "candidate.json" not in d["files"]
    assert [x["parent"] for x in d["diffs"]] == [lineage["good"], lineage["b"]]
    assert "-    weight: 0.5" in d["diffs"][0]["text"] and "+    weight: 0.3" in d["diffs"][0]["text"]
    assert d["approvable"] and d["verdict"] is None


def test_unknown_candidate_is_a_400_with_one_line(running):
    status, d = running.get("/api/candidate/abcdef0123")
    assert status == 400 and "no such candidate" in d["error"] and "\n" not in d["error"]
    status, d = running.get("/api/candidate/not-an-id")
    assert status == 400 and "neither a candidate id" in d["error"]


def test_approve_lands_in_the_archive(running, lineage, workspace_dir):
    status, d = running.post(f"/api/candidate/{lineage['good']}/approve", {"comment": "ship it"})
    assert status == 200 and d["verdict"] == "approved"
    with open_archive(workspace_dir) as archive:
        reviews = archive.get(lineage["good"]).reviews
    assert [(r.verdict, r.comment, r.who) for r in reviews] == [("approved", "ship it", "tester")]


def test_reject_needs_a_reason_and_records_it(running, lineage, workspace_dir):
    status, d = running.post(f"/api/candidate/{lineage['failed']}/reject", {"reason": "  "})
    assert status == 400 and "reason is empty" in d["error"]
    status, d = running.post(f"/api/candidate/{lineage['failed']}/reject", {"reason": "too big a weight"})
    assert status == 200 and d["verdict"] == "rejected"
    with open_archive(workspace_dir) as archive:
        assert [(r.verdict, r.comment) for r in archive.get(lineage["failed"]).reviews] == [("rejected", "too big a weight")]


def test_approving_a_failed_candidate_changes_nothing(running, lineage, workspace_dir):
    before = running.get("/api/version")[1]["version"]
    status, d = running.post(f"/api/candidate/{lineage['failed']}/approve", {"comment": ""})
    assert status == 400 and "only a succeeded candidate can be approved" in d["error"]
    assert running.get("/api/version")[1]["version"] == before
    with open_archive(workspace_dir) as archive:
        assert archive.get(lineage["failed"]).reviews == []


def test_bad_bodies_are_400s_naming_the_field(running, lineage):
    assert running.post(f"/api/candidate/{lineage['good']}/approve", {"comment": "x", "verdict": "y"})[1]["error"].startswith(
        "approve: field verdict"
    )
    status, d = running.request("POST", f"/api/candidate/{lineage['good']}/approve", raw=b"[1]")
    assert status == 400 and d["error"].startswith("approve: field (top level)")
    status, d = running.request("POST", f"/api/candidate/{lineage['good']}/approve", raw=b"{oops")
    assert status == 400 and d["error"].startswith("request body is not JSON")


def test_a_candidate_recorded_by_another_process_appears(running, lineage, workspace_dir):
    before = running.get("/api/version")[1]["version"]
    script = (
        f"import sys; sys.path.insert(0, {str(ROOT)!r}); from tests.ui.conftest import open_archive, merge, result\n"
        f"from pathlib import Path\nwith open_archive(Path({str(workspace_dir)!r})) as a:\n"
        f"    cid = merge(a, [{lineage['best']!r}], 0.2); result(a, cid, 0.9); print(cid)"
    )
    cid = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True).stdout.strip()
    assert running.get("/api/version")[1]["version"] != before
    nodes = {n["id"]: n for n in running.get("/api/graph")[1]["nodes"]}
    assert nodes[cid]["fitness"] == 0.9 and nodes[cid]["column"] > nodes[lineage["best"]]["column"]


def test_sessions_are_listed_with_what_their_candidates_spent(running, workspace_dir):
    from agents.budget import BudgetConfig
    from agents.session.records import SessionRecord, save
    from agents.workspace import load_workspace

    before = running.get("/api/version")[1]["version"]
    save(
        load_workspace(workspace_dir),
        SessionRecord(id="s1", strategy="evolution", seed=0, budget=BudgetConfig(candidates=40), backend="local"),
    )
    (workspace_dir / ".clade" / "sessions" / "broken.json").write_text("{not json")
    assert running.get("/api/version")[1]["version"] != before
    listed = {s["id"]: s for s in running.get("/api/overview")[1]["sessions"]}
    assert listed["s1"]["status"] == "running" and listed["s1"]["budget"]["candidates"] == 40
    assert listed["s1"]["archive_spend"]["candidates"] == 3 and listed["s1"]["archive_spend"]["dollars"] == 0.25
    assert "broken.json: not a session record" in listed["broken"]["error"]


def test_without_an_archive_the_page_says_so_then_reads_it_once_it_exists(workspace_dir):
    running = serve(workspace_dir)
    try:
        status, d = running.get("/api/version")
        assert status == 400 and "no archive here yet" in d["error"]
        make_lineage(workspace_dir)
        assert running.get("/api/overview")[1]["total"] == 6
    finally:
        running.stop()


def test_static_files_and_unknown_paths(running):
    import urllib.request

    with urllib.request.urlopen(running.url) as res:
        page = res.read().decode()
        assert "/static/app.js" in page and "default-src 'none'" in res.headers["Content-Security-Policy"]
    for name in ("app.js", "style.css"):
        with urllib.request.urlopen(running.url + "static/" + name) as res:
            assert res.status == 200 and b"http://" not in res.read().replace(b"http://www.w3.org/2000/svg", b"")
    assert running.get("/static/../server.py")[0] == 404
