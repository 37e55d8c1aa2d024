"""One `clade run`: start or resume a session, measure the sources, run the graph, report.

The session record is written before anything runs and after every round (wall time), and
its status is set in `finally`: `finished` when the graph stopped by itself, `stopped` on
Ctrl-C or an error once started (resumable), `failed` when it could not start (the executor,
the evaluation configuration or the sources: nothing of it ran, so there is nothing to resume;
the reason is kept). After kill -9 it still says `running`: `--resume` takes it.
"""

from __future__ import annotations

import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass
from typing import Any

from agents.budget import Budget, Spend
from agents.config import Workspace
from agents.jobs import evaluation_config
from agents.llm.base import Model
from agents.session import records
from agents.session.display import Display, PlainDisplay
from agents.session.executor import make_executor
from agents.session.graph import build_graph, config_for
from agents.session.records import Run, SessionRecord
from agents.session.report import Summary, final_report
from agents.session.runtime import Hooks, Runtime
from agents.session.sources import measure_sources, record_sources
from agents.session.state import initial_state
from agents.strategy import Strategy


@dataclass
class Session:
    """A session about to run: its record, strategy and collaborators (built by run_cmd or a test)."""

    workspace: Workspace
    record: SessionRecord
    strategy: Strategy
    backend: Any  # a sandbox backend (sandbox.api.make_backend) or sandbox.fake.FakeSandbox
    model: Model | None = None
    display: Display | None = None


def run_session(s: Session, archive) -> Summary:
    with records.hold(s.workspace, s.record.id):
        return _run_held(s, archive)


def _run_held(s: Session, archive) -> Summary:
    rec, display = s.record, s.display or PlainDisplay()
    rec.runs.append(Run())
    rec.status = "running"
    records.save(s.workspace, rec)
    # A first run that cannot start leaves nothing to resume (`failed`); a resumed one keeps what it has (`stopped`).
    started, status, executor = time.monotonic(), "failed" if len(rec.runs) == 1 else "stopped", None
    try:
        executor = make_executor(s.workspace, s.backend)
        evaluation = evaluation_config(s.workspace) if s.workspace.config.code is None else None
        status = "stopped"  # from here on, what was recorded can be resumed
        summary = _run(s, archive, executor, evaluation, display, started)
        status = "finished"
        return summary
    except KeyboardInterrupt:
        display.line(f"interrupted: session {rec.id} stopped; `clade run --resume` continues it")
        status = "stopped"
        raise
    except Exception as exc:
        if status == "failed":
            rec.stop_reason = f"could not start: {exc}"
        raise
    finally:
        rec.runs[-1].wall_s, rec.runs[-1].ended = time.monotonic() - started, True
        rec.status = status
        records.save(s.workspace, rec)
        if executor is not None:
            executor.close(cancel=status != "finished")


def _run(s: Session, archive, executor, evaluation, display: Display, started: float) -> Summary:
    rec = s.record
    sources = measure_sources(
        s.workspace, archive, executor, record_sources(s.workspace, archive), seed=rec.seed, display=display, evaluation=evaluation
    )
    rt = Runtime(
        workspace=s.workspace,
        archive=archive,
        executor=executor,
        budget=_budget(rec, archive),
        strategy=s.strategy,
        make_fallback=_fallback(s.workspace),
        model=s.model,
        display=display,
        hooks=_hooks(s, started, display),
        seed=rec.seed,
        sources=sources,
        evaluation=evaluation,
        prompts_dir=s.workspace.config.planner.prompts_path(s.workspace),
    )
    display.line(f"session {rec.id}: strategy {s.strategy.name}, budget {rec.budget.candidates} candidates, {executor.slots} slot(s)")
    with closing(sqlite3.connect(records.checkpoints_path(s.workspace), check_same_thread=False)) as conn:
        final = _invoke(rt, rec, conn)
    rec.stop_reason = final.get("stop")
    display.line(f"session {rec.id} ends: {rec.stop_reason}")
    return final_report(rt, rec.id)


def _invoke(rt: Runtime, rec: SessionRecord, conn: sqlite3.Connection) -> dict:
    """Continue from the checkpoint when the last run was cut in the middle of a round, else start a round."""
    from langgraph.checkpoint.sqlite import SqliteSaver

    graph, config = build_graph(rt, SqliteSaver(conn)), config_for(rec.id)
    saved = graph.get_state(config)
    if saved.next:
        rt.display.line(f"resuming session {rec.id} at node {', '.join(saved.next)}")
        return graph.invoke(None, config)
    return graph.invoke(initial_state(rec.id, fallback=rec.fallback is not None), config)


def _budget(rec: SessionRecord, archive) -> Budget:
    """The session's spend so far, from the archive (candidates, LLM tokens and dollars) and its record (wall time)."""
    mine = [archive.get(cid) for cid in archive.session_candidates(rec.id)]
    spent = Spend(
        candidates=len(mine),
        tokens=sum(c.cost.llm_tokens for c in mine),
        dollars=sum(c.cost.dollars for c in mine),
        wall_s=rec.earlier_wall_s(),
    )
    return Budget(rec.budget, spent)


def _hooks(s: Session, started: float, display: Display) -> Hooks:
    def on_round() -> None:
        s.record.runs[-1].wall_s = time.monotonic() - started
        records.save(s.workspace, s.record)

    def on_fallback(reason: str) -> None:
        s.record.fallback = reason
        records.save(s.workspace, s.record)

    return Hooks(on_round=on_round, on_fallback=on_fallback)


def _fallback(workspace: Workspace):
    """Evolution after repeated LLM failure; none on a code workspace (evolution searches merges): the session stops instead."""
    return None if workspace.config.code is not None else (lambda: _evolution(workspace))


def _evolution(workspace: Workspace) -> Strategy:
    from agents.strategies.registry import make_strategy

    return make_strategy("evolution", workspace.config.planner, workspace)
