"""The chat's `propose` tool: validate a merge recipe or code tree and record it as a queued candidate.

A proposal is recorded with status `proposed`, proposer strategy "chat" and no session, so
`archive.queued()` lists it and the next `clade run` runs it first. `run_now` runs a merge
at once through the workspace's sandbox backend and attaches the result (search split).
A merge's parents default to the source candidates of the clade.yaml sources its recipe
names, found by genotype hash exactly as `clade run` records them (recorded when missing).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from archive.record import Candidate, Proposer, SourceGenotype
from tools.errors import BadInput


class ProposeArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["merge", "code"] = "merge"
    recipe: dict[str, Any] | None = None
    files: dict[str, str] | None = None
    command: list[str] | None = None
    parents: list[str] | None = None
    rationale: str = Field("", max_length=4000)
    run_now: bool = False


def propose(tools, a: ProposeArgs) -> dict:
    ws, archive = tools.workspace, tools.archive
    genotype, parents = _merge(tools, a) if a.kind == "merge" else _code(tools, a)
    seed = ws.config.planner.seed
    candidate = Candidate(
        kind=a.kind,
        parents=parents,
        genotype=genotype,
        proposer=Proposer(
            strategy="chat",
            model=tools.model_name,
            template_hash=tools.template_hash,
            rationale=a.rationale,
            params=_params(tools.who, seed if a.run_now and a.kind == "merge" else None),
        ),
    )
    same = archive.find_genotype(candidate.genotype_hash())
    if same:
        raise BadInput(f"propose: the same genotype is already candidate {same[0]} ({archive.get(same[0]).status}); propose something new")
    cid = archive.record(candidate)
    if not a.run_now:
        return {"id": cid, "status": "proposed", "queued": True, "parents": parents}
    if a.kind == "code":
        return {
            "id": cid,
            "status": "proposed",
            "queued": True,
            "parents": parents,
            "note": "run_now runs merge candidates only; this code candidate waits for the next `clade run`",
        }
    return run_merge(tools, cid, genotype["recipe"], seed)


def _params(who: str, seed: int | None) -> dict:
    """Who asked; the seed only when the chat runs it (a queued candidate runs at its session's seed)."""
    return {"who": who} if seed is None else {"who": who, "seed": seed}


def _merge(tools, a: ProposeArgs) -> tuple[dict, list[str]]:
    from tools.evaluate.suite import WorkspaceTasks
    from tools.merge.api import load_recipe

    if a.recipe is None or a.files is not None:
        raise BadInput("propose: a merge proposal needs `recipe` (a mergekit-style mapping) and no `files`")
    models = tools.workspace.model_paths()
    recipe = load_recipe(a.recipe, models=models, tasks=WorkspaceTasks(tools.workspace))
    unknown = [m for m in recipe.referenced_models() if m not in models]
    if unknown:
        raise BadInput(f"propose: the recipe names {', '.join(map(repr, unknown))}, not a model of this workspace ({', '.join(models)})")
    parents = a.parents or source_ids(tools.archive, tools.workspace, list(dict.fromkeys(recipe.referenced_models())))
    return {"recipe": a.recipe}, parents


def _code(tools, a: ProposeArgs) -> tuple[dict, list[str]]:
    code = tools.workspace.config.code
    if code is None:
        raise BadInput("propose: this workspace has no code: section in clade.yaml, so it searches merges only; propose a recipe")
    if a.command is not None and a.command != code.command:
        raise BadInput(
            f"propose: `command` must be clade.yaml's code.command {code.command} (the judge is not the candidate's to choose); leave it out"
        )
    bad = [path for path in (a.files or {}) if not _editable(path, code.editable)]
    if bad:
        raise BadInput(f"propose: {', '.join(sorted(bad))} may not be written; files must match code.editable {code.editable}")
    command = code.command
    if not a.files or a.recipe is not None or not a.parents:
        raise BadInput("propose: a code proposal needs `files` (path -> text), `parents` (the candidate it edits) and no `recipe`")
    if not command:
        raise BadInput("propose: a code proposal needs `command` (clade.yaml has no code: section to take it from)")
    return {"files": a.files, "command": command}, a.parents


def _editable(path: str, globs: list[str]) -> bool:
    from tools.edit.apply import glob_matches
    from tools.tree_paths import plain_path

    return plain_path(path) and any(glob_matches(path, g) for g in globs)


def source_ids(archive, workspace, names: list[str]) -> list[str]:
    """The source candidates of the clade.yaml sources a recipe names (the base is not a source),
    found by genotype hash as `clade run` records them, and recorded when the archive lacks one."""
    declared = {s.name: s.path for s in workspace.config.sources}
    ids = []
    for name in (n for n in names if n in declared):
        probe = Candidate(kind="source", genotype=SourceGenotype(name=name, path=declared[name]))
        found = archive.find_genotype(probe.genotype_hash())
        ids.append(found[0] if found else archive.record(probe))
    if not ids:
        raise BadInput(f"propose: the recipe names none of the sources in clade.yaml ({', '.join(declared)}); merge at least one")
    return ids


def run_merge(tools, cid: str, recipe: dict, seed: int) -> dict:
    """Run the candidate now (search split) and attach its result."""
    from agents import results
    from agents.jobs import merge_job
    from sandbox.api import make_backend

    ws = tools.workspace
    sandbox = tools.sandbox or make_backend(ws.config.sandbox)
    tools.archive.attach_result(cid, results.running())
    try:
        result = sandbox.execute(merge_job(ws, cid, recipe, split="search", seed=seed))
    except BaseException as exc:  # the archive must not say "running" for a job that never ran
        tools.archive.attach_result(cid, results.not_run(exc))
        if not isinstance(exc, BadInput):
            raise
    else:
        results.attach(tools.archive, cid, result, "search")
    c = tools.archive.get(cid)
    return {
        "id": cid,
        "status": c.status,
        "fitness": c.fitness("search"),
        "reason": c.reason,
        "tasks": c.metrics["search"].tasks if "search" in c.metrics else {},
    }
