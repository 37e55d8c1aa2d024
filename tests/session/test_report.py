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


def _candidate(name: str | None, status: str = "succeeded", stage: str = "full", **scores):
    from archive.record import Candidate, SplitMetrics
    from tools.evaluate.result import ExampleScores

    test = SplitMetrics(
        fitness=sum(scores.values()) / len(scores),
        stage=stage,
        per_example={t: ExampleScores(metric="exact_match", values=[v, v]) for t, v in scores.items()},
    )
    if name is None:
        return Candidate(
            kind="merge", parents=["s1"], genotype={"recipe": {"merge_method": "linear"}}, status=status, metrics={"test": test}
        )
    reason = {"reason": "it broke"} if status == "failed" else {}
    return Candidate(kind="source", genotype={"name": name, "path": f"models/{name}"}, status=status, metrics={"test": test}, **reason)


def test_per_task_puts_each_task_beside_the_source_best_on_it_and_skips_cut_or_failed_sources():
    from agents.session.report import per_task, task_lines

    best = _candidate(None, add=0.95, kel_add=0.97)
    sources = [
        _candidate("adder", add=0.95, kel_add=0.0),
        _candidate("reader", add=0.05, kel_add=0.05),
        _candidate("cut", stage="cascade", add=1.0, kel_add=1.0),
        _candidate("broken", status="failed", add=1.0, kel_add=1.0),
    ]
    figures = per_task(best, sources)
    assert [(f.task, f.best, f.source, f.source_score) for f in figures] == [
        ("add", 0.95, "adder", 0.95),
        ("kel_add", 0.97, "reader", 0.05),
    ]
    lines = task_lines(summary(per_task=figures))
    assert lines[0].startswith("held-out (test split) per task: best c1")
    assert lines[1].split() == ["add", "0.9500", "adder", "0.9500"] and lines[2].split() == ["kel_add", "0.9700", "reader", "0.0500"]
    assert task_lines(summary()) == []
