"""Sandbox jobs for code candidates, and the seed tree a code search starts from.

A code candidate's job carries a `sandbox.job.CodeWork`: the worker copies the seed tree
(`code.workspace`, mounted read-only) into the job and writes the candidate's files over it
(its genotype holds the whole tree, so what the seed has is replaced), then runs the
evaluation command there. `code_job` is the one place a recorded genotype's files
(`archive.record.CodeGenotype`, or a code source's `SourceGenotype`) become the job's work
(the seed tree's path and those files); the command the job runs is the workspace's
`code.command`, expanded for the split, not the one recorded with the genotype. The evaluator and its data (`code.inputs`) are mounted read-only
at their host paths and named by absolute path in the command: they are never part of the
tree, so no edit can change them, and under bubblewrap or docker neither can the candidate's running
code (with `isolation: unshare` or `none` the mounts are not read-only: `clade sandbox doctor` says
so). The split reaches the command through `{split}`.
With `code.quick`, the command is wrapped by `agents.code.cascade` (quick check, then the
full evaluation only if it passed).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from agents.config import Workspace
from agents.jobs import job_id
from sandbox.job import CodeWork, EvaluationSpec, Job
from tools.errors import BadInput

SKIPPED_DIRS = {"__pycache__", ".git", ".clade"}
PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
RESERVED = ("python", "split")


def code_config(workspace: Workspace):
    if workspace.config.code is None:
        raise BadInput(f"{workspace.root / 'clade.yaml'}: no `code:` section; a code search needs code.workspace, editable and command")
    return workspace.config.code


def tree_dir(workspace: Workspace) -> Path:
    tree = workspace.path(code_config(workspace).workspace)
    if not tree.is_dir():
        raise BadInput(f"{workspace.root / 'clade.yaml'}: code.workspace {tree} is not a directory; point it at the seed tree")
    return tree


def seed_files(workspace: Workspace) -> dict[str, str]:
    """The seed tree as relative POSIX path -> text (recorded as the search's source)."""
    tree = tree_dir(workspace)
    files = {}
    for path in sorted(tree.rglob("*")):
        if path.is_dir() or SKIPPED_DIRS & set(path.relative_to(tree).parts) or path.suffix == ".pyc":
            continue
        try:
            files[path.relative_to(tree).as_posix()] = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise BadInput(f"{path}: not UTF-8 text; a code workspace holds text files only (move data to code.inputs)") from None
    if not files:
        raise BadInput(f"{tree}: the seed tree is empty; put the files the search edits there")
    return files


def input_paths(workspace: Workspace) -> dict[str, Path]:
    """code.inputs resolved on the host; each must exist and lie outside the editable tree."""
    tree, config = tree_dir(workspace), code_config(workspace)
    paths = {}
    for name, relative in config.inputs.items():
        path = workspace.path(relative)
        if name in RESERVED or not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name):
            raise BadInput(f"clade.yaml: code.inputs name {name!r} is reserved or not an identifier; rename it")
        if not path.exists():
            raise BadInput(f"clade.yaml: code.inputs.{name} is {path}, which does not exist")
        if path == tree or path.is_relative_to(tree) or tree.is_relative_to(path):
            raise BadInput(f"clade.yaml: code.inputs.{name} ({path}) overlaps the editable tree {tree}; keep evaluators outside it")
        paths[name] = path
    return paths


def expand(argv: list[str], values: dict[str, str], where: str) -> list[str]:
    """Fill `{name}` placeholders; an unknown one is bad input naming it."""

    def fill(match: re.Match) -> str:
        if match.group(1) not in values:
            raise BadInput(f"clade.yaml: {where} uses {{{match.group(1)}}}, which is none of {', '.join('{' + k + '}' for k in values)}")
        return values[match.group(1)]

    return [PLACEHOLDER.sub(fill, arg) for arg in argv]


def evaluation_argv(workspace: Workspace, split: str) -> list[str]:
    """The argv the worker runs: the command, or the cascade wrapper around quick check and command."""
    config = code_config(workspace)
    values = {"python": sys.executable, "split": split, **{k: str(v) for k, v in input_paths(workspace).items()}}
    full = expand(config.command, values, "code.command")
    if config.quick is None:
        return full
    spec = {
        "quick": expand(config.quick.command, values, "code.quick.command"),
        "full": full,
        "threshold": config.quick.threshold,
        "key": config.fitness_key,
    }
    # -P: the job's directory (the candidate's tree) is not put on sys.path, so no file of the candidate
    # can stand in for the cascade, Clade or the standard library.
    return [sys.executable, "-P", "-m", "agents.code.cascade", json.dumps(spec)]


def code_job(workspace: Workspace, candidate_id: str, files: dict[str, str], *, split: str = "search", seed: int = 0, gpus: int = 0) -> Job:
    """The job measuring a code candidate (or the code search's source) on `split`: its genotype's files over the seed tree."""
    config = code_config(workspace)
    return Job(
        id=job_id(candidate_id, split),
        work=CodeWork(tree=str(tree_dir(workspace)), files=files),
        models={f"input-{k}": str(v) for k, v in input_paths(workspace).items()},
        evaluation=EvaluationSpec(
            command=evaluation_argv(workspace, split), split=split, timeout_s=config.timeout_s, fitness_key=config.fitness_key
        ),
        limits=workspace.config.sandbox.limits,
        device={"gpus": gpus},
        seed=seed,
    )
