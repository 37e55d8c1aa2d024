"""Progress for long commands (`clade merge`, `clade eval`): a rich bar on a terminal, nothing otherwise.

The engines take an optional callback, `progress(advance, note="", total=None)`, and know nothing
of terminals; the command line passes a `TerminalProgress`. It draws on stderr only when stderr
is a terminal (so pipes, logs and `--json` output stay clean), and the bar disappears when done:
the command's own summary line is what remains.
"""

from __future__ import annotations

import sys
from typing import TextIO


class TerminalProgress:
    def __init__(self, what: str, total: int | None = None, *, stream: TextIO | None = None):
        self.what, self.total, self.stream = what, total, stream or sys.stderr
        self.enabled = _is_terminal(self.stream)
        self._bar = self._task = None

    def __call__(self, advance: int = 1, note: str = "", total: int | None = None) -> None:
        if not self.enabled:
            return
        if self._bar is None:
            self._start(total if total is not None else self.total)
        self._bar.update(self._task, advance=advance, description=f"{self.what} {note}".rstrip())

    def _start(self, total: int | None) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn())
        self._bar = Progress(*columns, console=Console(file=self.stream), transient=True)
        self._bar.start()
        self._task = self._bar.add_task(self.what, total=total)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def __enter__(self) -> "TerminalProgress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # closed, or not a file
        return False
