"""What one sandboxed process did: the outcome every backend reports, before any job logic.

Output is captured to `stdout.txt` and `stderr.txt` in the job directory; the outcome holds
at most `output_bytes` of each and says when it cut them.
"""

from __future__ import annotations

import signal
from pathlib import Path

from pydantic import BaseModel

from sandbox.job import ResultStatus

STDOUT, STDERR = "stdout.txt", "stderr.txt"


class RunOutcome(BaseModel):
    """`clade sandbox exec --json` prints this (status, exit_code, reason, stdout, stderr, ...)."""

    status: ResultStatus
    exit_code: int | None
    reason: str
    stdout: str = ""
    stderr: str = ""
    truncated: bool = False
    wall_s: float = 0.0
    peak_memory_mb: float | None = None
    backend: str = "local"
    isolation: str = "none"


def read_capped(path: Path, cap: int) -> tuple[str, bool]:
    """The first `cap` bytes of a log file as text, and whether there was more."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(cap + 1)
    except FileNotFoundError:
        return "", False
    return data[:cap].decode("utf-8", errors="replace"), len(data) > cap


def describe_exit(code: int | None) -> tuple[ResultStatus, str]:
    """Status and reason for a process that ended by itself (negative code: killed by a signal)."""
    if code == 0:
        return "ok", "exited with code 0"
    if code is None:
        return "killed", "the process vanished without an exit status"
    if code < 0:
        name = _signal_name(-code)
        hint = " (CPU-time limit)" if -code == signal.SIGXCPU else " (file-size limit)" if -code == signal.SIGXFSZ else ""
        return "killed", f"killed by {name}{hint}"
    if code > 128 and code - 128 in signal.valid_signals():
        return "killed", f"killed by {_signal_name(code - 128)} (exit code {code})"
    return "failed", f"exited with code {code}"


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
