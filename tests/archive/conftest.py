"""Fixtures for the archive tests: real bare git repositories in tmp_path, no mocks."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from archive import Archive, Candidate, Proposer, ResultEvent, SplitMetrics
from archive.secrets import Redactor

SECRET = "s3cr3t-value-from-the-environment"


def open_archive(path: Path) -> Archive:
    return Archive.open(path, create=True, redactor=Redactor([SECRET]))


@pytest.fixture
def archive(tmp_path: Path):
    with open_archive(tmp_path / "archive") as a:
        yield a


def source(archive: Archive, name: str) -> str:
    return archive.record(Candidate(kind="source", genotype={"name": name, "path": f"/models/{name}"}))


def recipe(*models: str, method: str = "linear", weight: float = 0.5) -> dict:
    return {"merge_method": method, "models": [{"model": m, "parameters": {"weight": weight}} for m in models], "dtype": "float32"}


def merge(archive: Archive, parents: list[str], *, weight: float = 0.5, strategy: str = "evolution", **fields) -> str:
    genotype = {"recipe": recipe(*parents, weight=weight)}
    return archive.record(Candidate(kind="merge", parents=parents, genotype=genotype, proposer=Proposer(strategy=strategy), **fields))


def succeed(archive: Archive, cid: str, fitness: float, split: str = "search", **tasks: dict) -> None:
    archive.attach_result(cid, ResultEvent(status="succeeded", metrics={split: SplitMetrics(fitness=fitness, tasks=tasks)}))


def git(repo: Path, *argv: str) -> str:
    return subprocess.run(["git", "--git-dir", str(repo), *argv], check=True, capture_output=True, text=True).stdout


def git_fsck_ok(repo: Path) -> bool:
    done = subprocess.run(["git", "--git-dir", str(repo), "fsck", "--strict", "--no-dangling"], capture_output=True, text=True)
    return done.returncode == 0 and "error" not in done.stderr.lower()
