"""The roots of a search: the workspace's sources (and its base model, named `base`), recorded once
as `source` candidates and measured on the search and the held-out split.

A merge workspace's source `NAME` is measured as `source_recipe(NAME)` (a linear merge of
that one model, weight 1: the model exactly); a code workspace has one source, its seed tree
(`code.workspace`), measured by its evaluation command. The base is measured like a source
so the planner sees what the task vectors start from; it is a root of every merge that takes it. Sources are found again by their
genotype hash, so every session of a workspace shares them; a source missing a split's
fitness (a kill while measuring, or a failed measurement: a transient fault or a config mistake
since fixed) is measured again by the next session, and `clade sources --remeasure` measures
them again on demand. They never count against a budget.
"""

from __future__ import annotations

from agents import results
from agents.config import Workspace
from agents.session.executor import Executor, build_job
from archive.record import Candidate, SourceGenotype

SPLITS = ("search", "test")


def source_genotypes(workspace: Workspace) -> list[SourceGenotype]:
    code = workspace.config.code
    if code is not None:
        from agents.code.jobs import seed_files

        return [SourceGenotype(name=workspace.config.name, path=code.workspace, files=seed_files(workspace))]
    roots = [SourceGenotype(name=s.name, path=s.path) for s in workspace.config.sources]
    if workspace.config.base is not None and "base" not in {s.name for s in workspace.config.sources}:
        roots.insert(0, SourceGenotype(name="base", path=workspace.config.base))
    return roots


def record_sources(workspace: Workspace, archive) -> list[Candidate]:
    """The source candidates, recorded the first time (status `proposed` until measured)."""
    found = []
    for genotype in source_genotypes(workspace):
        probe = Candidate(kind="source", genotype=genotype)
        ids = archive.find_genotype(probe.genotype_hash())
        found.append(archive.get(ids[0] if ids else archive.record(probe)))
    return found


def measure_sources(
    workspace: Workspace,
    archive,
    executor: Executor,
    sources: list[Candidate],
    *,
    seed: int,
    display=None,
    evaluation=None,
    force: bool = False,
) -> list[Candidate]:
    """Run every missing (source, split) measurement as one parallel batch (`force`: every one); failures are
    recorded, not raised. A source whose search measurement failed is missing it, so it is measured again."""
    gpus, suite = 1 if executor.gpus else 0, workspace.config.code is None
    jobs = [
        (c, split, build_job(workspace, c, split=split, seed=seed, gpus=gpus, evaluation=evaluation))
        for c in sources
        for split in SPLITS
        if force or _missing(c, split, suite)
    ]
    if jobs and display is not None:
        display.line(f"measuring {len(sources)} source(s) on {', '.join(SPLITS)}: {len(jobs)} job(s)")
    ended = executor.run([job for _, _, job in jobs]) if jobs else {}
    for c, split, job in jobs:  # the search split decides the source's status (selection uses it); a failed
        reason = results.attach(archive, c.id, ended[job.id], split)  # held-out one is tried again next session
        if display is not None:
            fitness = archive.get(c.id).fitness(split)
            said = f"fitness {fitness:.4f}" if reason is None and fitness is not None else f"failed: {reason}"
            display.line(f"source {c.genotype.name} on {split}: {said}")
    return [archive.get(c.id) for c in sources]


def _missing(c: Candidate, split: str, suite: bool) -> bool:
    """Not measured on `split`, or (held out, on a task suite) measured by older code without the per-example
    scores the report's intervals need."""
    m = c.metrics.get(split)
    if m is None or m.fitness is None:
        return True
    return suite and split == "test" and bool(m.tasks) and not m.per_example
