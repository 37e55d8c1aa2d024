"""`clade merge RECIPE OUT_DIR --dry-run`: what a merge would do, without writing anything.

The plan is made exactly as the merge makes it (`prepare`: headers only), then summarised:
output tensors (merged by the method, or copied), what is read from each source, the bytes
written and in how many shards, the peak memory and the time. The estimates are honest about
being estimates:
- memory: the merge keeps `workers + 1` output tensors in flight (tools.merge.execute.stream),
  each holding its inputs, its base and its result in the compute dtype; the peak is that
  window over the largest tensors.
- time: one merged tensor of median size is really read and merged (the calibration); the
  rest is scaled by input elements and divided by the workers. Reading from a cold disk,
  or a device other than the one timed, can differ.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from pydantic import BaseModel

from tools.merge.execute import TensorReader, compute
from tools.merge.prepare import prepare
from tools.merge.recipe import Recipe
from tools.merge.tensorfile import assign_shards
from tools.merge.writer import DEFAULT_SHARD_BYTES


class SourceRead(BaseModel):
    name: str
    path: str
    tensors: int
    bytes: int


class MergePlanReport(BaseModel):
    method: str
    seed: int
    device: str
    tensors: int
    merged: int
    copied: int
    layers: int
    compute_dtype: str
    out_dtype: str
    sources: list[SourceRead]
    bytes_read: int
    bytes_written: int
    shards: int
    peak_memory_bytes: int
    estimated_seconds: float
    calibrated_on: str | None
    out_dir: str
    out_dir_state: str  # new | empty | replaces a previous merge


def plan_merge(
    recipe: Recipe, out_dir: Path, *, device: str = "cpu", seed: int = 0, workers: int = 2, max_shard_bytes: int = DEFAULT_SHARD_BYTES
) -> MergePlanReport:
    from tools.device import check_device
    from tools.merge.api import _check_destination, _layers, _specs

    check_device(device)
    from tools.paths import checked_target

    out_dir = checked_target(out_dir)
    state = _check_destination(out_dir)
    prepared = prepare(recipe)
    merged = [p for p in prepared.plans if not p.copy]
    seconds, timed = _estimate_seconds(prepared, device, seed, workers)
    specs = _specs(prepared)
    return MergePlanReport(
        method=prepared.method.name,
        seed=seed,
        device=device,
        tensors=len(prepared.plans),
        merged=len(merged),
        copied=len(prepared.plans) - len(merged),
        layers=_layers(prepared),
        compute_dtype=_dtype_name(merged[0].compute_dtype if merged else None),
        out_dtype=_dtype_name(merged[0].out_dtype if merged else None),
        sources=_reads(prepared),
        bytes_read=sum(s.bytes for s in _reads(prepared)),
        bytes_written=sum(s.nbytes for s in specs),
        shards=len(assign_shards(specs, max_shard_bytes)),
        peak_memory_bytes=_peak_memory(prepared.plans, workers),
        estimated_seconds=round(seconds, 3),
        calibrated_on=timed,
        out_dir=str(out_dir),
        out_dir_state=state.replace("output", "merge"),
    )


def _reads(prepared) -> list[SourceRead]:
    """Per source, the distinct tensors the plan reads and their bytes on disk."""
    wanted: dict[str, set[str]] = {name: set() for name in prepared.sources}
    for plan in prepared.plans:
        for item in (*plan.inputs, *([plan.base] if plan.base else [])):
            wanted[item.model].add(item.tensor)
    return [
        SourceRead(
            name=name,
            path=str(source.path),
            tensors=len(wanted[name]),
            bytes=sum(source.tensor(t).end - source.tensor(t).start for t in wanted[name]),
        )
        for name, source in prepared.sources.items()
    ]


def _elements(plan) -> int:
    count = 1
    for dim in plan.shape:
        count *= dim
    return count


def _peak_memory(plans, workers: int) -> int:
    """(workers + 1) tensors in flight, each with its inputs, base and result in the compute dtype."""
    sizes = sorted(((len(p.inputs) + (p.base is not None) + 1) * _elements(p) * p.compute_dtype.itemsize for p in plans), reverse=True)
    return sum(sizes[: workers + 1])


def _estimate_seconds(prepared, device: str, seed: int, workers: int) -> tuple[float, str | None]:
    merged = [p for p in prepared.plans if not p.copy]
    if not merged:
        return 0.0, None
    work = lambda p: _elements(p) * (len(p.inputs) + (p.base is not None))
    median = statistics.median_low([work(p) for p in merged])
    probe = next(p for p in merged if work(p) == median)
    reader = TensorReader(prepared.sources, device)
    started = time.perf_counter()
    compute(probe, reader, prepared.method, seed)
    per_unit = (time.perf_counter() - started) / max(1, work(probe))
    total = sum(work(p) for p in merged) * per_unit / max(1, workers)
    return total, probe.name


def _dtype_name(dtype) -> str:
    return "-" if dtype is None else str(dtype).removeprefix("torch.")


def plan_text(report: MergePlanReport, recipe_path: str) -> str:
    mb = lambda n: f"{n / 1e6:.1f} MB" if n < 1e9 else f"{n / 1e9:.2f} GB"
    lines = [
        f"dry run of {recipe_path}: nothing is read beyond one calibration tensor, nothing is written",
        f"method    {report.method} (seed {report.seed}), compute {report.compute_dtype}, output {report.out_dtype}, device {report.device}",
        f"tensors   {report.tensors} out ({report.layers} layers): {report.merged} merged with {report.method}, {report.copied} copied",
    ]
    lines += [
        f"{'reads' if i == 0 else '':<10}{s.name} ({s.path}): {s.tensors} tensors, {mb(s.bytes)}" for i, s in enumerate(report.sources)
    ]
    lines += [
        f"writes    {mb(report.bytes_written)} in {report.shards} shard(s) to {report.out_dir} ({report.out_dir_state})",
        f"memory    about {mb(report.peak_memory_bytes)} at peak (the largest tensors in flight with their inputs)",
        f"time      about {_seconds(report.estimated_seconds)}"
        + (f" (one tensor timed, {report.calibrated_on}, and scaled by size)" if report.calibrated_on else ""),
    ]
    return "\n".join(lines)


def _seconds(s: float) -> str:
    return f"{s:.2f} s" if s < 60 else f"{s / 60:.1f} min"
