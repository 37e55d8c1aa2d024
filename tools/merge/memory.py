"""Memory: the allocator setting of a merge process, and what a search with resident workers needs.

`reuse_freed_memory`: process-wide allocator tuning for a merge process (`clade merge`; never in a library call).

A merge allocates and frees tensor-sized buffers (a read, a result) hundreds of times. glibc
serves each one of more than 32 MB with a fresh mmap and unmaps it on free, so every buffer is
page-faulted in again (zeroed by the kernel) on first touch: at TinyLlama-1.1B size that cost
more than the reads themselves (tools/merge/README.md, "Where the time goes"). Serving them all
from one heap arena that is not trimmed back lets freed pages be reused as they are. Peak RSS
stays the peak of live tensors (measured in the README), since pages are reused, not added.

`estimate` / `check_fits`: the memory model of a search with resident workers (tools/merge/README.md,
"Scaling"), and the one-line refusal of a configuration that cannot fit, before the first job.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import math
import struct
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

M_TRIM_THRESHOLD, M_MMAP_MAX, M_ARENA_MAX = -1, -4, -8


def reuse_freed_memory() -> bool:
    """Tell glibc to keep and reuse freed memory; False where that is not glibc (no change)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    settings = ((M_ARENA_MAX, 1), (M_MMAP_MAX, 0), (M_TRIM_THRESHOLD, 1 << 30))
    return all(mallopt(option, value) == 1 for option, value in settings)


# --- What a search needs: the memory model of resident workers (no torch: `clade run` calls it first) ---

GiB = 1024**3
RUNTIME_BYTES = GiB  # per worker: Python, torch, transformers, the suite and tokenizer (measured ~0.8 GB on CPU)


@dataclass(frozen=True)
class MemoryNeed:
    """Bytes a search with resident workers needs: the sources once (shared read-only maps, the page
    cache) and, per worker, one merged model, the fp32 working set of the tensors in flight and the
    evaluation's activations, plus the runtime."""

    sources: int
    model: int
    working_set: int
    workers: int

    @property
    def per_worker(self) -> int:
        return self.model + self.working_set

    @property
    def total(self) -> int:
        return self.sources + self.workers * self.per_worker

    def line(self, where: str, needed: int, available: int, *, gpu: bool = False) -> str:
        per = "per GPU " if gpu else ""
        return (
            f"{where}: a search with {self.workers} resident worker(s) needs {needed / GiB:.1f} GiB {per}"
            f"(sources once {self.sources / GiB:.1f} + {self.workers} x (merged model {self.model / GiB:.1f} "
            f"+ working set {self.working_set / GiB:.1f})), but {available / GiB:.1f} GiB is available; "
            "use fewer workers (sandbox.cpu_concurrency), fewer or smaller sources, or a larger machine"
        )


def estimate(models: Mapping[str, Path], workers: int, *, batch_tokens: int = 2048) -> MemoryNeed:
    """The memory model for searching over `models` (name -> model directory) with `workers` resident
    workers. The merged model is as large as the largest source in its own dtype. The working set is
    the largest tensor in flight with every source's input and the result in fp32 (the other tensors
    in flight are layer-sized, far smaller), the logits of `batch_tokens` tokens in fp32, and the
    runtime (Python, torch, the suite)."""
    sizes = {name: _weights(Path(path)) for name, path in models.items()}
    model = max((total for total, _, _ in sizes.values()), default=0)
    largest = max((big for _, big, _ in sizes.values()), default=0)
    vocab = max((v for _, _, v in sizes.values()), default=0)
    in_flight = (len(models) + 1) * largest * 4
    logits = batch_tokens * vocab * 4
    return MemoryNeed(sum(total for total, _, _ in sizes.values()), model, in_flight + logits + RUNTIME_BYTES, workers)


def _weights(path: Path) -> tuple[int, int, int]:
    """(weight bytes, largest tensor's element count, vocab size) of one model directory, from file sizes
    and safetensors headers (a .bin checkpoint: its largest tensor taken as a tenth of its fp32 elements)."""
    files = sorted(path.glob("*.safetensors")) or sorted(path.glob("pytorch_model*.bin"))
    total = sum(f.stat().st_size for f in files)
    largest = 0
    for f in files:
        largest = max(largest, _largest_safetensor(f) if f.suffix == ".safetensors" else f.stat().st_size // 40)
    try:
        vocab = int(json.loads((path / "config.json").read_text(encoding="utf-8")).get("vocab_size") or 0)
    except (OSError, ValueError, TypeError):
        vocab = 0
    return total, largest, vocab


def _largest_safetensor(file: Path) -> int:
    """Elements of the file's largest tensor (header only)."""
    try:
        with open(file, "rb") as f:
            (size,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(min(size, 100 * 1024 * 1024)))
    except (OSError, ValueError, struct.error):
        return 0
    shapes = [v.get("shape") or [] for k, v in header.items() if k != "__metadata__" and isinstance(v, dict)]
    return max((math.prod(int(d) for d in shape) for shape in shapes), default=0)


def available_memory(memory_mb: int | None = None) -> tuple[int, str]:
    """(bytes, what limits it): the machine's available memory (MemAvailable: free plus reclaimable
    cache), this process's cgroup limit when lower, and a per-job limit when lower still."""
    found = [(_meminfo_available(), "available memory (/proc/meminfo MemAvailable)")]
    for limit_file in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(limit_file).read_text().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < 1 << 60:
            found.append((int(text), f"the cgroup limit ({limit_file})"))
    return min(found)


def _meminfo_available() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 1 << 62


def check_fits(
    models: Mapping[str, Path], workers: int, *, memory_mb: int | None = None, gpu_bytes: int | None = None, available: int | None = None
) -> MemoryNeed:
    """Refuse (BadInput, one line with the numbers) a search that cannot fit: the sources once plus
    `workers` x (merged model + working set) against the machine's memory; one worker's share against a
    per-job limit (`memory_mb`); on GPUs (`gpu_bytes`: one GPU's memory, one worker per GPU) the merged
    model and working set against the GPU, the host then holding the sources and each worker's runtime."""
    from tools.errors import BadInput

    need = estimate(models, workers)
    where = "available memory"
    if available is None:
        available, where = available_memory()
    if gpu_bytes is not None and need.per_worker > gpu_bytes:
        raise BadInput(need.line("GPU memory", need.per_worker, gpu_bytes, gpu=True))
    host = need.sources + workers * (RUNTIME_BYTES if gpu_bytes is not None else need.per_worker)
    if host > available:
        raise BadInput(need.line(where, host, available))
    if memory_mb is not None and need.per_worker > memory_mb * 1024**2:
        raise BadInput(need.line("sandbox.limits.memory_mb (one worker's share)", need.per_worker, memory_mb * 1024**2))
    return need
