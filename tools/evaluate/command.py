"""The command evaluator for code candidates: run a command, read metrics from its last line.

The command runs in its own process group; at the time limit the whole group is killed, not
just waited on. Its last non-blank stdout line must be a JSON object of numbers.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
from pathlib import Path

from tools.errors import BadInput, CladeError

TAIL_CHARS = 2000


class CommandFailed(CladeError):
    """The evaluated command failed, timed out or printed no metrics: the candidate's failure."""

    def __init__(self, message: str, *, stdout: str = "", stderr: str = "") -> None:
        super().__init__(message)
        self.stdout = stdout[-TAIL_CHARS:]
        self.stderr = stderr[-TAIL_CHARS:]


def run_command_evaluator(argv: list[str], cwd: Path, *, timeout_s: float) -> dict[str, float]:
    """Run `argv` in `cwd`; return the metrics its last stdout line prints as a JSON object."""
    if not argv:
        raise BadInput("evaluation command is empty; give the argv of a command that prints JSON metrics")
    stdout, stderr, code = _run(argv, Path(cwd), timeout_s)
    if code != 0:
        raise CommandFailed(f"`{argv[0]}` exited with status {code}: {_last_line(stderr) or 'no stderr'}", stdout=stdout, stderr=stderr)
    return parse_metrics(stdout, argv[0], stderr)


def _run(argv: list[str], cwd: Path, timeout_s: float) -> tuple[str, str, int]:
    if not cwd.is_dir():
        raise BadInput(f"evaluation command working directory {cwd} does not exist")
    try:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            errors="replace",
            start_new_session=True,
        )
    except FileNotFoundError:
        raise BadInput(f"evaluation command {argv[0]!r} not found (cwd {cwd})") from None
    except OSError as exc:  # not executable, not a program, ...: the candidate's failure, not ours
        raise CommandFailed(f"`{argv[0]}` could not be started: {exc.strerror or exc}", stdout="", stderr="") from None
    try:
        stdout, stderr = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        _kill_group(proc.pid)
        stdout, stderr = _drain(proc)
        raise CommandFailed(f"`{argv[0]}` timed out after {timeout_s:g} s (process group killed)", stdout=stdout, stderr=stderr) from None
    _kill_group(proc.pid)  # strays the command left behind
    return stdout, stderr, proc.returncode


def _drain(proc: subprocess.Popen) -> tuple[str, str]:
    """What the killed command printed; a process that left the group may hold the pipes open."""
    try:
        return proc.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return "", "(output lost: a process outside the killed group kept the pipes open)"


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def parse_metrics(stdout: str, command: str, stderr: str = "") -> dict[str, float]:
    """The JSON object on the last non-blank line, every value a finite number."""
    line = _last_line(stdout)
    try:
        data = json.loads(line)
    except json.JSONDecodeError:
        data = None
    if not isinstance(data, dict):
        raise CommandFailed(
            f"`{command}` did not print a JSON object on its last stdout line (got {line[:200]!r})", stdout=stdout, stderr=stderr
        )
    metrics = {}
    for name, value in data.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise CommandFailed(
                f"`{command}` printed metric {name!r} = {value!r}; every metric must be a finite number", stdout=stdout, stderr=stderr
            )
        metrics[name] = float(value)
    return metrics


def _last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""
