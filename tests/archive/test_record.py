"""The candidate schema: what a valid record is, and how events fold into its state."""

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from archive.record import Candidate, ResultEvent, ReviewEvent, SplitMetrics, fold, genotype_hash, truncate_log


def merge_candidate(**fields) -> Candidate:
    return Candidate(kind="merge", parents=["abcd012345"], genotype={"recipe": {"merge_method": "linear"}}, **fields)


def test_genotype_must_match_kind():
    with pytest.raises(ValidationError, match="files"):
        Candidate(kind="code", parents=["abcd012345"], genotype={"recipe": {"merge_method": "linear"}})


def test_sources_have_no_parents_and_the_rest_have_some():
    with pytest.raises(ValidationError, match="no parents"):
        Candidate(kind="source", parents=["abcd012345"], genotype={"name": "a"})
    with pytest.raises(ValidationError, match="at least one"):
        Candidate(kind="merge", genotype={"recipe": {}})


@pytest.mark.parametrize("status", ["failed", "invalid", "rejected"])
def test_failures_need_a_reason(status):
    with pytest.raises(ValidationError, match="reason"):
        merge_candidate(status=status)
    assert merge_candidate(status=status, reason="out of memory").reason == "out of memory"
    with pytest.raises(ValidationError, match="reason"):
        ResultEvent(status=status)


def test_nan_fitness_is_refused():
    with pytest.raises(ValidationError):
        SplitMetrics(fitness=float("nan"))


def test_long_logs_are_cut_with_a_marker():
    text = "".join(f"line {i}\n" for i in range(10_000))
    cut = truncate_log(text, limit=1000)
    assert cut.startswith("line 0\n") and cut.endswith("line 9999\n")
    assert f"[... {len(text) - 1000} characters cut by the archive ...]" in cut
    assert "characters cut" in merge_candidate(logs=text).logs


def test_fold_applies_results_and_reviews_in_order():
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    events = [
        ResultEvent(at=t0, status="running"),
        ResultEvent(
            at=t0 + timedelta(seconds=1), status="succeeded", metrics={"search": SplitMetrics(fitness=0.5)}, cost={"compute_s": 10}
        ),
        ResultEvent(
            at=t0 + timedelta(seconds=2),
            metrics={"search": SplitMetrics(fitness=0.6), "test": SplitMetrics(fitness=0.4)},
            cost={"compute_s": 5},
        ),
        ReviewEvent(at=t0 + timedelta(seconds=3), verdict="approved", comment="ok", who="ana"),
    ]
    state = fold(merge_candidate(), events)
    assert state.status == "succeeded"
    assert state.fitness("search") == 0.6 and state.fitness("test") == 0.4
    assert state.cost.compute_s == 15
    assert [(r.verdict, r.who) for r in state.reviews] == [("approved", "ana")]


def test_genotype_hash_is_the_dedupe_key():
    a, b = merge_candidate(), merge_candidate(proposer={"strategy": "llm", "rationale": "other words"})
    assert a.genotype_hash() == b.genotype_hash()
    other = Candidate(kind="merge", parents=["abcd012345"], genotype={"recipe": {"merge_method": "ties"}})
    assert other.genotype_hash() != a.genotype_hash()
    assert genotype_hash("merge", a.genotype) == a.genotype_hash()
