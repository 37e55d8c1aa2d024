"""Reflect: a short lesson per result, kept on the candidate and fed to later proposals.

With an LLM (and `planner.reflect: true`) the lesson is one short call on
prompts/reflect.md, budget-checked first and charged (its tokens and dollars are attached
to the candidate, so they count on resume). Without one, or when the budget or the LLM
says no, a rule writes it: "ties 3 models (weight .5/.3/.2): 0.8123 (+0.0120 vs parent)".
"""

from __future__ import annotations

import json

from agents.errors import BudgetExceeded, LLMUnavailable
from agents.session.runtime import Runtime
from archive.record import Candidate, Cost

MAX_LESSON = 400


def lesson_for(candidate: Candidate, rt: Runtime, *, fallback: bool) -> tuple[str, Cost]:
    parents = [rt.archive.get(p) for p in candidate.parents]
    if rt.model is None or fallback or not rt.planner.reflect:
        return rule_lesson(candidate, parents), Cost()
    try:
        return _llm_lesson(candidate, parents, rt)
    except (BudgetExceeded, LLMUnavailable) as exc:
        return f"{rule_lesson(candidate, parents)} [rule-based: {exc}]", Cost()


def _llm_lesson(candidate: Candidate, parents: list[Candidate], rt: Runtime) -> tuple[str, Cost]:
    from agents.prompts import render

    rt.budget.check_spend()  # not the candidate count: the candidate reflected on is counted already
    prompt = render("reflect.md", rt.prompts_dir, candidate=_describe(candidate), result=_result(candidate),
                    parents="\n".join(f"{p.id}: {_describe(p)} -> {_result(p)}" for p in parents) or "(none)")
    reply = rt.model.query([{"role": "user", "content": prompt.text}])
    rt.budget.charge_llm(reply.tokens, reply.dollars)
    return _short(" ".join(reply.text.split())), Cost(llm_tokens=reply.tokens, dollars=reply.dollars)


def rule_lesson(candidate: Candidate, parents: list[Candidate]) -> str:
    what = _describe(candidate)
    if candidate.status != "succeeded":
        return _short(f"{what}: {candidate.status} ({(candidate.reason or 'no reason').splitlines()[0]})")
    fitness = candidate.fitness("search")
    best_parent = max((p.fitness("search") for p in parents if p.fitness("search") is not None), default=None)
    delta = "" if best_parent is None else f" ({fitness - best_parent:+.4f} vs parent)"
    return _short(f"{what}: {fitness:.4f}{delta}")


def _short(text: str) -> str:
    return text if len(text) <= MAX_LESSON else f"{text[:MAX_LESSON]} [... {len(text) - MAX_LESSON} characters cut]"


def _describe(c: Candidate) -> str:
    if c.kind == "source":
        return f"source {c.genotype.name}"
    if c.kind == "code":
        return f"code edit of {', '.join(sorted(c.genotype.files)[:3]) or 'no files'}"
    recipe = c.genotype.recipe
    models = [m.get("model") for m in recipe.get("models", []) if isinstance(m, dict)]
    params = [json.dumps(m.get("parameters", {}), separators=(",", ":")) for m in recipe.get("models", []) if isinstance(m, dict)]
    return f"{recipe.get('merge_method', '?')} {'/'.join(map(str, models)) or 'layer path'} {' '.join(params)}".strip()


def _result(c: Candidate) -> str:
    if c.status == "succeeded":
        return f"succeeded, search fitness {c.fitness('search'):.4f}"
    return f"{c.status}: {c.reason or ''}"
