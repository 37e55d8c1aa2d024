"""The final report's sentence: every figure names its split, intervals where there are per-example scores."""

from __future__ import annotations

from agents.session.report import HeldOutComparison, SourceFigure, Summary, sentence


def summary(**fields) -> Summary:
    base = dict(
        session="s-1",
        candidates=5,
        succeeded=3,
        failed=1,
        invalid=1,
        rejected=0,
        best_id="c1",
        best_search_fitness=0.85,
        best_test_fitness=0.833,
        best_test_interval=[0.82, 0.846],
        best_search_source=SourceFigure(name="sorter", id="s1", search_fitness=0.81, test_fitness=0.7985),
        best_test_source=SourceFigure(name="adder", id="s2", search_fitness=0.809, test_fitness=0.8009),
        vs_best_search_source=HeldOutComparison(source="sorter", difference=0.0345, interval=[0.02, 0.05]),
        vs_best_test_source=HeldOutComparison(source="adder", difference=0.0321, interval=[0.016, 0.048]),
    )
    return Summary(**{**base, **fields})


def test_sentence_names_the_splits_both_sources_and_the_intervals():
    text = sentence(summary())
    assert text.startswith("session s-1: 5 candidates (3 succeeded, 1 failed, 1 invalid, 0 rejected); ")
    assert "best c1 (chosen on the search split, 0.8500): held-out (test split) fitness 0.8330 (95% CI 0.8200 to 0.8460)" in text
    assert "vs sorter (the source best on the search split, held-out 0.7985): +0.0345 (95% CI +0.0200 to +0.0500)" in text
    assert "vs adder (the source best held out, held-out 0.8009): +0.0321 (95% CI +0.0160 to +0.0480)" in text


def test_one_source_best_on_both_splits_is_named_once_and_a_missing_interval_is_said():
    same = SourceFigure(name="adder", id="s2", search_fitness=0.82, test_fitness=0.8009)
    text = sentence(
        summary(
            best_search_source=same,
            best_test_source=same,
            best_test_interval=None,
            vs_best_search_source=HeldOutComparison(source="adder", difference=0.03, interval=None),
        )
    )
    assert text.count("vs adder") == 1 and "(the source best on the search split and held out, held-out 0.8009)" in text
    assert "fitness 0.8330 (no interval: no per-example scores)" in text


def test_no_success_is_said_plainly():
    assert sentence(summary(best_id=None, succeeded=0)).endswith("; no candidate succeeded")
