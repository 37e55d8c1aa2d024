"""What the page's server holds: the workspace, its archive (read live) and the chat panel."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from agents.config import Workspace
from agents.ui.chat import ChatPanel


class LiveArchive:
    """The workspace's archive, opened once it exists, and brought up to date with git on each use.

    Another process (`clade run`) writes the same SQLite index, so its candidates and results
    are visible at once; `sync()` repairs what a writer that died before its index update left
    behind. Until the first `clade run` creates the archive, `get()` raises BadInput saying so.
    """

    def __init__(self, path: Path, *, fsync: bool = False):
        self.path, self.fsync = path, fsync
        self._archive = None
        self._lock = threading.Lock()

    def get(self):
        with self._lock:
            if self._archive is None:
                from archive.store import Archive

                self._archive = Archive.open(self.path, fsync=self.fsync)
            else:
                self._archive.sync()
            return self._archive

    def close(self) -> None:
        with self._lock:
            if self._archive is not None:
                self._archive.close()
                self._archive = None


class Memo:
    """Answers kept for the archive version they were computed at (only the newest version's).

    The overview and the graph read every candidate; with 10,000 that is most of a second, so
    it is done once per change of the archive, however many tabs poll. One computation runs at
    a time, so two requests for the same new version share it."""

    def __init__(self):
        self._items: dict[tuple, object] = {}
        self._lock = threading.RLock()  # re-entered: the overview's computation asks for the rows

    def get(self, key: tuple, version: str, compute: Callable[[], object]):
        with self._lock:
            if (key, version) not in self._items:
                value = compute()
                self._items = {k: v for k, v in self._items.items() if k[1] == version}
                self._items[(key, version)] = value
            return self._items[(key, version)]


@dataclass
class UIState:
    workspace: Workspace
    archive: LiveArchive
    chat: ChatPanel
    who: str
    memo: Memo = field(default_factory=Memo)

    def close(self) -> None:
        self.archive.close()


def build_state(workspace: Workspace, *, model=None, llm=None, who: str) -> UIState:
    """The server's state; `model` (a agents.llm Model) is what the chat panel talks to, else the
    one `llm` (default: `planner.llm` in clade.yaml) names, made on the first chat message."""
    archive = LiveArchive(workspace.path(workspace.config.archive.path), fsync=workspace.config.archive.fsync)
    return UIState(workspace=workspace, archive=archive, chat=ChatPanel(workspace, archive.get, model=model, llm=llm, who=who), who=who)
