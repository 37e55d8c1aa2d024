"""The command evaluator runs real processes: metrics, failures, and a timeout that kills the group."""

from __future__ import annotations

import os
import sys
import time

import pytest

from tools.errors import BadInput
from tools.evaluate.command import CommandFailed, run_command_evaluator


def _py(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_last_stdout_line_is_the_metrics(tmp_path):
    (tmp_path / "score.txt").write_text("0.75", encoding="utf-8")
    code = "import json; print('warming up'); print(json.dumps({'acc': float(open('score.txt').read()), 'n': 3}))\nprint()"
    assert run_command_evaluator(_py(code), tmp_path, timeout_s=30) == {"acc": 0.75, "n": 3.0}


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("import sys; print('{\"acc\": 1}'); sys.stderr.write('boom\\n'); sys.exit(3)", "exited with status 3: boom"),
        ("print('accuracy: 0.5')", "did not print a JSON object on its last stdout line"),
        ("print('[1, 2]')", "did not print a JSON object"),
        ('print(\'{"acc": "high"}\')', "metric 'acc' = 'high'"),
        ("print('{\"ok\": true}')", "metric 'ok' = True"),
        ("print('{\"acc\": NaN}')", "finite number"),
    ],
)
def test_failures_are_the_candidates(tmp_path, code, message):
    with pytest.raises(CommandFailed, match=message) as info:
        run_command_evaluator(_py(code), tmp_path, timeout_s=30)
    assert info.value.exit_code == 1


def test_timeout_kills_the_whole_process_group(tmp_path):
    pidfile = tmp_path / "child.pid"
    code = (
        "import subprocess, sys, time; p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)']);"
        f"open({str(pidfile)!r}, 'w').write(str(p.pid)); time.sleep(300)"
    )
    with pytest.raises(CommandFailed, match="timed out after 2 s"):
        run_command_evaluator(_py(code), tmp_path, timeout_s=2)
    child = int(pidfile.read_text())
    for _ in range(50):  # the kill is sent; give the kernel a moment to reap it
        if not _alive(child):
            break
        time.sleep(0.1)
    assert not _alive(child), "the grandchild outlived the timeout"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_missing_program_is_bad_input(tmp_path):
    with pytest.raises(BadInput, match="'no-such-evaluator' not found"):
        run_command_evaluator(["no-such-evaluator"], tmp_path, timeout_s=5)
    with pytest.raises(BadInput, match="empty"):
        run_command_evaluator([], tmp_path, timeout_s=5)
    assert os.path.isdir(tmp_path)


def test_missing_working_directory_is_named_as_such(tmp_path):
    with pytest.raises(BadInput, match="working directory .*nowhere does not exist"):
        run_command_evaluator(["true"], tmp_path / "nowhere", timeout_s=5)


def test_a_program_that_cannot_start_is_the_candidates_failure(tmp_path):
    script = tmp_path / "eval.sh"
    script.write_text("#!/bin/sh\necho '{\"fitness\": 1}'\n")  # not executable
    with pytest.raises(CommandFailed, match="eval.sh` could not be started: Permission denied"):
        run_command_evaluator([str(script)], tmp_path, timeout_s=5)
