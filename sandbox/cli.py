"""`clade sandbox exec` and `clade sandbox doctor`.

    clade sandbox exec [--backend B] [--timeout S] [--memory MB] [--json] -- CMD [ARGS...]
    clade sandbox doctor [--json]

`exec` runs CMD under exactly the isolation a job gets, in a fresh job directory, with the
limits of clade.yaml's `sandbox.limits` (defaults when no workspace is found) overridden by
the options. It exits 0 when the sandbox worked, whatever CMD did: the status says that.
"""

from __future__ import annotations

import argparse
import json
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
    run.set_defaults(handler=exec_command)
    doctor = sub.add_parser("doctor", help="print which protections are active on this machine")
    doctor.add_argument("--json", action="store_true")
    doctor.add_argument("--ray-address", metavar="ADDR", help="also say what this Ray cluster sees (default: when sandbox.backend is ray)")
    doctor.set_defaults(handler=doctor_command)


def sandbox_config(args):
    """clade.yaml's sandbox section, or the defaults when no workspace is found and none was named."""
    from agents.workspace import load_workspace
    from sandbox.config import SandboxConfig
    from tools.errors import BadInput

    explicit = getattr(args, "workspace", None)
    try:
        return load_workspace(explicit).config.sandbox
    except BadInput:
        if explicit is not None:
            raise
        return SandboxConfig()


def exec_command(args) -> int:
    from sandbox.api import make_backend
    from tools.errors import BadInput

    argv = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not argv:
        raise BadInput("clade sandbox exec: no command given; usage: clade sandbox exec [options] -- CMD [ARGS...]")
    config = sandbox_config(args)
    update = {k: v for k, v in (("wall_s", args.timeout), ("memory_mb", args.memory)) if v is not None}
    limits = config.limits.model_copy(update=update)
    job_dir = Path(tempfile.mkdtemp(prefix="clade-exec-", dir=config.jobs_dir))
    try:
        outcome = make_backend(config, args.backend).run(argv, job_dir, limits)
    finally:
        shutil.rmtree(job_dir, ignore_errors=True)
    if args.json:
        print(json.dumps(outcome.model_dump()))
        return 0
    sys.stdout.write(outcome.stdout)
    sys.stderr.write(outcome.stderr)
    print(f"clade sandbox: {outcome.status}: {outcome.reason}" + (" (output truncated)" if outcome.truncated else ""), file=sys.stderr)
    return 0


def _workspace_sources(args) -> dict[str, str]:
    """The workspace's base and sources by name (absolute paths), or none outside a workspace."""
    from agents.workspace import load_workspace
    from tools.errors import BadInput

    try:
        workspace = load_workspace(getattr(args, "workspace", None))
    except BadInput:
        return {}
    return {name: str(path) for name, path in workspace.model_paths().items()}


def doctor_command(args) -> int:
    from sandbox.doctor import diagnose, render

    report = diagnose(sandbox_config(args), os.environ, sources=_workspace_sources(args), ray_address=args.ray_address)
    print(json.dumps(report, indent=2) if args.json else render(report))
    return 0
