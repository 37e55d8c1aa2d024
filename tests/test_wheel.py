"""A built wheel works outside the checkout: it carries prompts/ and examples/ as package data.

The wheel is built from this checkout (no build isolation: no network), installed with no
dependencies into a fresh venv, and run from a directory outside the checkout. The fresh venv
reaches the test venv's dependencies through a .pth file, which adds their directory to
sys.path without processing the .pth files in it, so the test venv's editable install of
Clade stays out and every Clade module comes from the wheel.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def _run(argv: list[str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["OMP_NUM_THREADS"] = "1"
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{argv} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(REPO)], cwd=out)
    (built,) = out.glob("clade-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory) -> Path:
    """The bin/ directory of a fresh venv holding only the wheel (dependencies through a .pth file)."""
    venv = tmp_path_factory.mktemp("fresh") / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=venv.parent)
    _run(
        [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q", "--no-deps", "--no-index", str(wheel)],
        cwd=venv.parent,
    )
    purelib = Path(
        _run(
            [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=venv.parent
        ).stdout.strip()
    )
    (purelib / "clade-test-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv / "bin"


def test_the_wheel_carries_prompts_and_examples(wheel: Path):
    names = zipfile.ZipFile(wheel).namelist()
    for prompt in (REPO / "prompts").glob("*.md"):
        assert f"agents/_bundled/prompts/{prompt.name}" in names
    assert "agents/_bundled/examples/tiny-zoo/clade.yaml" in names
    assert "agents/_bundled/examples/tiny-zoo/models/base/model.safetensors" in names
    assert not [n for n in names if "/.clade/" in n or "__pycache__" in n]


def test_the_installed_clade_comes_from_the_wheel(installed: Path, tmp_path: Path):
    code = "import agents.prompts as p, agents.init_cmd as i; print(p.__file__); print(p.PROMPTS_DIR); print(i.EXAMPLES_DIR)"
    lines = _run([str(installed / "python"), "-c", code], cwd=tmp_path).stdout.split()
    assert all(not line.startswith(str(REPO)) for line in lines), lines
    assert lines[1].endswith("agents/_bundled/prompts") and lines[2].endswith("agents/_bundled/examples")


def test_an_installed_clade_inits_the_example_and_runs_a_session(installed: Path, tmp_path: Path):
    clade = str(installed / "clade")
    _run([clade, "init", "ws", "--example", "tiny-zoo"], cwd=tmp_path)
    ws = tmp_path / "ws"
    assert (ws / "models" / "adder" / "model.safetensors").is_file()
    done = _run([clade, "run", "--planner", "evolution", "--budget", "3", "--json"], cwd=ws)
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["candidates"] == 3 and summary["succeeded"] >= 1, summary
    rendered = _run(
        [
            str(installed / "python"),
            "-c",
            "from agents.prompts import render; print(render('merge_repair.md', error='E', round=1, rounds=3).template_hash)",
        ],
        cwd=tmp_path,
        timeout=60,
    )
    assert len(rendered.stdout.strip()) == 12
