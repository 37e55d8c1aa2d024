"""Issue 18's page data over real HTTP: names and verdicts on nodes, generations as columns, per-task
scores beside the parents', a source parent's diff, two candidates side by side, the Pareto front, spend."""

from __future__ import annotations

from archive import Candidate, Proposer, ResultEvent, Review, SplitMetrics
from tests.ui.conftest import open_archive


def two_tasks(archive, parents: list[str], add: float, sort: float, *, session: str = "s2", generation: int = 0) -> str:
    recipe = {
        "merge_method": "linear",
        "models": [{"model": "adder", "parameters": {"weight": add}}, {"model": "sorter", "parameters": {"weight": sort}}],
    }
    proposer = Proposer(strategy="evolution", session=session, params={"run": "evolution/parameters", "generation": generation, "index": 0})
    cid = archive.record(Candidate(kind="merge", parents=parents, genotype={"recipe": recipe}, proposer=proposer))
    tasks = {"add": {"acc": add}, "sort": {"acc": sort}}
    archive.attach_result(
        cid,
        ResultEvent(
            status="succeeded",
            metrics={"search": SplitMetrics(fitness=(add + sort) / 2, tasks=tasks)},
            cost={"compute_s": 1.5, "dollars": 0.01, "llm_tokens": 50},
        ),
    )
    return cid


def test_nodes_carry_names_and_verdicts(running, lineage, workspace_dir):
    with open_archive(workspace_dir) as archive:
        archive.attach_review(lineage["good"], Review(verdict="rejected", comment="no", who="ana"))
    _, g = running.get("/api/graph")
    nodes = {n["id"]: n for n in g["nodes"]}
    assert nodes[lineage["a"]]["name"] == "adder" and nodes[lineage["good"]]["name"] is None
    assert nodes[lineage["good"]]["verdict"] == "rejected" and nodes[lineage["good"]]["status"] == "succeeded"
    _, o = running.get("/api/overview")
    assert o["counts"]["verdict"] == {"rejected": 1}


def test_generations_of_a_search_are_their_own_columns(running, lineage, workspace_dir):
    with open_archive(workspace_dir) as archive:
        gens = {
            g: [two_tasks(archive, [lineage["a"], lineage["b"]], 0.1 * k + g / 10, 0.5, generation=g) for k in range(3)] for g in (0, 1)
        }
    _, g = running.get("/api/graph")
    column = {n["id"]: n["column"] for n in g["nodes"]}
    assert len({column[c] for c in gens[0]}) == 1 and len({column[c] for c in gens[1]}) == 1
    assert column[gens[0][0]] != column[gens[1][0]] and column[gens[0][0]] > column[lineage["a"]]


def test_candidate_page_shows_scores_per_task_beside_the_parents_and_a_source_parent_note(running, lineage, workspace_dir):
    with open_archive(workspace_dir) as archive:
        child = two_tasks(archive, [lineage["good"], lineage["b"]], 0.7, 0.4)
    _, d = running.get(f"/api/candidate/{child}")
    assert d["workspace"] == "ui-test" and d["names"] == {lineage["b"]: "sorter"}
    rows = {(r["split"], r["metric"]): r for r in d["tasks"]}
    assert rows[("search", "add/acc")]["value"] == 0.7 and rows[("search", "add/acc")]["parents"] == [0.6, None]
    assert abs(rows[("search", "add/acc")]["delta"] - 0.1) < 1e-9
    good, source = d["diffs"]
    assert good["note"] is None and "weight" in good["text"]
    assert source["text"] == "" and source["note"].startswith(f"{lineage['b']} is the source model sorter (models/sorter)")
    status, d = running.get("/api/candidate/adder")  # a source name works as its id
    assert status == 200 and d["candidate"]["id"] == lineage["a"] and d["name"] == "adder"


def test_compare_two_candidates(running, lineage):
    status, d = running.get(f"/api/compare/{lineage['good']}/{lineage['best']}")
    assert status == 200 and d["a"]["id"] == lineage["good"] and d["b"]["fitness"] == 0.75
    assert d["metrics"][0] == {"split": "search", "metric": "fitness", "a": 0.6, "b": 0.75, "delta": 0.75 - 0.6}
    assert "+    weight: 0.3" in d["diff"] and d["note"] is None
    status, d = running.get(f"/api/compare/sorter/{lineage['good']}")
    assert status == 200 and d["a"]["name"] == "sorter" and d["diff"] == "" and "is the source model sorter" in d["note"]
    status, d = running.get("/api/compare/nope/sorter")
    assert status == 400 and "'nope': neither a candidate id" in d["error"]


def test_pareto_front_over_tasks(running, lineage, workspace_dir):
    with open_archive(workspace_dir) as archive:
        ids = {
            name: two_tasks(archive, [lineage["a"], lineage["b"]], add, sort)
            for name, (add, sort) in {"add": (0.9, 0.1), "sort": (0.1, 0.9), "both": (0.6, 0.6), "worse": (0.5, 0.5)}.items()
        }
    _, p = running.get("/api/pareto")
    assert p["objectives"] == ["add/acc", "sort/acc"]
    front = {pt["id"] for pt in p["points"] if pt["front"]}
    assert front == {ids["add"], ids["sort"], ids["both"]} and p["front"] == 3
    assert {pt["id"]: pt["scores"] for pt in p["points"]}[ids["worse"]] == {"add/acc": 0.5, "sort/acc": 0.5}


def test_spend_over_time_per_session(running, lineage, workspace_dir):
    with open_archive(workspace_dir) as archive:
        for k in range(3):
            two_tasks(archive, [lineage["a"]], 0.1 * k, 0.2, session="s9")
    _, s = running.get("/api/spend")
    sessions = {x["id"]: x["points"] for x in s["sessions"]}
    assert set(sessions) == {"s1", "s9"}
    assert [round(p["dollars"], 4) for p in sessions["s9"]] == [0.01, 0.02, 0.03] and sessions["s9"][-1]["compute_s"] == 4.5
    assert sessions["s9"][0]["t"] == 0 and all(a["t"] <= b["t"] for a, b in zip(sessions["s9"], sessions["s9"][1:]))
