"""What `make test` checks beyond behaviour: ruff's lint and ruff's format over the whole
checkout, and mypy over the ports (pyproject.toml's [tool.ruff] and
[tool.mypy] say what and why). Each runs the venv's own tool, as a person would from the root."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *argv], cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_ruff_lint_passes():
    result = run("ruff", "check", "--no-cache", "--output-format", "concise", ".")
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]


def test_the_checkout_is_formatted():
    """`ruff format .` from the root fixes what this finds."""
    result = run("ruff", "format", "--no-cache", "--check", "--diff", ".")
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]


def test_mypy_passes_on_the_ports():
    result = run("mypy")  # its cache (.mypy_cache, ignored by git) makes a second run take seconds
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "Success" in result.stdout


def test_the_optional_extras_are_in_the_test_lock():
    """The tests that need an extra skip without it (importorskip), so `make test` must install it."""
    pinned = {line.split("==")[0] for line in (ROOT / "requirements" / "test.txt").read_text().splitlines() if "==" in line}
    assert {"lm-eval", "ray", "playwright"} <= pinned
