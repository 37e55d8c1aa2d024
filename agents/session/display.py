"""Live progress of a session: a rich panel on a terminal, plain lines otherwise.

Both write to stderr, so `clade run --json` keeps stdout for its one JSON object. The
panel shows candidates done against the budget, the jobs running, the best fitness so far
against the best source model's, both on the search split (the held-out figures come only in
the final report), and the LLM spend.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Protocol, TextIO


@dataclass
class Progress:
    session: str = ""
    strategy: str = ""
    candidates: int = 0
    budget: int | None = None
    running: list[str] = field(default_factory=list)
    best_id: str | None = None
    best: float | None = None
    best_source: float | None = None
    best_source_name: str | None = None
    tokens: int = 0
    dollars: float = 0.0

    def headline(self) -> str:
        budget = "unlimited" if self.budget is None else str(self.budget)
        return (
            f"[{self.session}] {self.candidates}/{budget} candidates | running {len(self.running)} | "
            f"search split: best {_f(self.best)} ({self.best_id or '-'}) vs best source {_f(self.best_source)} "
            f"({self.best_source_name or '-'}) | "
            f"LLM {self.tokens} tokens ${self.dollars:.4f}"
        )


def _f(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


class Display(Protocol):
    def line(self, text: str) -> None: ...
    def update(self, progress: Progress) -> None: ...
    def close(self) -> None: ...


class PlainDisplay:
    """One line per event, and the progress headline whenever it changes."""

    def __init__(self, stream: TextIO | None = None):
        self.stream, self._last = stream or sys.stderr, ""

    def line(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def update(self, progress: Progress) -> None:
        headline = progress.headline()
        if headline != self._last:
            self._last = headline
            self.line(headline)

    def close(self) -> None:
        pass


class RichDisplay:
    """A live panel (rich.live) under the event lines, refreshed on every update."""

    def __init__(self, stream: TextIO | None = None):
        from rich.console import Console
        from rich.live import Live

        self.console = Console(file=stream or sys.stderr)
        self.live = Live(console=self.console, refresh_per_second=4, transient=False)
        self.live.start()

    def line(self, text: str) -> None:
        self.live.console.print(text, markup=False, highlight=False)

    def update(self, progress: Progress) -> None:
        self.live.update(_panel(progress))

    def close(self) -> None:
        self.live.stop()


def _panel(p: Progress):
    from rich.panel import Panel
    from rich.table import Table

    table = Table.grid(padding=(0, 2))
    budget = "unlimited" if p.budget is None else str(p.budget)
    table.add_row("candidates", f"{p.candidates} / {budget}")
    table.add_row("running", ", ".join(p.running) or "-")
    table.add_row("best (search split)", f"{_f(p.best)}  {p.best_id or ''}")
    table.add_row("best source (search split)", f"{_f(p.best_source)}  {p.best_source_name or ''}")
    table.add_row("LLM spend", f"{p.tokens} tokens, ${p.dollars:.4f}")
    return Panel(table, title=f"clade run {p.session} ({p.strategy})")


def make_display(stream: TextIO | None = None) -> Display:
    stream = stream or sys.stderr
    return RichDisplay(stream) if stream.isatty() else PlainDisplay(stream)
