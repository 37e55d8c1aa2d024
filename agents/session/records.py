"""Session records: `<workspace>/.clade/sessions/<id>.json`, one per `clade run` session.

A record says how the session was started (strategy, seed, budget), each run's wall time
(updated every round, so a kill -9 loses at most one round of it), its status
(running | finished | stopped | failed) and why it stopped. `--resume` picks the newest record
that is running or stopped (`failed`: it could not start, nothing of it ran). Written atomically (temporary file + rename).
"""

from __future__ import annotations

import fcntl
import secrets
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agents.budget import BudgetConfig
from agents.config import Workspace
from sandbox.job import write_json_atomic
from tools.errors import BadInput, describe_validation_error

SESSIONS_DIR = Path(".clade") / "sessions"
CHECKPOINTS = Path(".clade") / "checkpoints.sqlite"


def _now() -> datetime:
    return datetime.now(UTC)


class Run(BaseModel):
    model_config = ConfigDict(extra="forbid")
    started_at: datetime = Field(default_factory=_now)
    wall_s: float = 0.0
    ended: bool = False


class SessionRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    strategy: str
    seed: int
    budget: BudgetConfig
    backend: str
    status: Literal["running", "finished", "stopped", "failed"] = "running"
    runs: list[Run] = Field(default_factory=list)
    stop_reason: str | None = None
    fallback: str | None = Field(None, description="why the session switched to evolution, when it did")
    created_at: datetime = Field(default_factory=_now)

    def earlier_wall_s(self) -> float:
        """Wall time of every run but the current (last) one."""
        return sum(r.wall_s for r in self.runs[:-1])


def new_session_id(now: datetime | None = None) -> str:
    return f"s-{(now or _now()):%Y%m%d-%H%M}-{secrets.token_hex(2)}"


def sessions_dir(workspace: Workspace) -> Path:
    return workspace.root / SESSIONS_DIR


def checkpoints_path(workspace: Workspace) -> Path:
    return workspace.root / CHECKPOINTS


def save(workspace: Workspace, record: SessionRecord) -> None:
    directory = sessions_dir(workspace)
    directory.mkdir(parents=True, exist_ok=True)
    write_json_atomic(directory / f"{record.id}.json", record)


def load(path: Path) -> SessionRecord:
    try:
        return SessionRecord.model_validate_json(path.read_text(encoding="utf-8"))
    except ValidationError as exc:
        raise BadInput(f"{path}: not a session record ({describe_validation_error(exc)}); move it out of {path.parent}") from None


def unfinished(workspace: Workspace) -> list[SessionRecord]:
    directory = sessions_dir(workspace)
    records = [load(p) for p in sorted(directory.glob("s-*.json"))] if directory.is_dir() else []
    return [r for r in records if r.status in ("running", "stopped")]


@contextmanager
def hold(workspace: Workspace, session: str):
    """An exclusive lock on the session while it runs: a second `clade run --resume` of a live session is refused."""
    path = sessions_dir(workspace) / f"{session}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BadInput(
                f"session {session} is being run by another `clade run` in {workspace.root} (lock {path}); "
                "wait for it to end, or stop it first"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def newest_unfinished(workspace: Workspace) -> SessionRecord:
    """The session `clade run --resume` continues: the newest one not finished."""
    directory = sessions_dir(workspace)
    open_ = unfinished(workspace)
    if not open_:
        raise BadInput(f"no unfinished session in {directory} to resume; start one with `clade run` (without --resume)")
    return max(open_, key=lambda r: r.created_at)
