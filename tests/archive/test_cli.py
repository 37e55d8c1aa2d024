"""The read-only commands: output, --json, exit codes, bad input that modifies nothing, light imports."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from agents.cli import main
from archive import ResultEvent
from archive.index import INDEX_FILE, INDEX_SCHEMA
from archive.refs import MARKER

from .conftest import git, merge, open_archive, source, succeed

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def ws(tmp_path):
    (tmp_path / "clade.yaml").write_text("version: 1\n")
    with open_archive(tmp_path / "archive") as archive:
        a, b = source(archive, "a"), source(archive, "b")
        m = merge(archive, [a, b])
        succeed(archive, m, 0.6, arc={"acc": 0.6})
        f = merge(archive, [m], weight=0.9)
        archive.attach_result(f, ResultEvent(status="failed", reason="out of memory"))
    return tmp_path, dict(a=a, b=b, m=m, f=f)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def snapshot(root: Path, skip: tuple[str, ...] = ()) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file() and not p.name.startswith(skip)}


def test_candidates_json_and_table(ws, capsys):
    root, ids = ws
    code, out, _ = run(capsys, "candidates", "--json", "--workspace", str(root))
    rows = json.loads(out)
    assert code == 0 and len(rows) == 4
    assert {"id", "kind", "status", "parents", "fitness"} <= rows[0].keys()
    assert rows[0]["id"] == ids["m"] and rows[0]["parents"] == [ids["a"], ids["b"]] and rows[0]["fitness"] == 0.6
    _, out, _ = run(capsys, "candidates", "--status", "failed", "--json", "--workspace", str(root))
    assert [r["id"] for r in json.loads(out)] == [ids["f"]]
    _, out, _ = run(capsys, "candidates", "--top", "1", "--workspace", str(root))
    assert out.splitlines()[0].split()[:3] == ["ID", "KIND", "STATUS"] and len(out.splitlines()) == 2 and ids["m"] in out


def test_the_workspace_is_found_from_the_current_directory(ws, capsys, monkeypatch):
    root, ids = ws
    (root / "sub").mkdir()
    monkeypatch.chdir(root / "sub")
    code, out, _ = run(capsys, "candidates", "--json")
    assert code == 0 and len(json.loads(out)) == 4


def test_show_lineage_diff(ws, capsys):
    root, ids = ws
    code, out, _ = run(capsys, "show", ids["f"][:6], "--workspace", str(root))
    assert code == 0 and f"candidate {ids['f']}  merge  failed: out of memory" in out and "merge_method: linear" in out
    _, out, _ = run(capsys, "show", ids["m"], "--json", "--workspace", str(root))
    assert json.loads(out)["metrics"]["search"]["tasks"] == {"arc": {"acc": 0.6}}
    _, out, _ = run(capsys, "lineage", ids["f"], "--workspace", str(root))
    assert out.splitlines()[0].startswith(f"{ids['f']} merge failed")
    assert f"└── {ids['m']}" in out and f"    ├── {ids['a']}" in out and f"    └── {ids['b']}" in out
    _, out, _ = run(capsys, "lineage", ids["a"], "--json", "--workspace", str(root))
    assert json.loads(out) == {"id": ids["a"], "ancestors": [], "descendants": [ids["m"], ids["f"]]}
    code, out, _ = run(capsys, "diff", ids["m"], ids["f"], "--workspace", str(root))
    assert code == 0 and "-    weight: 0.5" in out and "+    weight: 0.9" in out


def test_unknown_and_malformed_ids_exit_2_with_one_line(ws, capsys):
    root, _ = ws
    for bad in ("0000000000", "not-an-id"):
        code, out, err = run(capsys, "show", bad, "--workspace", str(root))
        assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and "candidate" in err


def test_reindex_and_fsck(ws, capsys):
    root, ids = ws
    code, out, _ = run(capsys, "archive", "reindex", "--workspace", str(root))
    assert code == 0 and "reindexed 4 candidates" in out
    code, out, _ = run(capsys, "archive", "fsck", "--workspace", str(root))
    assert code == 0 and out.startswith("ok: 4 candidates")
    marker = git(root / "archive", "rev-parse", MARKER).strip()
    git(root / "archive", "-c", "user.name=x", "-c", "user.email=x@y", "notes", "--ref=clade", "add", "-m", "stray", marker)
    code, out, err = run(capsys, "archive", "fsck", "--workspace", str(root))
    assert code == 2 and "a note on the archive marker (refs/clade/archive), which is not a candidate" in out
    assert f"notes --ref=clade remove {marker}`" in out and "1 problems in 4 candidates" in err


def test_a_foreign_repository_is_refused_untouched(tmp_path, capsys):
    (tmp_path / "clade.yaml").write_text("version: 1\narchive:\n  path: code\n")
    repo = tmp_path / "code"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "f.txt").write_text("hello\n")
    subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=x", "-c", "user.email=x@y", "commit", "-qam", "x", "--allow-empty"], check=True
    )
    before = snapshot(repo)
    code, out, err = run(capsys, "candidates", "--workspace", str(tmp_path))
    assert code == 2 and "not a Clade archive" in err and len(err.strip().splitlines()) == 1
    assert snapshot(repo) == before


def test_a_missing_or_non_git_archive_is_bad_input(tmp_path, capsys):
    (tmp_path / "clade.yaml").write_text("version: 1\n")
    code, _, err = run(capsys, "candidates", "--workspace", str(tmp_path))
    assert code == 2 and "no archive here yet" in err and not (tmp_path / "archive").exists()
    (tmp_path / "archive").mkdir()
    (tmp_path / "archive" / "notes.txt").write_text("x")
    code, _, err = run(capsys, "candidates", "--workspace", str(tmp_path))
    assert code == 2 and "not a git repository" in err


def test_a_corrupt_archive_exits_2_and_is_not_modified(ws, capsys):
    root, ids = ws
    arc = root / "archive"
    marker = git(arc, "rev-parse", MARKER).strip()
    (arc / "objects" / marker[:2] / marker[2:]).unlink()
    before = snapshot(arc)
    code, _, err = run(capsys, "candidates", "--workspace", str(root))
    assert code == 2 and "corrupt Clade archive" in err
    assert snapshot(arc) == before


def test_missing_candidate_objects_exit_2(ws, capsys):
    root, ids = ws
    arc = root / "archive"
    for pack in (arc / "objects" / "pack").iterdir():  # candidates' objects live in packs; lose them all
        pack.unlink()
    (arc / INDEX_FILE).unlink()
    before = snapshot(arc, skip=("clade-index", "clade.lock"))
    code, _, err = run(capsys, "candidates", "--workspace", str(root))
    assert code == 2 and "corrupt" in err and len(err.strip().splitlines()) == 1
    assert snapshot(arc, skip=("clade-index", "clade.lock")) == before


def test_an_index_from_a_newer_clade_exits_2(ws, capsys):
    root, _ = ws
    db = sqlite3.connect(root / "archive" / INDEX_FILE)
    db.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(INDEX_SCHEMA + 1),))
    db.commit()
    db.close()
    code, _, err = run(capsys, "candidates", "--workspace", str(root))
    assert code == 2 and "newer" in err


def test_read_only_commands_import_no_torch(ws):
    root, ids = ws
    probe = (
        "import sys; from agents.cli import main; "
        f"codes = [main(['candidates', '--json', '--workspace', {str(root)!r}]), main(['show', {ids['m']!r}, '--workspace', {str(root)!r}])]; "
        "heavy = [m for m in ('torch', 'transformers', 'litellm') if m in sys.modules]; "
        "print('HEAVY', heavy, codes)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)}
    ).stdout
    assert out.splitlines()[-1] == "HEAVY [] [0, 0]"


def test_fsck_lists_a_corrupt_candidate_instead_of_refusing_to_open(ws, capsys):
    root, ids = ws
    marker = git(root / "archive", "rev-parse", MARKER).strip()
    git(root / "archive", "update-ref", f"refs/candidates/{marker[:10]}", marker)  # a "candidate" with no record
    (root / "archive" / INDEX_FILE).unlink()  # so opening must read it from git
    code, out, err = run(capsys, "archive", "fsck", "--workspace", str(root))
    assert code == 2 and marker[:10] in out and "problems in 5 candidates" in err
