"""The merge engine's public API: load_recipe, check and RecipeChecker (a recipe planned once), merge_to_dir,
ResidentMerger (see README.md)."""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel

from tools.device import check_device
from tools.merge.calibrate import collect
from tools.merge.checker import RecipeChecker, check
from tools.merge.execute import TensorReader, stream
from tools.merge.output import copy_tokenizer, model_card, save_tokenizer, write_recipe
from tools.merge.prepare import Prepared, load_recipe, prepare
from tools.merge.recipe import Recipe
from tools.merge.resident import ResidentMerger
from tools.merge.tensorfile import OutSpec
from tools.merge.writer import DEFAULT_SHARD_BYTES, ShardedWriter
from tools.paths import (
    checked_target,
    destination_state,
    is_under,
    replace_output,
    write_error,
    write_marker,
)

Progress = Callable[..., None]  # progress(advance, note="", total=None): tools.progress.TerminalProgress, or a test's recorder

__all__ = ["MergeReport", "Recipe", "RecipeChecker", "ResidentMerger", "check", "load_recipe", "merge_to_dir"]


class MergeReport(BaseModel):
    """What a merge did: where, how, how much, how long."""

    out_dir: str
    method: str
    seed: int
    device: str
    tensors: int
    layers: int
    shards: int
    bytes_read: int
    bytes_written: int
    seconds: float
    tokenizer_from: str | None
    tokenizer_files: list[str]
    warnings: list[str] = []


def merge_to_dir(
    recipe: Recipe,
    out_dir: Path,
    *,
    device: str = "cpu",
    seed: int = 0,
    max_shard_bytes: int = DEFAULT_SHARD_BYTES,
    progress: Progress | None = None,
) -> MergeReport:
    """Merge into a Hugging Face model directory, atomically: nothing appears at out_dir on failure.
    `progress(1, note=tensor name, total=tensors)` is called after each tensor is written."""
    started = time.perf_counter()
    check_device(device)
    out_dir = checked_target(out_dir)
    _check_destination(out_dir)
    prepared = prepare(recipe)
    tmp = out_dir.parent / f".{out_dir.name}.clade-tmp-{uuid.uuid4().hex[:8]}"
    made = [p for p in tmp.parents if not p.exists()]  # parents this merge creates, removed again on failure
    try:
        tmp.mkdir(parents=True)
        reader, writer = _write_weights(prepared, tmp, device, seed, max_shard_bytes, progress)
        files = _write_extras(prepared, tmp, seed)
        write_marker(tmp, "clade merge")
        replace_output(tmp, out_dir, "clade merge")
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        for parent in made:
            _remove_if_empty(parent)
        if isinstance(exc, OSError) and is_under(exc.filename, out_dir.parent):
            raise write_error(out_dir, exc) from None
        raise
    return MergeReport(
        out_dir=str(out_dir),
        method=prepared.method.name,
        seed=seed,
        device=device,
        tensors=len(prepared.plans),
        layers=_layers(prepared),
        shards=len(writer.shards),
        bytes_read=reader.bytes_read,
        bytes_written=sum(s.nbytes for s in _specs(prepared)),
        seconds=round(time.perf_counter() - started, 3),
        tokenizer_from=prepared.tokenizer.name if files else None,
        tokenizer_files=files,
        warnings=prepared.warnings,
    )


def _specs(prepared: Prepared) -> list[OutSpec]:
    return [OutSpec(p.name, p.out_dtype, p.shape) for p in prepared.plans]


def _layers(prepared: Prepared) -> int:
    """Output layers, summed over the parts of a multi-part model."""
    from tools.merge.sources import config_layer_count

    if len(prepared.template.parts) > 1:
        return sum(prepared.template.parts.values())
    return config_layer_count(prepared.config, "output")


def _write_weights(prepared: Prepared, tmp: Path, device: str, seed: int, max_shard_bytes: int, progress: Progress | None):
    reader = TensorReader(prepared.sources, device)
    stats = collect(prepared, reader, seed)
    writer = ShardedWriter(tmp, _specs(prepared), max_shard_bytes)
    try:
        for plan, tensor in stream(prepared.plans, reader, prepared.method, seed, workers=_workers(), stats=stats):
            writer.write(plan.name, tensor)
            if progress is not None:
                progress(1, note=plan.name, total=len(prepared.plans))
        writer.close()
    except BaseException:
        writer.abort()
        raise
    return reader, writer


def _workers() -> int:
    return max(1, min(2, os.cpu_count() or 1))


def _write_extras(prepared: Prepared, tmp: Path, seed: int) -> list[str]:
    (tmp / "config.json").write_text(json.dumps(prepared.config, indent=2) + "\n", encoding="utf-8")
    files = (
        save_tokenizer(prepared.output_tokenizer, tmp) if prepared.output_tokenizer is not None else copy_tokenizer(prepared.tokenizer, tmp)
    )
    write_recipe(prepared.recipe, tmp)
    (tmp / "README.md").write_text(model_card(prepared.recipe, prepared.sources, seed), encoding="utf-8")
    return files


def _check_destination(out_dir: Path) -> str:
    """'new', 'empty' or 'replaces a previous output'; only a directory `clade merge` wrote (its
    marker file, tools/paths.py) may be replaced, and then only the files it wrote."""
    return destination_state(out_dir, "clade merge")


def _remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass
