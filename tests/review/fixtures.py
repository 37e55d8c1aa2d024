"""A tiny-zoo workspace with a small archive: four sources, merges (succeeded, failed), a code lineage."""

from __future__ import annotations

from pathlib import Path

from agents.init_cmd import copy_example
from agents.workspace import load_workspace
from archive.record import Candidate, Proposer, ResultEvent, SplitMetrics
from archive.secrets import Redactor
from archive.store import Archive

TA = {
    "merge_method": "task_arithmetic",
    "base_model": "base",
    "dtype": "float32",
    "parameters": {"lambda": 0.8},
    "models": [{"model": m, "parameters": {"weight": 1.0}} for m in ("adder", "reverser", "sorter")],
}
LINEAR = {
    "merge_method": "linear",
    "dtype": "float32",
    "models": [{"model": "adder", "parameters": {"weight": 0.5}}, {"model": "sorter", "parameters": {"weight": 0.5}}],
}


def metrics(search: float, test: float | None = None) -> dict:
    out = {"search": SplitMetrics(fitness=search, tasks={"add": {"acc": search}})}
    if test is not None:
        out["test"] = SplitMetrics(fitness=test, tasks={"add": {"acc": test}})
    return out


def make_workspace(root: Path):
    copy_example("tiny-zoo", root)
    return load_workspace(root)


def populate(archive: Archive) -> dict[str, str]:
    """Record the fixture candidates; returns name -> id."""
    ids = {}
    for name, fit in (("base", 0.1), ("adder", 0.3), ("reverser", 0.25), ("sorter", 0.2)):
        ids[name] = archive.record(Candidate(kind="source", genotype={"name": name, "path": f"models/{name}"}))
        archive.attach_result(ids[name], ResultEvent(status="succeeded", metrics=metrics(fit, fit - 0.05)))
    sources = [ids[n] for n in ("base", "adder", "reverser", "sorter")]
    ids["ta"] = record_merge(
        archive,
        sources,
        TA,
        "task arithmetic of all three",
        ResultEvent(status="succeeded", metrics=metrics(0.6, 0.55), logs="merged 12 tensors\nevaluated 3 tasks", cost={"compute_s": 3.5}),
    )
    ids["lin"] = record_merge(
        archive, [ids["adder"], ids["sorter"]], LINEAR, "half and half", ResultEvent(status="succeeded", metrics=metrics(0.4))
    )
    ids["bad"] = record_merge(
        archive,
        [ids["adder"]],
        {**LINEAR, "merge_method": "ties"},
        "ties",
        ResultEvent(status="failed", reason="worker ran out of memory", logs="Killed"),
    )
    return ids


def record_merge(archive: Archive, parents: list[str], recipe: dict, why: str, result: ResultEvent) -> str:
    cid = archive.record(
        Candidate(
            kind="merge",
            parents=parents,
            genotype={"recipe": recipe},
            proposer=Proposer(strategy="llm", model="scripted", rationale=why, session="s1", params={"seed": 3}),
        )
    )
    archive.attach_result(cid, result)
    return cid


def add_code(archive: Archive) -> tuple[str, str]:
    """A code source and one succeeded edit of it."""
    src = archive.record(Candidate(kind="source", genotype={"name": "seed", "files": {"train.py": "lr = 0.1\n", "util/io.py": "x = 1\n"}}))
    child = archive.record(
        Candidate(
            kind="code",
            parents=[src],
            genotype={"files": {"train.py": "lr = 0.05\n", "util/io.py": "x = 1\n"}, "command": ["python", "train.py"]},
        )
    )
    archive.attach_result(child, ResultEvent(status="succeeded", metrics=metrics(0.7)))
    return src, child


def open_archive(ws) -> Archive:
    return Archive.open(ws.path(ws.config.archive.path), create=True, redactor=Redactor())


def clade(monkeypatch, *argv: str) -> int:
    """`clade ARGV...` through the real entry point."""
    import agents.cli

    return agents.cli.main(list(argv))
