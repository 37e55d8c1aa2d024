"""The in-process search loop of benchmarks/search_efficiency.py: a strategy driven as a session drives it.

Each run gets its own archive in a temporary directory (real git, as in a session), the
workspace's sources recorded in it with their per-task scores, and the session's own context
building (`agents.session.context`: archive summary, parents by the selection rule with their
reasons, lessons, in-flight proposals, budget), so an LLM strategy sees the prompts it would
see in `clade run`. What differs from a session: no sandbox (merges through ResidentMerger,
scored in this process), one proposal call per `slots` candidates, and lessons written by the
rule unless `reflect` is asked for (each LLM lesson is one more request).

A recipe naming an archived merge as a model (`candidate:<id>`, planner.evolution.space `both`)
is scored as a job would be: the candidate's recipe is registered with the scorer when the
proposal is recorded (the archive is gone when the held-out split is scored), materialised once
into a content-addressed cache (tools/merge/cache.py, in a temporary directory of the scorer's),
and used as a model of the recipe.
"""

from __future__ import annotations

import atexit
import json
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

SESSION = "bench"


class Scorer:
    """Merge in memory and evaluate, caching each (recipe, split)'s EvalResult."""

    def __init__(self, workspace):
        from tools.evaluate.api import load_suite
        from tools.merge.api import ResidentMerger

        self.suite, self.merger, self.cache, self.tokenizers = load_suite(workspace), ResidentMerger(workspace.model_paths()), {}, {}
        self.models = workspace.model_paths()
        self.derived: dict[str, dict] = {}  # `candidate:<id>` -> that candidate's recipe
        self.mergers: dict[tuple, object] = {}  # derived models' directories -> a ResidentMerger over them and the sources
        self.builds = 0  # merges materialised into the cache
        self._cache_root: Path | None = None

    def register(self, recipe: dict, archive) -> None:
        """Remember the recipes of the archived candidates `recipe` names as models (while the archive is open)."""
        from agents.derived import candidate_refs, referenced

        for name in candidate_refs(recipe):
            self.derived.setdefault(name, referenced(archive, name).genotype.recipe)

    def merger_for(self, recipe: dict):
        """The ResidentMerger over the sources and the merged candidates `recipe` names (materialised once)."""
        from agents.derived import candidate_refs, model_names
        from tools.merge.api import ResidentMerger
        from tools.merge.cache import cache_key, materialise

        names = candidate_refs(recipe)
        if not names:
            return self.merger
        if self._cache_root is None:
            self._cache_root = Path(tempfile.mkdtemp(prefix="clade-bench-cache-"))
            atexit.register(shutil.rmtree, self._cache_root, True)
        paths = {}
        for name in names:
            inner = self.derived[name]
            key = cache_key(inner, {n: self.models[n] for n in model_names(inner)}, 0)
            paths[name], built = materialise(self._cache_root, key, inner, self.models)
            self.builds += built
        key = tuple(sorted((n, str(p)) for n, p in paths.items()))
        if key not in self.mergers:
            self.mergers[key] = ResidentMerger({**self.models, **paths})
        return self.mergers[key]

    def result(self, recipe: dict, split: str):
        key = (json.dumps(recipe, sort_keys=True), split)
        if key not in self.cache:
            self.cache[key] = self._evaluate(recipe, split)
        return self.cache[key]

    def fitness(self, recipe: dict, split: str) -> float:
        return self.result(recipe, split).fitness

    def _evaluate(self, recipe: dict, split: str):
        from tools.evaluate.api import evaluate_module
        from tools.evaluate.loading import load_tokenizer

        merger = self.merger_for(recipe)
        prepared = merger.prepare(recipe)  # planned once for the merge and its tokenizer
        module = merger.apply(prepared, seed=0)
        where = str(merger.tokenizer_dir(prepared))
        tokenizer = self.tokenizers.setdefault(where, load_tokenizer(Path(where)))
        return evaluate_module(module, tokenizer, self.suite, split=split)


def source_recipe(name: str) -> dict:
    return {"merge_method": "linear", "models": [{"model": name, "parameters": {"weight": 1.0}}]}


@dataclass
class Run:
    scored: list = field(default_factory=list)  # (search fitness or -inf, recipe), in proposal order
    seconds: float = 0.0
    tokens: int = 0
    dollars: float = 0.0


def drive(strategy, workspace, scorer: Scorer, *, budget: int, slots: int, seed: int, model=None, reflect: bool = False) -> Run:
    """Run `strategy` for `budget` candidates, `slots` proposals at a time."""
    from agents.budget import Budget, BudgetConfig

    with tempfile.TemporaryDirectory(prefix="clade-bench-") as tmp:
        from archive.secrets import Redactor
        from archive.store import Archive

        with Archive.open(Path(tmp) / "archive", create=True, redactor=Redactor()) as archive:
            rt = _runtime(workspace, archive, Budget(BudgetConfig(candidates=budget)), strategy, model, scorer, seed)
            run, started = Run(), time.perf_counter()
            while len(run.scored) < budget:
                if not _round(rt, run, scorer, min(slots, budget - len(run.scored)), reflect):
                    break
            run.seconds = time.perf_counter() - started
            run.tokens, run.dollars = rt.budget.spent.tokens, rt.budget.spent.dollars
            return run


def _runtime(workspace, archive, budget, strategy, model, scorer: Scorer, seed: int):
    from agents.session.runtime import Runtime
    from archive.record import Candidate, ResultEvent

    sources = []
    for name in workspace.model_paths():
        cid = archive.record(Candidate(kind="source", genotype={"name": name, "path": str(workspace.model_paths()[name])}))
        archive.attach_result(
            cid, ResultEvent(status="succeeded", metrics={"search": _metrics(scorer.result(source_recipe(name), "search"))})
        )
        sources.append(archive.get(cid))
    return Runtime(
        workspace=workspace,
        archive=archive,
        executor=None,
        budget=budget,
        strategy=strategy,
        make_fallback=None,
        model=model,
        seed=seed,
        sources=sources,
    )


def _metrics(evaluation):
    from agents.results import split_metrics

    return split_metrics(evaluation, "search")


def _round(rt, run: Run, scorer: Scorer, wanted: int, reflect: bool) -> bool:
    """One proposal call and its candidates scored and recorded; False when the strategy has nothing more."""
    import random

    from agents.session import context
    from agents.session.lessons import lesson_for

    done = len(rt.archive.session_candidates(SESSION))
    parents = context.select_parents(rt, random.Random(f"{rt.seed}:{done}"))
    ctx = context.build_context(rt, SESSION, parents, wanted, fallback=rt.model is None)
    proposals = rt.strategy.propose(ctx)[:wanted]
    for p in proposals:
        cid = _record(rt, p, scorer, run)
        lesson, cost = lesson_for(rt.archive.get(cid), rt, fallback=not reflect)
        rt.archive.attach_result(cid, _lesson_event(lesson, cost))
    return bool(proposals)


def _record(rt, p, scorer: Scorer, run: Run) -> str:
    from archive.record import Candidate, Proposer, ResultEvent

    proposer = Proposer(
        strategy=p.strategy, model=p.model, template_hash=p.template_hash, rationale=p.rationale, session=SESSION, params=p.params
    )
    base = dict(kind="merge", parents=p.parents, genotype=p.genotype, proposer=proposer, cost=p.cost)
    duplicate = None if p.invalid else rt.archive.find_genotype(Candidate(**base).genotype_hash())
    if p.invalid or duplicate:
        reason = p.invalid or f"duplicate of {duplicate[0]}"
        cid = rt.archive.record(Candidate(**base, status="invalid" if p.invalid else "rejected", reason=reason))
        run.scored.append((float("-inf"), p.genotype.get("recipe", {})))
    else:
        cid = rt.archive.record(Candidate(**base))
        scorer.register(p.genotype["recipe"], rt.archive)
        result = scorer.result(p.genotype["recipe"], "search")
        rt.archive.attach_result(cid, ResultEvent(status="succeeded", metrics={"search": _metrics(result)}))
        run.scored.append((result.fitness, p.genotype["recipe"]))
    rt.budget.spent.candidates = len(rt.archive.session_candidates(SESSION))
    return cid


def _lesson_event(lesson: str, cost):
    from agents import results

    return results.lesson(lesson, cost)
