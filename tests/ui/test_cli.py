"""`clade ui` through its command-line handler: bad input is exit 2, one line, nothing changed."""

from __future__ import annotations

import argparse
import json
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from agents.ui import cli
from tools.errors import CladeError

ROOT = Path(__file__).resolve().parents[2]


def clade_ui(argv: list[str], capsys) -> tuple[int, str]:
    """Parse and run like agents.cli.main: a CladeError becomes its exit code and one line on stderr."""
    parser = argparse.ArgumentParser(prog="clade")
    parser.add_argument("--workspace")
    cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        code = args.handler(args)
    except CladeError as exc:
        print(f"clade: error: {exc}", file=sys.stderr)
        code = exc.exit_code
    return code, capsys.readouterr().err


def tree(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("*")}


def test_a_port_in_use_is_exit_2_one_line_nothing_changed(workspace_dir, lineage, capsys):
    before = tree(workspace_dir)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, err = clade_ui(["--workspace", str(workspace_dir), "ui", "--port", str(port)], capsys)
    assert code == 2
    assert err == f"clade: error: port {port} on 127.0.0.1 is in use; pass --port\n"
    assert tree(workspace_dir) == before


def test_a_port_out_of_range_is_exit_2(workspace_dir, capsys):
    code, err = clade_ui(["--workspace", str(workspace_dir), "ui", "--port", "70000"], capsys)
    assert code == 2 and "--port 70000: not a port number" in err


def test_no_workspace_is_exit_2(tmp_path, capsys):
    code, err = clade_ui(["--workspace", str(tmp_path), "ui"], capsys)
    assert code == 2 and "clade.yaml: no such file" in err


@pytest.mark.parametrize("module", ["agents.ui.cli", "agents.ui.server"])
def test_starting_the_page_imports_no_torch_transformers_or_litellm(module):
    code = f"import {module}, sys; print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'transformers', 'litellm')))"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


DRIVER = (
    "import argparse, sys; from agents.ui import cli; p = argparse.ArgumentParser(prog='clade'); p.add_argument('--workspace'); "
    "cli.register(p.add_subparsers()); a = p.parse_args(sys.argv[1:]); sys.exit(a.handler(a))"
)


def start_ui(workspace_dir: Path, *argv: str) -> tuple[subprocess.Popen, str]:
    """`clade ui` in its own process; returns it and the address it printed."""
    import re

    proc = subprocess.Popen(
        [sys.executable, "-c", DRIVER, "--workspace", str(workspace_dir), "ui", "--port", "0", *argv],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # a test run started in the background inherits SIGINT ignored, and Python then never raises
        # KeyboardInterrupt: give the child the default, as a terminal would
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    line = proc.stdout.readline()
    found = re.search(r"(http://\S+)", line)
    if not found:
        proc.kill()
        raise AssertionError(f"`clade ui` printed {line!r}; stderr: {proc.communicate()[1]}")
    return proc, found.group(1)


def stopped(proc: subprocess.Popen) -> int:
    """The exit code once `clade ui` has stopped; its pipes are drained meanwhile (a full pipe would block it)."""
    try:
        _, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        raise AssertionError(f"`clade ui` did not stop on SIGINT within 120 s; stderr: {err[-3000:]}") from None
    assert proc.returncode == 0, err[-3000:]
    return proc.returncode


def test_the_command_serves_until_interrupted(workspace_dir, lineage):
    import signal
    import urllib.request

    proc, url = start_ui(workspace_dir)
    try:
        assert url.startswith("http://127.0.0.1:") and "token" not in url
        with urllib.request.urlopen(url + "api/overview", timeout=30) as res:
            assert json.loads(res.read())["total"] == 6
    finally:
        proc.send_signal(signal.SIGINT)
        assert stopped(proc) == 0


def test_elsewhere_than_loopback_a_token_is_generated_and_required(workspace_dir, lineage):
    import signal
    import urllib.error
    import urllib.request

    proc, url = start_ui(workspace_dir, "--host", "0.0.0.0")
    try:
        base, token = url.split("?token=")
        assert len(token) >= 32
        local = base.replace("0.0.0.0", "127.0.0.1")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(local + "api/version", timeout=30)
        assert refused.value.code == 401
        with urllib.request.urlopen(urllib.request.Request(local + "api/version", headers={"X-Clade-Token": token}), timeout=30) as res:
            assert res.status == 200
    finally:
        proc.send_signal(signal.SIGINT)
        assert stopped(proc) == 0
