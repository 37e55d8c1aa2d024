"""`clade sandbox exec` and `clade sandbox doctor`.

    clade sandbox exec [--backend B] [--timeout S] [--memory MB] [--json] -- CMD [ARGS...]
    clade sandbox doctor [--json]

`exec` runs CMD under exactly the isolation a job gets, in a fresh job directory, with the
limits of clade.yaml's `sandbox.limits` (defaults when no workspace is found) overridden by
the options. Like `docker run`, it exits with CMD's own exit code; 124 when CMD ran past its
time limit, 137 when it was killed (memory, processes, output), 125 when the sandbox itself
failed (with --json too: the JSON object says the status and reason).
Standard input, when it is not a terminal, is forwarded to CMD (read whole first, up to
STDIN_LIMIT bytes, into the job directory: every backend sees it the same way). Bad options
(a non-positive or non-finite --timeout, a --memory under MIN_MEMORY_MB) and an unusable
jobs_dir are exit 2 with one line.
The app fills in clade.yaml's sandbox section as `args.sandbox` (agents.workspace.provide).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
from pathlib import Path


def register(subparsers) -> None:
    parser = subparsers.add_parser("sandbox", help="run commands in the sandbox; check its protections")
    sub = parser.add_subparsers(dest="sandbox_command", metavar="SUBCOMMAND", required=True)
    run = sub.add_parser("exec", help="run a command under exactly the isolation a job gets")
    run.add_argument("--backend", choices=["local", "docker", "ray"], help="default: clade.yaml's sandbox.backend")
    run.add_argument("--timeout", type=float, metavar="S", help="wall-clock limit in seconds")
    run.add_argument("--memory", type=int, metavar="MB", help="memory limit of the whole job in MB")
    run.add_argument("--json", action="store_true", help="print one JSON object: status, exit_code, reason, stdout, stderr")
    run.add_argument("cmd", nargs=argparse.REMAINDER, metavar="-- CMD [ARGS...]")
    run.set_defaults(handler=exec_command, needs="sandbox")
    doctor = sub.add_parser("doctor", help="print which protections are active on this machine")
    doctor.add_argument("--json", action="store_true")
    doctor.add_argument("--ray-address", metavar="ADDR", help="also say what this Ray cluster sees (default: when sandbox.backend is ray)")
    doctor.set_defaults(handler=doctor_command, needs=("sandbox", "sources"))  # the sources: which nodes hold them


STDIN_LIMIT = 64 * 1024 * 1024
MIN_MEMORY_MB = 16
STDIN_FILE = "stdin"
# The command reads the forwarded input from a file in its job directory, under every backend alike.
WITH_STDIN = ["/bin/sh", "-c", 'exec "$@" <"$CLADE_JOB_DIR/' + STDIN_FILE + '"', "clade-exec"]
TIMEOUT_CODE, KILLED_CODE, SANDBOX_FAILED_CODE = 124, 137, 125


def exec_command(args) -> int:
    from sandbox.api import make_backend
    from tools.errors import BadInput

    argv = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not argv:
        raise BadInput("clade sandbox exec: no command given; usage: clade sandbox exec [options] -- CMD [ARGS...]")
    config = args.sandbox
    limits = exec_limits(config, args.timeout, args.memory)
    job_dir = _job_dir(config.jobs_dir)
    try:
        _forward_stdin(job_dir)
        outcome = make_backend(config, args.backend).run([*WITH_STDIN, *argv], job_dir, limits)
    finally:
        shutil.rmtree(job_dir, ignore_errors=True)
    if args.json:
        print(json.dumps(outcome.model_dump()))
        return exit_code(outcome)
    sys.stdout.write(outcome.stdout)
    sys.stderr.write(outcome.stderr)
    print(f"clade sandbox: {outcome.status}: {outcome.reason}" + (" (output truncated)" if outcome.truncated else ""), file=sys.stderr)
    return exit_code(outcome)


def exec_limits(config, timeout: float | None, memory: int | None):
    """clade.yaml's limits with the options applied, validated: a bad option is BadInput naming it."""
    from pydantic import ValidationError

    from sandbox.config import MAX_WALL_S, MIN_WALL_S, Limits
    from tools.errors import BadInput

    if timeout is not None and not (math.isfinite(timeout) and MIN_WALL_S <= timeout <= MAX_WALL_S):
        raise BadInput(f"--timeout {timeout}: give a number of seconds from {MIN_WALL_S:g} to {MAX_WALL_S:g}")
    if memory is not None and memory < MIN_MEMORY_MB:
        raise BadInput(f"--memory {memory}: give a memory limit in MB, at least {MIN_MEMORY_MB}")
    update = {k: v for k, v in (("wall_s", timeout), ("memory_mb", memory)) if v is not None}
    try:
        return Limits.model_validate({**config.limits.model_dump(), **update})
    except ValidationError as exc:
        from tools.errors import describe_validation_error

        raise BadInput(f"sandbox.limits: {describe_validation_error(exc)}") from None


def _job_dir(jobs_dir: str | None) -> Path:
    from tools.errors import BadInput

    try:
        return Path(tempfile.mkdtemp(prefix="clade-exec-", dir=jobs_dir))
    except OSError as exc:
        where = jobs_dir or tempfile.gettempdir()
        raise BadInput(
            f"sandbox.jobs_dir {where}: cannot create a job directory there ({exc.strerror or exc}); name a writable directory"
        ) from None


def _forward_stdin(job_dir: Path) -> None:
    """Our standard input, unless it is a terminal, into the job's stdin file (empty otherwise)."""
    from tools.errors import BadInput

    data = b""
    stream = getattr(sys.stdin, "buffer", None)
    if stream is not None and not _is_terminal(stream):
        data = stream.read(STDIN_LIMIT + 1)
        if len(data) > STDIN_LIMIT:
            raise BadInput(f"standard input: more than {STDIN_LIMIT >> 20} MiB; pass large inputs as files")
    (job_dir / STDIN_FILE).write_bytes(data)


def _is_terminal(stream) -> bool:
    try:
        return stream.isatty()
    except (ValueError, OSError):  # closed
        return True


def exit_code(outcome) -> int:
    """What `docker run` would exit with: the command's own code, else why it has none."""
    if outcome.status == "timeout":
        return TIMEOUT_CODE
    code = outcome.exit_code
    if code is not None and code < 0:  # killed by signal N: a shell's 128 + N
        return min(128 - code, 255)
    if code is not None and outcome.status in ("ok", "failed", "killed"):
        return code if 0 <= code <= 255 else SANDBOX_FAILED_CODE
    return KILLED_CODE if outcome.status == "killed" else SANDBOX_FAILED_CODE


def doctor_command(args) -> int:
    from sandbox.doctor import diagnose, render

    report = diagnose(
        args.sandbox, os.environ, sources={name: str(path) for name, path in args.models.items()}, ray_address=args.ray_address
    )
    print(json.dumps(report, indent=2) if args.json else render(report))
    return 0
