"""The live display: plain lines when not a terminal, a rich panel otherwise."""

from __future__ import annotations

import io

from agents.session.display import PlainDisplay, Progress, RichDisplay, make_display

PROGRESS = Progress(
    session="s-1",
    strategy="evolution",
    candidates=3,
    budget=40,
    running=["ab12"],
    best_id="cd34",
    best=0.8123,
    best_source=0.8099,
    best_source_name="sorter",
    tokens=1200,
    dollars=0.0042,
)


def test_not_a_terminal_gets_plain_lines_once_per_change():
    out = io.StringIO()
    display = make_display(out)
    assert isinstance(display, PlainDisplay)
    display.update(PROGRESS)
    display.update(PROGRESS)
    display.line("cd34 succeeded")
    assert out.getvalue().splitlines() == [
        "[s-1] 3/40 candidates | running 1 | search split: best 0.8123 (cd34) vs best source 0.8099 (sorter) | LLM 1200 tokens $0.0042",
        "cd34 succeeded",
    ]


def test_rich_panel_shows_budget_running_best_and_spend():
    out = io.StringIO()
    display = RichDisplay(out)
    display.update(PROGRESS)
    display.close()
    text = out.getvalue()
    for part in ("3 / 40", "ab12", "0.8123", "0.8099", "sorter", "search split", "1200 tokens, $0.0042", "s-1"):
        assert part in text
