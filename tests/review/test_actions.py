from __future__ import annotations

import pytest

from agents.review.actions import approve, awaiting_review, reject, verdict
from tests.review.fixtures import add_code
from tools.errors import BadInput


def test_awaiting_review_lists_succeeded_merges_best_first_with_context(zoo):
    ws, archive, ids = zoo
    items = awaiting_review(archive)
    assert [i.candidate.id for i in items] == [ids["ta"], ids["lin"]]
    first = items[0]
    assert [p.id for p in first.parents] == archive.get(ids["ta"]).parents
    assert first.best_source.id == ids["adder"]
    assert "merge_method: task_arithmetic" in first.genotype_text


def test_code_candidate_shows_its_diff_against_the_parent(zoo):
    ws, archive, ids = zoo
    src, child = add_code(archive)
    item = awaiting_review(archive)[0]
    assert item.candidate.id == child
    assert "-lr = 0.1" in item.genotype_text and "+lr = 0.05" in item.genotype_text
    assert "util/io.py" not in item.genotype_text


def test_approve_and_reject_record_who_when_and_reach_the_summary(zoo):
    ws, archive, ids = zoo
    approved = approve(archive, ids["ta"], comment="ship it", who="ana")
    rejected = reject(archive, ids["lin"][:6], reason="copies adder", who="bo")
    assert verdict(approved) == "approved" and approved.reviews[-1].who == "ana" and approved.reviews[-1].at is not None
    assert verdict(rejected) == "rejected" and rejected.reviews[-1].comment == "copies adder"
    assert awaiting_review(archive) == []
    summary = archive.summary()
    assert f"{ids['ta']} approved by ana: ship it" in summary
    assert f"{ids['lin']} rejected by bo: copies adder" in summary


@pytest.mark.parametrize(
    "name, words", [("bad", r"its status is failed \(worker ran out of memory\)"), ("adder", "a source cannot be approved")]
)
def test_approving_a_failed_candidate_or_a_source_writes_nothing(zoo, name, words):
    ws, archive, ids = zoo
    before = archive.notes.head()
    with pytest.raises(BadInput, match=words):
        approve(archive, ids[name], who="ana")
    assert archive.notes.head() == before
    assert archive.get(ids[name]).reviews == []


def test_reject_needs_a_reason(zoo):
    ws, archive, ids = zoo
    with pytest.raises(BadInput, match="--reason is empty"):
        reject(archive, ids["ta"], reason="  ", who="ana")
    assert archive.get(ids["ta"]).reviews == []


def test_awaiting_review_top_k(zoo):
    ws, archive, ids = zoo
    assert [i.candidate.id for i in awaiting_review(archive, top=1)] == [ids["ta"]]
