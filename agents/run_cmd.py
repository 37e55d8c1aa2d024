"""`clade run`: an autonomous search session with live progress (see agents/session/README.md).

    clade run [DIR] [--planner evolution|llm|hybrid|random|gradient] [--budget N] [--backend local|docker|ray]
              [--resume] [--json] [--seed N] [--dry-run]

--dry-run prints the plan (agents/dry_run.py) and records nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from tools.errors import BadInput

STRATEGIES = ("evolution", "llm", "hybrid", "random", "gradient")


def register(subparsers) -> None:
    p = subparsers.add_parser("run", help="run a search session (live progress; --resume continues a killed one)")
    p.add_argument("dir", nargs="?", help="the workspace (default: --workspace, or the nearest parent holding clade.yaml)")
    p.add_argument("--planner", choices=STRATEGIES, help="proposal strategy (default: planner.strategy in clade.yaml)")
    p.add_argument("--budget", type=int, metavar="N", help="candidates the session may record (default: planner.budget.candidates)")
    p.add_argument("--backend", choices=("local", "docker", "ray"), help="sandbox backend (default: sandbox.backend)")
    p.add_argument("--resume", action="store_true", help="continue the newest unfinished session")
    p.add_argument("--json", action="store_true", help="print one JSON object at the end")
    p.add_argument("--seed", type=int, help="the session's seed (default: planner.seed)")
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="print the resolved configuration, sources, tasks, budget and the first proposals; record nothing and run no job",
    )
    p.set_defaults(handler=cmd_run)


def cmd_run(args: argparse.Namespace) -> int:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from agents.preflight import check_before_run
    from agents.session import records
    from agents.session.display import make_display
    from agents.session.runner import run_session
    from agents.workspace import load_workspace
    from tools.errors import BadInput

    if args.budget is not None and args.budget <= 0:
        raise BadInput(f"--budget {args.budget}: give a positive number of candidates")
    workspace = load_workspace(args.dir or getattr(args, "workspace", None))
    if args.dry_run:
        return _dry_run(args, workspace)
    session = _session(args, workspace)
    check_before_run(workspace, session.record.strategy)  # exit 2 before the first job (agents/preflight.py)
    _check_memory(workspace, session.record.backend)
    session.display = make_display()
    for other in [] if args.resume else records.unfinished(workspace):
        session.display.line(f"note: session {other.id} is {other.status}, not finished; `clade run --resume` continues it")
    try:
        with _open_archive(workspace) as archive:
            summary = run_session(session, archive)
    finally:
        session.display.close()
    if args.json:
        print(json.dumps(summary.model_dump()))
    else:
        from agents.session.report import sentence, task_lines

        print("\n".join([*task_lines(summary), sentence(summary)]))
    if summary.failed and not summary.succeeded:  # nothing the session ran worked: say so by the exit code
        print(
            f"clade run: every job of session {summary.session} failed ({summary.failed}); `clade show ID` gives each reason",
            file=sys.stderr,
        )
        return 1
    return 0


def _check_memory(workspace, backend: str) -> None:
    """Refuse, before the first job, a search whose resident workers on this machine cannot fit
    (tools/merge/memory.py); a ray backend's jobs run elsewhere."""
    from tools.merge.memory import check_fits

    sandbox = workspace.config.sandbox
    if backend == "ray":
        return
    check_fits(workspace.model_paths(), sandbox.cpu_concurrency, memory_mb=sandbox.limits.memory_mb)


def _dry_run(args, workspace) -> int:
    from agents.dry_run import dry_run, dry_run_text
    from agents.preflight import check_before_run
    from agents.strategies.registry import make_strategy

    if args.resume:
        raise BadInput("--dry-run plans a new session; drop --resume (`clade sessions` shows the unfinished ones)")
    record = _record(args, workspace)
    strategy = make_strategy(record.strategy, workspace.config.planner.model_copy(update={"seed": record.seed}), workspace)
    check_before_run(workspace, record.strategy)  # the problems `clade run` would refuse to start with
    plan = dry_run(workspace, record, strategy, _model(workspace, record.strategy))
    print(plan.model_dump_json(indent=1) if args.json else dry_run_text(plan))
    return 0


def _record(args, workspace):
    """The record of the session to run: a new one from clade.yaml and the flags, or (--resume) the newest unfinished one."""
    from agents.session import records

    planner = workspace.config.planner
    if args.resume:
        record = records.newest_unfinished(workspace)
        record = record.model_copy(update=_overrides(args, record))
    else:
        budget = planner.budget.model_copy(update={"candidates": args.budget}) if args.budget else planner.budget
        record = records.SessionRecord(
            id=records.new_session_id(),
            strategy=args.planner or planner.resolved_strategy(),
            seed=planner.seed if args.seed is None else args.seed,
            budget=budget,
            backend=args.backend or workspace.config.sandbox.backend,
        )
    if record.strategy in ("evolution", "random"):  # space `both`: a backend reaching the merge cache, an end to phase 1
        from agents.evolution.strategy import check_space

        check_space(planner.evolution, record.backend, record.budget.candidates, record.strategy)
    if record.budget.unlimited():
        raise BadInput(
            f"{workspace.root / 'clade.yaml'} planner.budget: no limit is set (candidates, wall_s, dollars and tokens are all null), "
            "so the session would never stop; set one, or pass --budget N"
        )
    return record


def _session(args, workspace):
    """The session to run, with its strategy, backend and model."""
    from agents.session.runner import Session
    from agents.strategies.registry import make_strategy

    planner = workspace.config.planner
    record = _record(args, workspace)
    # The session's seed (--seed, kept in its record) is the one its strategy draws with.
    strategy = make_strategy(record.strategy, planner.model_copy(update={"seed": record.seed}), workspace)
    return Session(
        workspace=workspace,
        record=record,
        strategy=strategy,
        backend=_backend(workspace, record.backend),
        model=_model(workspace, record.strategy),
    )


def _overrides(args, record) -> dict:
    """On --resume, flags given again replace what the record says (e.g. a larger --budget)."""
    update = {}
    if args.budget:
        update["budget"] = record.budget.model_copy(update={"candidates": args.budget})
    if args.planner:
        update["strategy"] = args.planner
    if args.backend:
        update["backend"] = args.backend
    if args.seed is not None:
        update["seed"] = args.seed
    return update


def _backend(workspace, name: str):
    from sandbox.api import make_backend

    return make_backend(workspace.config.sandbox, name)


def _model(workspace, strategy: str):
    llm = workspace.config.planner.llm
    if llm is None or strategy not in ("llm", "hybrid"):
        return None
    from agents.llm.factory import planner_model

    return planner_model(llm, workspace.root)  # `scripted:<reply file>` replays offline replies (examples, tests)


def _open_archive(workspace):
    from archive.secrets import Redactor
    from archive.store import Archive

    # The LLM key is redacted whatever its variable is called (api_key_env may name one without KEY/TOKEN in it).
    llm = workspace.config.planner.llm
    secrets = [os.environ[llm.api_key_env]] if llm is not None and llm.api_key_env and llm.api_key_env in os.environ else []
    redactor = Redactor([*Redactor.from_environ_values(os.environ), *secrets])
    return Archive.open(workspace.path(workspace.config.archive.path), create=True, fsync=workspace.config.archive.fsync, redactor=redactor)
