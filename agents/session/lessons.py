"""Reflect: a short lesson per result, kept on the candidate and fed to later proposals.

A lesson identifies the recipe exactly (archive/compact.py) and compares the result with the
candidate's parent(s), the session's best before it and the best source, overall and per task.
With an LLM (and `planner.reflect: true`) it is one short call on prompts/reflect.md, which
shows all of that and states the length limit; the call is budget-checked first and charged (its
tokens and dollars are attached to the candidate, so they count on resume). Without one, or
when the budget or the LLM says no, a rule writes it from the same comparisons:

    ties base=base: adder(weight 0.9, density 0.5), sorter(weight 0.8, density 0.5); normalize false: search fitness 0.8349
    [add 0.950, reverse 0.790, sort 0.765]. +0.0251 vs parent src-... (source adder) [add -0.010, ...]. ...

A lesson is at most MAX_LESSON characters, cut only at a sentence end (archive.compact.whole_sentences).
"""

from __future__ import annotations

from dataclasses import dataclass

from agents.errors import BudgetExceeded, LLMUnavailable
from agents.session.runtime import Runtime
from agents.strategies.fitness_tasks import fitness_metrics
from archive.compact import task_scores_text, whole_sentences
from archive.record import Candidate, Cost
from archive.summary import what

MAX_LESSON = 400


@dataclass
class Comparison:
    """Who a result is compared with: its parents, the session's best before it, the best source."""

    parents: list[Candidate]
    session_best: Candidate | None
    best_source: Candidate | None
    metric_of: dict[str, str]


def lesson_for(candidate: Candidate, rt: Runtime, *, fallback: bool) -> tuple[str, Cost]:
    cmp = comparison(candidate, rt)
    if rt.model is None or fallback or not rt.planner.reflect:
        return rule_lesson(candidate, cmp), Cost()
    try:
        return _llm_lesson(candidate, cmp, rt)
    except (BudgetExceeded, LLMUnavailable) as exc:
        return whole_sentences(f"{rule_lesson(candidate, cmp)} [rule-based: {exc}]", MAX_LESSON), Cost()


def comparison(candidate: Candidate, rt: Runtime) -> Comparison:
    session = candidate.proposer.session
    earlier = rt.history(session, fresh=False) if session else []
    earlier = [c for c in earlier if c.id != candidate.id and c.created_at <= candidate.created_at]
    return Comparison(
        parents=[rt.archive.get(p) for p in candidate.parents],
        session_best=_best(earlier),
        best_source=_best(rt.sources),
        metric_of=fitness_metrics(rt.workspace),
    )


def _best(candidates: list[Candidate]) -> Candidate | None:
    scored = [c for c in candidates if c.status == "succeeded" and c.fitness("search") is not None and not c.cut("search")]
    return min(scored, key=lambda c: (-c.fitness("search"), c.id), default=None)  # ties: the smaller id, as the report


def _llm_lesson(candidate: Candidate, cmp: Comparison, rt: Runtime) -> tuple[str, Cost]:
    from agents.prompts import render

    rt.budget.check_spend()  # not the candidate count: the candidate reflected on is counted already
    prompt = render(
        "reflect.md",
        rt.prompts_dir,
        candidate=f"{candidate.id}: {what(candidate)}",
        rationale=whole_sentences(candidate.proposer.rationale or "(none given)", MAX_LESSON),
        result=result_text(candidate, cmp),
        comparisons="\n".join(comparison_lines(candidate, cmp)) or "(nothing to compare with)",
        limit=MAX_LESSON,
    )
    reply = rt.model.query([{"role": "user", "content": prompt.text}])
    rt.budget.charge_llm(reply.tokens, reply.dollars)
    return whole_sentences(reply.text, MAX_LESSON), Cost(llm_tokens=reply.tokens, dollars=reply.dollars)


def result_text(c: Candidate, cmp: Comparison) -> str:
    if c.status != "succeeded" or c.fitness("search") is None:
        return f"{c.status}: {(c.reason or 'no reason recorded').strip()}"
    tasks = task_scores_text(c.metrics.get("search"), cmp.metric_of)
    return f"search fitness {c.fitness('search'):.4f}" + (f" [{tasks}]" if tasks else "")


def comparison_lines(c: Candidate, cmp: Comparison) -> list[str]:
    """One line per reference: `+0.0251 vs parent <id> (<what>, 0.8098) [add +0.010, ...]`. Of several parents (a
    CMA-ES member's are all its sources) only the best scored one is named: the others rarely teach anything."""
    parent = _best(cmp.parents) or (cmp.parents[0] if cmp.parents else None)
    refs = [("its best parent" if len(cmp.parents) > 1 else "parent", parent)] if parent is not None else []
    for who, other in (("the session's best before it", cmp.session_best), ("the best source", cmp.best_source)):
        if other is not None and other.id not in {r.id for _, r in refs}:
            refs.append((who, other))
    return [_versus(c, who, other, cmp.metric_of) for who, other in refs]


def _versus(c: Candidate, who: str, other: Candidate, metric_of: dict[str, str]) -> str:
    mine, theirs = c.fitness("search"), other.fitness("search")
    name = f"{other.id} ({what(other)}" + (f", {theirs:.4f})" if theirs is not None else ", not scored)")
    if mine is None or theirs is None:
        return f"{who} {name}"
    tasks = _task_deltas(c, other, metric_of)
    return f"{mine - theirs:+.4f} vs {who} {name}" + (f" [{tasks}]" if tasks else "")


def _task_deltas(a: Candidate, b: Candidate, metric_of: dict[str, str]) -> str:
    ta, tb = a.metrics.get("search"), b.metrics.get("search")
    if ta is None or tb is None:
        return ""
    parts = []
    for task, values in ta.tasks.items():
        metric = metric_of.get(task) or (next(iter(values)) if len(values) == 1 else None)
        if metric in values and metric in tb.tasks.get(task, {}):
            parts.append(f"{task} {round(values[metric] - tb.tasks[task][metric], 3) + 0.0:+.3f}")  # never "-0.000"
    return ", ".join(parts)


def rule_lesson(candidate: Candidate, cmp: Comparison) -> str:
    """The lesson without an LLM: the recipe, its result, then one sentence per comparison (kept while they fit)."""
    head = f"{what(candidate)}: {result_text(candidate, cmp)}."
    if candidate.status != "succeeded":
        return whole_sentences(head, MAX_LESSON)
    return whole_sentences(" ".join([head, *(f"{line}." for line in comparison_lines(candidate, cmp))]), MAX_LESSON)
