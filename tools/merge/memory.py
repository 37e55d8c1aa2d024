"""Process-wide allocator tuning for a merge process (`clade merge`; never in a library call).

A merge allocates and frees tensor-sized buffers (a read, a result) hundreds of times. glibc
serves each one of more than 32 MB with a fresh mmap and unmaps it on free, so every buffer is
page-faulted in again (zeroed by the kernel) on first touch: at TinyLlama-1.1B size that cost
more than the reads themselves (tools/merge/README.md, "Where the time goes"). Serving them all
from one heap arena that is not trimmed back lets freed pages be reused as they are. Peak RSS
stays the peak of live tensors (measured in the README), since pages are reused, not added.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

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
