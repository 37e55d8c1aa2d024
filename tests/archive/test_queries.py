"""Queries: top-k, filters, lineage, children, Pareto front, genotype diff, LLM summary."""

import pytest

from archive import Candidate, Proposer, ResultEvent, Review, SplitMetrics
from archive.summary import estimate_tokens
from tools.errors import BadInput

from .conftest import merge, source, succeed


@pytest.fixture
def family(archive):
    """a, b sources; ab = a x b; c1, c2 children of ab; g grandchild of c1 and b; f failed child of a."""
    a, b = source(archive, "a"), source(archive, "b")
    ab = merge(archive, [a, b], strategy="llm")
    c1, c2 = merge(archive, [ab], weight=0.1), merge(archive, [ab], weight=0.9)
    g = merge(archive, [c1, b], weight=0.3)
    f = merge(archive, [a], weight=0.7)
    archive.attach_result(f, ResultEvent(status="failed", reason="tokenizers differ"))
    succeed(archive, ab, 0.5, arc={"acc": 0.5}, gsm={"em": 0.5})
    succeed(archive, c1, 0.7, arc={"acc": 0.9}, gsm={"em": 0.1})
    succeed(archive, c2, 0.6, arc={"acc": 0.2}, gsm={"em": 0.8})
    succeed(archive, g, 0.4, arc={"acc": 0.3}, gsm={"em": 0.3})
    return dict(a=a, b=b, ab=ab, c1=c1, c2=c2, g=g, f=f)


def test_top_k_by_fitness_on_a_split(archive, family):
    assert [c.id for c in archive.top(3)] == [family["c1"], family["c2"], family["ab"]]
    succeed(archive, family["g"], 0.99, split="test")
    assert [c.id for c in archive.top(1, split="test")] == [family["g"]]


def test_filters(archive, family):
    assert [c.id for c in archive.candidates(status="failed")] == [family["f"]]
    assert {c.id for c in archive.candidates(kind="source")} == {family["a"], family["b"]}
    assert [c.id for c in archive.candidates(proposer="llm")] == [family["ab"]]
    listed = archive.candidates()
    assert len(listed) == 7 and listed[0].id == family["c1"] and listed[-1].fitness is None


def test_ancestors_descendants_and_children(archive, family):
    ancestors = archive.ancestors(family["g"])  # nearest first: depth 1, then 2, then 3
    assert ancestors[:2] == sorted([family["c1"], family["b"]]) and set(ancestors[2:]) == {family["ab"], family["a"]}
    assert len(ancestors) == 4
    assert set(archive.descendants(family["ab"])) == {family["c1"], family["c2"], family["g"]}
    assert archive.ancestors(family["a"]) == []
    counts = archive.children_counts()
    assert counts[family["ab"]] == 2 and counts[family["b"]] == 2 and family["g"] not in counts
    summary = {c.id: c for c in archive.candidates()}
    assert summary[family["ab"]].children == 2 and summary[family["g"]].parents == (family["c1"], family["b"])


def test_pareto_front_over_task_metrics(archive, family):
    front = {c.id for c in archive.pareto()}
    assert front == {family["ab"], family["c1"], family["c2"]}  # g is dominated by ab
    assert {c.id for c in archive.pareto(objectives=["arc/acc"])} == {family["c1"]}
    assert {c.id for c in archive.pareto(objectives=["-arc/acc"])} == {family["c2"]}
    with pytest.raises(BadInput, match="no task metrics"):
        archive.pareto(split="nowhere")


def test_diff_between_two_genotypes(archive, family):
    text = archive.diff(family["c1"], family["c2"])
    assert f"--- {family['c1']}/recipe.yaml" in text and f"+++ {family['c2']}/recipe.yaml" in text
    assert "-    weight: 0.1\n+    weight: 0.9\n" in text
    assert archive.diff(family["c1"], family["c1"]) == ""
    code = archive.record(
        Candidate(kind="code", parents=[family["a"]], genotype={"files": {"t.py": "a = 1\n"}, "command": ["python", "t.py"]})
    )
    edit = archive.record(
        Candidate(kind="code", parents=[code], genotype={"files": {"t.py": "a = 2\n", "u.py": "b\n"}, "command": ["python", "t.py"]})
    )
    text = archive.diff(code, edit)
    assert "-a = 1\n+a = 2\n" in text and f"+++ {edit}/workspace/u.py" in text and "genotype.json" not in text


def test_summary_is_bounded_and_says_what_it_left_out(archive, family):
    archive.attach_review(family["c1"], Review(verdict="comment", comment="check held-out before trusting", who="ana"))
    text = archive.summary(max_tokens=2000)
    assert family["c1"] in text and "tokenizers differ" in text and "check held-out" in text and "left out" not in text
    for i in range(30):
        m = merge(archive, [family["a"]], weight=i / 100)
        archive.attach_result(m, ResultEvent(status="failed", reason="x" * 150 + f" failure number {i}"))
    small = archive.summary(max_tokens=200, failures=30)
    assert estimate_tokens(small) <= 200
    assert small.splitlines()[-1].startswith("(") and "more entries left out to stay within 200 tokens" in small
    assert all(not line.startswith("- ") or line.endswith(("...", "em")) or len(line) < 400 for line in small.splitlines())
    assert family["c1"] in small  # the best survives a tight budget


def test_summary_of_an_empty_archive(archive):
    assert archive.summary().startswith("Archive: 0 candidates (none yet).")


def test_strategy_in_listing(archive, family):
    row = next(c for c in archive.candidates() if c.id == family["ab"])
    assert row.strategy == "llm" and row.to_json()["parents"] == [family["a"], family["b"]]
    assert archive.get(family["ab"]).proposer == Proposer(strategy="llm")


def test_summary_shows_each_best_candidates_recipe_and_score_per_task(archive, family):
    tasks = {"add": {"char_accuracy": 0.61, "exact_match": 0.4}, "sort": {"char_accuracy": 0.98, "exact_match": 0.9}}
    archive.attach_result(family["c1"], ResultEvent(metrics={"search": SplitMetrics(fitness=0.95, tasks=tasks)}))
    text = archive.summary(metric_of={"add": "char_accuracy", "sort": "char_accuracy"})
    line = next(row for row in text.splitlines() if row.startswith(f"- {family['c1']}"))
    assert line.startswith(f"- {family['c1']} fitness 0.9500 [add 0.610, sort 0.980] linear: ")
    assert "(weight 0.1)" in line and "dtype float32" in line and "[score per task]" in text


def test_summary_does_not_repeat_a_shared_rationale(archive, family):
    members = []
    for cid, fitness in ((family["c1"], 0.95), (family["c2"], 0.94)):
        members.append(
            archive.record(
                Candidate(
                    kind="merge",
                    parents=[cid],
                    genotype={"recipe": {"merge_method": "linear", "w": fitness}},
                    proposer=Proposer(strategy="hybrid", rationale="One structure, tuned by CMA-ES."),
                )
            )
        )
        archive.attach_result(members[-1], ResultEvent(status="succeeded", metrics={"search": SplitMetrics(fitness=fitness)}))
    lines = archive.summary().splitlines()
    assert lines[2].endswith("why: One structure, tuned by CMA-ES.") and lines[3].endswith(f"why: as {members[0]}")
