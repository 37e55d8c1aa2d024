"""The watch loop shared by the backends: it stops a job at the first limit it breaks.

A backend hands it a `Handle` (a started process or container). The loop polls, at most
every `POLL_S`, for the process's end, the wall-clock deadline, the size of the captured
stdout/stderr files, (when the kernel does not enforce it) the job's resident memory, and
a `cancel` file in the job directory (how the host stops a job through any backend, e.g. a
resident worker past a job's deadline: verdict "cancelled", status `killed`), and kills
the whole job, never just stops waiting. It returns why it stopped.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from sandbox.config import Limits
from sandbox.outcome import STDERR, STDOUT, RunOutcome, describe_exit, read_capped

POLL_S = 0.02
MB = 1024 * 1024
CANCEL = "cancel"


class Handle(Protocol):
    def wait(self, timeout: float) -> int | None:
        """The exit code once the job's top process ended, else None after `timeout` seconds."""

    def memory_bytes(self) -> int | None:
        """Resident memory of the whole job now (None: unknown)."""

    def kill(self) -> None:
        """Kill every process of the job."""


@dataclass
class Verdict:
    """Why the loop stopped: `limit` is None when the process ended by itself."""

    exit_code: int | None
    limit: str | None = None
    reason: str = ""
    peak_memory_bytes: int = 0
    wall_s: float = 0.0


def _output_breach(job_dir: Path, cap: int) -> str | None:
    for name in (STDOUT, STDERR):
        try:
            if (job_dir / name).stat().st_size > cap:
                return f"wrote more than {cap} bytes to {name.split('.')[0]}; killed the whole job"
        except FileNotFoundError:
            pass
    return None


def _memory_breach(used: int | None, limits: Limits) -> str | None:
    if used is None or limits.memory_mb is None or used <= limits.memory_mb * MB:
        return None
    return f"used {used / MB:.0f} MB, over the memory limit of {limits.memory_mb} MB; killed the whole job"


def watch(handle: Handle, job_dir: Path, limits: Limits, *, sample_memory: bool) -> Verdict:
    """Poll `handle` until it ends or breaks a limit; kill it on a breach."""
    start = time.monotonic()
    deadline, peak = start + limits.wall_s, 0
    while True:
        code = handle.wait(timeout=min(POLL_S, max(0.0, deadline - time.monotonic())))
        used = handle.memory_bytes() if sample_memory else None
        peak = max(peak, used or 0)
        if code is not None:
            return Verdict(code, peak_memory_bytes=peak, wall_s=time.monotonic() - start)
        breach = _breach(job_dir, limits, used, time.monotonic() >= deadline)
        if breach is not None:
            handle.kill()
            return Verdict(None, breach[0], breach[1], peak, time.monotonic() - start)


def _breach(job_dir: Path, limits: Limits, used: int | None, late: bool) -> tuple[str, str] | None:
    if (job_dir / CANCEL).exists():
        return "cancelled", f"cancelled by the host (a {CANCEL!r} file appeared in the job directory); killed the whole job"
    if late:
        return "timeout", f"exceeded the wall-clock limit of {limits.wall_s:g} s; killed the whole job"
    output = _output_breach(job_dir, limits.output_bytes)
    if output is not None:
        return "output", output
    memory = _memory_breach(used, limits) if used is not None else None
    return ("memory", memory) if memory is not None else None


def verdict_outcome(
    verdict: Verdict, job_dir: Path, limits: Limits, *, backend: str, isolation: str, peak_bytes: int | None, killer: str | None = None
) -> RunOutcome:
    """The outcome of a watched job; `killer` names a limit the kernel enforced (e.g. an OOM kill)."""
    if verdict.limit is not None:
        status, reason = ("timeout" if verdict.limit == "timeout" else "killed"), verdict.reason
    else:
        status, reason = describe_exit(verdict.exit_code)
    if killer and verdict.limit is None:
        status, reason = ("killed" if "memory" in killer else status), f"{killer}; {reason}"
    stdout, cut_out = read_capped(job_dir / STDOUT, limits.output_bytes)
    stderr, cut_err = read_capped(job_dir / STDERR, limits.output_bytes)
    return RunOutcome(
        status=status,
        exit_code=verdict.exit_code,
        reason=reason,
        stdout=stdout,
        stderr=stderr,
        truncated=cut_out or cut_err,
        wall_s=round(verdict.wall_s, 4),
        peak_memory_mb=round(peak_bytes / MB, 1) if peak_bytes else None,
        backend=backend,
        isolation=isolation,
    )
