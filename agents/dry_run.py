"""`clade run --dry-run`: what a session would do, and nothing recorded.

It resolves what `clade run` would run (strategy, seed, budget, backend, slots, selection,
the LLM), checks the sources and the evaluation tasks as the session would read them, and
asks the strategy for its first round of proposals (one per slot), exactly as the session's
propose node does. Nothing is written to the workspace: no archive, no session record, no
checkpoint; no job runs and no source is measured. The proposals are drawn against the
workspace's archive when it already holds the sources, else against a throwaway archive in
a temporary directory (so their parents are ids no archive keeps: the source names are
shown beside them). A strategy that would call a paid LLM is not asked (a dry run spends
nothing); a `scripted:` model is.
"""

from __future__ import annotations

import random
import tempfile
from contextlib import contextmanager
from pathlib import Path

from pydantic import BaseModel

from agents.budget import Budget, Spend


class SourceLine(BaseModel):
    name: str
    path: str
    problem: str | None = None  # why the session could not use it
    id: str | None = None  # the candidate that records it, when the archive has it
    search: float | None = None
    test: float | None = None


class ProposalLine(BaseModel):
    parents: list[str]
    strategy: str
    rationale: str
    genotype: dict


class DryRun(BaseModel):
    workspace: str
    strategy: str
    seed: int
    backend: str
    slots: int
    budget: str
    selection: str
    llm: str | None
    settings: dict
    sources: list[SourceLine]
    tasks: list[dict]
    proposals: list[ProposalLine]
    proposals_note: str | None = None
    archive: str  # what the archive holds now, or that there is none


def dry_run(workspace, record, strategy, model) -> DryRun:
    """The plan of the session `record` (not saved) with `strategy` and `model` (None: no LLM)."""
    planner = workspace.config.planner
    slots = _slots(workspace, record.backend)
    with _workspace_archive(workspace) as (archive, state):
        sources = _sources(workspace, archive)
        if archive is not None and all(s.id for s in sources):
            proposals, note = _proposals(workspace, record, strategy, model, archive, slots, ids=True)
        else:
            with _throwaway_archive() as scratch:  # its ids mean nothing outside it: parents are shown by name
                proposals, note = _proposals(workspace, record, strategy, model, scratch, slots, ids=False)
    llm = planner.llm.model if planner.llm is not None and record.strategy in ("llm", "hybrid") else None
    return DryRun(
        workspace=str(workspace.root),
        strategy=record.strategy,
        seed=record.seed,
        backend=record.backend,
        slots=slots,
        budget=record.budget.describe(),
        selection=f"{planner.selection.rule}, {planner.selection.parents} parent(s)",
        llm=llm,
        settings=_settings(workspace, record.strategy),
        sources=sources,
        tasks=_tasks(workspace),
        proposals=proposals,
        proposals_note=note,
        archive=state,
    )


def _slots(workspace, backend: str) -> int:
    import os

    from sandbox.scheduler import detect_gpus

    gpus = [] if backend == "ray" else detect_gpus(workspace.config.sandbox.gpus, os.environ)
    return len(gpus) or workspace.config.sandbox.cpu_concurrency


@contextmanager
def _workspace_archive(workspace):
    """(the workspace's archive, only read; None when there is none yet), and what it holds."""
    from archive.store import Archive

    path = workspace.path(workspace.config.archive.path)
    if not path.exists():
        yield None, f"{path}: none yet (the first `clade run` creates it)"
        return
    with Archive.open(path, fsync=False) as archive:
        count = archive.index.query("SELECT COUNT(*) FROM candidates")[0][0]
        yield archive, f"{path}: {count} candidates (read, not written)"


@contextmanager
def _throwaway_archive():
    from archive.store import Archive

    with tempfile.TemporaryDirectory(prefix="clade-dry-run-") as tmp:
        with Archive.open(Path(tmp) / "archive", create=True) as archive:
            yield archive


def _sources(workspace, archive) -> list[SourceLine]:
    from agents.session.sources import source_genotypes
    from archive.record import Candidate

    lines = []
    for genotype in source_genotypes(workspace):
        ids = archive.find_genotype(Candidate(kind="source", genotype=genotype).genotype_hash()) if archive is not None else []
        found = archive.get(ids[0]) if ids else None
        lines.append(
            SourceLine(
                name=genotype.name,
                path=genotype.path,
                problem=_source_problem(workspace, genotype),
                id=found.id if found else None,
                search=found.fitness("search") if found else None,
                test=found.fitness("test") if found else None,
            )
        )
    return lines


def _source_problem(workspace, genotype) -> str | None:
    if workspace.config.code is not None:
        return None
    path = workspace.path(genotype.path)
    if not path.is_dir():
        return f"{path} does not exist"
    return None if (path / "config.json").is_file() else f"{path} has no config.json"


def _tasks(workspace) -> list[dict]:
    if workspace.config.code is not None:
        return [{"name": "command", "command": " ".join(workspace.config.code.command)}]
    from tools.evaluate.suite import load_suite

    return [
        {
            "name": t.name,
            "kind": t.spec.kind,
            "metric": t.spec.fitness_metric,
            "weight": t.weight,
            "examples": {split: len(t.examples(split)) for split in t.spec.data},
        }
        for t in load_suite(workspace).tasks
    ]


def _settings(workspace, strategy: str) -> dict:
    planner = workspace.config.planner
    if workspace.config.code is not None:
        return {"code": workspace.config.code.model_dump(include={"workspace", "editable", "command"})}
    if strategy in ("evolution", "random", "hybrid"):
        return {
            "evolution": planner.evolution.model_dump(include={"method", "space", "layer_groups", "population", "sigma", "generations"})
        }
    if strategy == "gradient":
        return {"gradient": planner.gradient.model_dump()}
    return {"repair_rounds": planner.repair_rounds}


def _proposals(workspace, record, strategy, model, archive, slots: int, *, ids: bool):
    from agents.llm.scripted_file import is_scripted

    if model is not None and not is_scripted(model.name):
        return [], f"not drawn: the {record.strategy} strategy would ask {model.name}, and a dry run spends nothing"
    if workspace.config.code is None and any(_source_problem(workspace, g) for g in _genotypes(workspace)):
        return [], "not drawn: a source is missing (see above)"
    ctx = _context(workspace, record, archive, slots, model)
    drawn = strategy.propose(ctx)[:slots]
    names = {c.id: c.genotype.name for c in ctx.sources}
    label = lambda p: p if p not in names else f"{p} ({names[p]})" if ids else names[p]
    return [
        ProposalLine(parents=[label(p) for p in d.parents], strategy=d.strategy, rationale=d.invalid or d.rationale, genotype=d.genotype)
        for d in drawn
    ], None


def _genotypes(workspace):
    from agents.session.sources import source_genotypes

    return source_genotypes(workspace)


def _context(workspace, record, archive, slots: int, model):
    """The Context the session's first propose node would build (`archive` holds the sources, or is a throwaway one)."""
    from agents.chat.brief import read_brief
    from agents.session.sources import record_sources
    from agents.strategy import Context

    sources = record_sources(workspace, archive)  # finds them in the workspace's archive; records them only in a throwaway one
    return Context(
        workspace=workspace,
        archive=archive,
        session=record.id,
        budget=Budget(record.budget, Spend()),
        rng=random.Random(f"{record.seed}:0"),
        wanted=slots,
        history=[],
        sources=sources,
        parents=[],
        summary=archive.summary(max_tokens=1500),
        brief=read_brief(workspace),
        lessons=[],
        model=model,
    )


def dry_run_text(d: DryRun) -> str:
    fit = lambda v: "-" if v is None else f"{v:.4f}"
    lines = [
        f"dry run of `clade run` in {d.workspace}: nothing is recorded, no job runs",
        f"strategy  {d.strategy} (seed {d.seed})" + (f", LLM {d.llm}" if d.llm else ""),
        f"budget    {d.budget}",
        f"sandbox   {d.backend}, {d.slots} slot(s)",
        f"selection {d.selection}",
        *(f"settings  {key}: {value}" for key, value in d.settings.items()),
        f"archive   {d.archive}",
        "sources:",
    ]
    for s in d.sources:
        state = (
            f"PROBLEM: {s.problem}"
            if s.problem
            else f"{s.id}: search {fit(s.search)}, test {fit(s.test)}"
            if s.id
            else "not recorded yet (measured on search and test when the session starts)"
        )
        lines.append(f"  {s.name} ({s.path}): {state}")
    lines.append("tasks:")
    lines += [
        f"  {t['name']}: {t['command']}"
        if "command" in t
        else f"  {t['name']} ({t['kind']}, fitness metric {t['metric']}, weight {t['weight']:g}): "
        + ", ".join(f"{n} {split}" for split, n in t["examples"].items())
        + " examples"
        for t in d.tasks
    ]
    lines.append(
        f"first proposals ({len(d.proposals)}):"
        + (
            f" {d.proposals_note}"
            if d.proposals_note
            else " (as the session's first round draws them; a real session mixes its own id into the seed: same kind, other numbers)"
        )
    )
    for i, p in enumerate(d.proposals, 1):
        lines.append(f"  {i}. {p.strategy} from {', '.join(p.parents)}: {p.rationale}")
        lines += [f"     {line}" for line in _genotype_lines(p.genotype)]
    return "\n".join(lines)


def _genotype_lines(genotype: dict) -> list[str]:
    import yaml

    class NoAliases(yaml.SafeDumper):
        def ignore_aliases(self, data) -> bool:
            return True

    if "recipe" in genotype:
        return yaml.dump(genotype["recipe"], Dumper=NoAliases, sort_keys=False, default_flow_style=None, width=120).splitlines()
    return [f"files: {', '.join(sorted(genotype.get('files', {})))}"]
