"""Issue 18 item 4: `clade --version`, `clade sessions`, the README's command list against `clade --help`."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from agents.budget import BudgetConfig
from agents.session import records
from tests.review.fixtures import clade

ROOT = Path(__file__).resolve().parents[2]


def test_version_prints_the_checkout_version_and_exits_0(capsys, monkeypatch):
    import tomllib

    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    try:
        clade(monkeypatch, "--version")
    except SystemExit as exc:
        assert exc.code == 0
    assert capsys.readouterr().out.startswith(f"clade {version} (Python ")


def test_sessions_lists_each_session_with_budget_counts_and_best(zoo, monkeypatch, capsys):
    ws, archive, ids = zoo
    records.save(
        ws,
        records.SessionRecord(
            id="s1",
            strategy="llm",
            seed=3,
            backend="local",
            status="finished",
            budget=BudgetConfig(candidates=8, dollars=2.0),
            stop_reason="budget reached",
            runs=[records.Run(wall_s=42.0, ended=True)],
        ),
    )
    (records.sessions_dir(ws) / "s-broken.json").write_text("{not json")
    assert clade(monkeypatch, "sessions", "--workspace", str(ws.root)) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:4] == ["SESSION", "STRATEGY", "STATUS", "BUDGET"]
    s1 = next(line for line in out if line.startswith("s1 "))
    assert "8 candidates, $2.00" in s1 and "3 (2 succeeded, 1 failed)" in s1 and f"{ids['ta']} 0.6000" in s1
    assert "42 s" in s1 and s1.endswith("budget reached")
    broken = next(line for line in out if line.startswith("s-broken"))
    assert "unreadable" in broken and "s-broken.json: not a session record" in broken
    assert clade(monkeypatch, "sessions", "--json", "--workspace", str(ws.root)) == 0
    rows = {r["id"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["s1"]["candidates"] == {"succeeded": 2, "failed": 1} and rows["s1"]["best"] == ids["ta"]
    assert "error" in rows["s-broken"]


def test_sessions_without_any(workspace, monkeypatch, capsys):
    assert clade(monkeypatch, "sessions", "--workspace", str(workspace.root)) == 0
    assert capsys.readouterr().out.strip() == "no sessions recorded yet (`clade run` starts one)"


def help_commands() -> set[str]:
    out = subprocess.run([sys.executable, "-m", "agents.cli", "--help"], capture_output=True, text=True, cwd=ROOT, check=True).stdout
    return set(re.findall(r"^    ([a-z]+)(?:  |\n)", out, re.M))


def readme_block() -> str:
    return (ROOT / "README.md").read_text().split("## Commands\n", 1)[1].split("```", 2)[1]


def readme_segments() -> dict[str, str]:
    """Command -> the README text describing it (from `clade NAME` to the next `clade `)."""
    out: dict[str, str] = {}
    for piece in re.split(r"(?=(?<![\w-])clade [a-z])", readme_block()):
        if m := re.match(r"clade ([a-z]+)", piece):
            out[m.group(1)] = out.get(m.group(1), "") + piece
    return out


def option_flags(parser) -> list[str]:
    """The long options of a parser and of its subcommands (`clade sandbox exec --timeout`)."""
    flags = []
    for action in parser._actions:
        if action.__class__.__name__ == "_SubParsersAction":
            flags += [f for child in action.choices.values() for f in option_flags(child)]
        flags += [f for f in action.option_strings[-1:] if f.startswith("--") and f not in ("--help", "--workspace")]
    return flags


def test_the_readme_command_list_matches_clade_help():
    assert set(readme_segments()) == help_commands()


def test_every_flag_of_every_command_is_in_the_readme_list():
    from agents.cli import build_parser

    sub = next(a for a in build_parser()._actions if a.__class__.__name__ == "_SubParsersAction")
    segments = readme_segments()
    missing = [
        f"clade {name} {flag}"
        for name, command in sub.choices.items()
        for flag in option_flags(command)
        if flag not in segments.get(name, "")
    ]
    assert not missing, f"flags of `clade --help` missing from the README's command list: {missing}"


def test_run_dry_run_on_a_fresh_workspace_records_nothing(workspace, monkeypatch, capsys):
    before = sorted(p.relative_to(workspace.root) for p in workspace.root.rglob("*"))
    assert clade(monkeypatch, "run", "--dry-run", "--budget", "7", "--workspace", str(workspace.root)) == 0
    out = capsys.readouterr().out
    assert sorted(p.relative_to(workspace.root) for p in workspace.root.rglob("*")) == before  # no archive, no .clade
    assert "strategy  evolution (seed 0)" in out and "budget    7 candidates" in out and "2 slot(s)" in out
    assert (
        "adder (models/adder): not recorded yet" in out
        and "sort (generation, fitness metric char_accuracy, weight 1): 100 search, 200 test" in out
    )
    assert (
        "first proposals (2):" in out
        and "1. evolution from base, adder, reverser, sorter:" in out
        and "merge_method: task_arithmetic" in out
    )
    assert "&id" not in out
    assert clade(monkeypatch, "run", "--dry-run", "--json", "--workspace", str(workspace.root)) == 0
    plan = json.loads(capsys.readouterr().out)
    assert [s["name"] for s in plan["sources"]] == ["base", "adder", "reverser", "sorter"] and len(plan["proposals"]) == 2
    assert plan["proposals"][0]["genotype"]["recipe"]["merge_method"] == "task_arithmetic" and plan["budget"] == "40 candidates"


def test_run_dry_run_on_an_archive_reads_it_and_writes_nothing(zoo, monkeypatch, capsys):
    ws, archive, ids = zoo
    head, count = archive.notes.head(), len(archive.refs.candidate_ids())
    assert clade(monkeypatch, "run", "--dry-run", "--workspace", str(ws.root)) == 0
    out = capsys.readouterr().out
    assert f"adder (models/adder): {ids['adder']}: search 0.3000, test 0.2500" in out and "candidates (read, not written)" in out
    assert f"evolution from {ids['base']} (base), {ids['adder']} (adder)" in out  # the base is measured as a root too
    assert archive.notes.head() == head and len(archive.refs.candidate_ids()) == count and not records.sessions_dir(ws).exists()


def test_run_dry_run_does_not_spend_on_a_paid_llm(zoo, monkeypatch, capsys):
    ws, archive, ids = zoo
    config = ws.root / "clade.yaml"
    config.write_text(config.read_text() + "planner: {llm: {model: openai/gpt-4o-mini, api_key_env: CLADE_NO_SUCH_KEY_SET}}\n")
    monkeypatch.setenv("CLADE_NO_SUCH_KEY_SET", "sk-not-used-0000")
    assert clade(monkeypatch, "run", "--dry-run", "--planner", "llm", "--workspace", str(ws.root)) == 0
    out = capsys.readouterr().out
    assert "strategy  llm (seed 0), LLM openai/gpt-4o-mini" in out
    assert "first proposals (0): not drawn: the llm strategy would ask openai/gpt-4o-mini, and a dry run spends nothing" in out


def test_the_new_read_only_commands_import_no_torch_transformers_or_litellm(zoo):
    ws, archive, ids = zoo
    root = str(ws.root)
    calls = [
        ["sessions", "--workspace", root],
        ["diff", "adder", ids["ta"], "--workspace", root],
        ["review", "--workspace", root],
        ["candidates", "--review", "none", "--session", "s1", "--workspace", root],
        ["lineage", "sorter", "--workspace", root],
        ["show", "sorter", "--workspace", root],
    ]
    probe = (
        "import sys, io, contextlib; from agents.cli import main\n"
        f"with contextlib.redirect_stdout(io.StringIO()): codes = [main(argv) for argv in {calls!r}]\n"
        "print('HEAVY', [m for m in ('torch', 'transformers', 'litellm') if m in sys.modules], codes)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}
    )
    assert done.stdout.splitlines()[-1] == "HEAVY [] [0, 0, 0, 0, 0, 0]", done.stderr
