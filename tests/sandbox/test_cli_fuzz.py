"""Issue 12 (fuzz, `clade sandbox exec`): generated bad options, configurations and job folders are exit 2 with
one line, no traceback, and leave no job directory behind. CASES counts the generated cases."""

from __future__ import annotations

import os

import pytest

TIMEOUTS = ["nan", "inf", "-inf", "0", "-5", "0.001", "1e308", "x", "", "NaN", "1e-9", "0x10"]
MEMORIES = ["-1", "0", "1", "15", "x", "1.5", "", "-99999999999"]
BACKENDS = ["nope", "", "LOCAL"]
CONFIGS = [
    "sandbox: {limits: {wall_s: .nan}}\n",
    "sandbox: {limits: {wall_s: 0}}\n",
    "sandbox: {limits: {memory_mb: -1}}\n",
    "sandbox: {backend: nope}\n",
    "sandbox: []\n",
    "- a list\n",
    "sandbox: {limits: {wall_s: .inf}}\n",
    "\xff\n",
    "sandbox: {limits: {wall_s: 0.001}}\n",
    "sandbox: {jobs_dir: [1]}\n",
]
JOBS_DIRS = ["under-a-file", "read-only", "too-long-name", "missing-parent-file"]


def run(*argv: str) -> int:
    import agents.cli

    try:
        return agents.cli.main(["sandbox", "exec", *argv])
    except SystemExit as exc:
        return exc.code


def one_line_exit_2(code, capsys, jobs) -> str:
    out, err = capsys.readouterr()
    assert code == 2 and out == "", (out, err)
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert not list(jobs.glob("clade-exec-*"))  # no job directory left behind (none even made)
    return err


@pytest.fixture
def here(tmp_path, monkeypatch):
    """A working directory with a clade.yaml whose jobs go to ./jobs, so what a run leaves is seen."""
    (tmp_path / "jobs").mkdir()
    (tmp_path / "clade.yaml").write_text(f"sandbox: {{jobs_dir: {tmp_path / 'jobs'}}}\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("value", TIMEOUTS)
def test_timeout(here, capsys, value):
    assert "--timeout" in one_line_exit_2(run("--timeout", value, "--", "true"), capsys, here / "jobs")


@pytest.mark.parametrize("value", MEMORIES)
def test_memory(here, capsys, value):
    assert "--memory" in one_line_exit_2(run("--memory", value, "--", "true"), capsys, here / "jobs")


@pytest.mark.parametrize("value", BACKENDS)
def test_backend(here, capsys, value):
    assert "--backend" in one_line_exit_2(run("--backend", value, "--", "true"), capsys, here / "jobs")


@pytest.mark.parametrize("argv", [[], ["--"], ["--json"], ["--json", "--"]], ids=repr)
def test_no_command(here, capsys, argv):
    one_line_exit_2(run(*argv), capsys, here / "jobs")


@pytest.mark.parametrize("config", CONFIGS, ids=repr)
def test_broken_clade_yaml_is_not_skipped(here, capsys, config):
    (here / "clade.yaml").write_text(config, encoding="latin-1")
    assert "clade.yaml" in one_line_exit_2(run("--", "true"), capsys, here / "jobs")


@pytest.mark.parametrize("kind", JOBS_DIRS)
def test_unusable_jobs_dir(here, capsys, kind):
    if kind == "read-only" and os.geteuid() == 0:
        pytest.skip("root writes into read-only directories")
    (here / "afile").write_text("")
    target = {
        "under-a-file": here / "afile" / "jobs",
        "read-only": here / "ro",
        "too-long-name": here / ("x" * 300),
        "missing-parent-file": here / "afile",
    }[kind]
    if kind == "read-only":
        target.mkdir(mode=0o500)
    (here / "clade.yaml").write_text(f"sandbox: {{jobs_dir: '{target}'}}\n")
    assert "jobs_dir" in one_line_exit_2(run("--", "true"), capsys, here / "jobs")


CASES = len(TIMEOUTS) + len(MEMORIES) + len(BACKENDS) + 4 + len(CONFIGS) + len(JOBS_DIRS)
