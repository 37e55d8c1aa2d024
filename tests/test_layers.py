"""The layering of README.md's "Architecture" holds: the import-linter contracts of pyproject.toml
are kept, and no module imports itself through others (no cycles). Both read every import,
function-level and TYPE_CHECKING ones included, so a lazy import cannot reach upward unseen."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("agents", "tools", "sandbox", "archive")
LINT = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"
# Cycles left to another change, each with who removes it. The test fails on any other cycle,
# and on one of these once it is gone (so the entry is removed with it).
KNOWN_CYCLES: list[set[str]] = []


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", LINT, "--no-cache"], cwd=root, capture_output=True, text=True, timeout=300)


def test_the_import_contracts_are_kept():
    run = lint_imports(ROOT)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "0 broken" in run.stdout


def test_a_function_level_import_reaching_upward_breaks_the_contract(tmp_path: Path):
    for name in PACKAGES:
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__", "static"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    with (tmp_path / "tools" / "errors.py").open("a") as errors:
        errors.write("\n\ndef _upward():\n    from archive.store import Archive\n\n    return Archive\n")
    run = lint_imports(tmp_path)
    assert run.returncode == 1 and "BROKEN" in run.stdout, run.stdout[-4000:]
    assert "tools.errors -> archive.store" in run.stdout


def test_no_import_cycles():
    cycles = import_cycles(grimp.build_graph(*PACKAGES, cache_dir=None))
    assert [c for c in cycles if c not in KNOWN_CYCLES] == [], "import cycles (break each one)"
    assert [c for c in KNOWN_CYCLES if c not in cycles] == [], "a known cycle is gone: remove it from KNOWN_CYCLES"


def import_cycles(graph) -> list[set[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(component)
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return found
