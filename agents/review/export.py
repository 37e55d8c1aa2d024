"""`clade export ID OUT_DIR`: an approved candidate as something to use outside Clade.

A merge is re-materialised from its recipe (`merge_to_dir`, the seed it was measured with)
into a Hugging Face model directory, whose README.md is replaced by Clade's model card
(agents/review/card.py). A code candidate's workspace tree is written as files. Atomic:
everything is built in a hidden sibling of OUT_DIR and renamed into place; OUT_DIR must
be absent or empty. Imports torch (through the merge engine) only when called.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

from pydantic import BaseModel

from agents.derived import merge_seed  # noqa: F401 (the seed a merge was measured with: export's, kept importable here)
from agents.review.actions import verdict
from agents.review.card import declared_license, model_card
from tools.errors import BadInput
from tools.paths import checked_target, is_under, write_error


class ExportReport(BaseModel):
    id: str
    kind: str
    out_dir: str
    seed: int | None = None
    files: list[str]


def export(workspace, archive, ref: str, out_dir: Path) -> ExportReport:
    c = archive.get(ref)
    if verdict(c) != "approved":
        state = {None: "has not been reviewed", "rejected": "was rejected"}[verdict(c)]
        raise BadInput(f"candidate {c.id}: it {state}; only an approved candidate is exported (`clade approve {c.id}` first)")
    out_dir = checked_target(out_dir)
    _check_destination(out_dir)
    staging = out_dir.parent / f".{out_dir.name}.clade-export-{uuid.uuid4().hex[:8]}"
    created = _missing_parents(out_dir)
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        seed = _export_merge(workspace, archive, c, staging) if c.kind == "merge" else _export_code(c, staging)
        _move_into_place(staging, out_dir)
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)
        for parent in created:  # nothing changed: the directories this export made go too (deepest first)
            if parent.is_dir():
                parent.rmdir()
        if isinstance(exc, OSError) and is_under(exc.filename, out_dir.parent):
            raise write_error(out_dir, exc) from None
        raise
    files = sorted(str(p.relative_to(out_dir)) for p in out_dir.rglob("*") if p.is_file())
    return ExportReport(id=c.id, kind=c.kind, out_dir=str(out_dir), seed=seed, files=files)


def _export_merge(workspace, archive, c, staging: Path) -> int:
    from agents.derived import candidate_refs, materialised_models
    from tools.evaluate.suite import WorkspaceTasks
    from tools.merge.api import load_recipe, merge_to_dir

    # a merged candidate the recipe names (`candidate:<id>`) is materialised in the workspace's merge cache first
    models = materialised_models(workspace, archive, c.genotype.recipe) if candidate_refs(c.genotype.recipe) else workspace.model_paths()
    recipe = load_recipe(c.genotype.recipe, models=models, tasks=WorkspaceTasks(workspace))
    seed = merge_seed(workspace, c)
    merge_to_dir(recipe, staging, seed=seed)
    paths = workspace.model_paths()
    licenses = {name: declared_license(paths[name]) for name in recipe.referenced_models() if name in paths}
    lineage = [archive.get(a) for a in archive.ancestors(c.id)]
    card = model_card(c, lineage, licenses, workspace=workspace.config.name, seed=seed)
    (staging / "README.md").write_text(card, encoding="utf-8")
    return seed


def _export_code(c, staging: Path) -> None:
    for rel, text in sorted(c.genotype.files.items()):
        path = (staging / rel).resolve()
        if staging.resolve() not in path.parents:
            raise BadInput(f"candidate {c.id}: file {rel!r} would be written outside OUT_DIR; the genotype is unsafe to export")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    staging.mkdir(parents=True, exist_ok=True)
    return None


def _missing_parents(out_dir: Path) -> list[Path]:
    """The ancestors of `out_dir` that do not exist yet, deepest first."""
    return [p for p in out_dir.parents if not p.exists()]


def _check_destination(out_dir: Path) -> None:
    blocking = next((p for p in out_dir.parents if p.exists() and not p.is_dir()), None)
    if blocking is not None:
        raise BadInput(f"{out_dir}: {blocking} is a file, not a directory; give an OUT_DIR whose parents are directories")
    if out_dir.exists() and not out_dir.is_dir():
        raise BadInput(f"{out_dir}: exists and is not a directory; give a new or empty directory")
    if out_dir.is_dir() and any(out_dir.iterdir()):
        raise BadInput(f"{out_dir}: exists and is not empty; give a new or empty directory (nothing was written)")


def _move_into_place(staging: Path, out_dir: Path) -> None:
    if out_dir.is_dir():
        out_dir.rmdir()  # empty, checked before building
    staging.rename(out_dir)
