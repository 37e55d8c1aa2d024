"""Issue 12 (fuzz, candidate ids and listing options): every command taking an id, given a malformed, unknown or
ambiguous one, exits 2 with one line and changes nothing. CASES counts the generated cases."""

from __future__ import annotations

import pytest

from tests.review.fixtures import clade, make_workspace, open_archive, populate

MALFORMED = [
    "",
    " ",
    "zzzz",
    "abc",
    "0",
    "12",
    "../etc/passwd",
    "-",
    "--",
    "%s%n",
    "{id}",
    "a\nb",
    "ｆｆｆｆ",
    "é" * 3,
    "f" * 41,
    "0" * 4000,
    "HEAD",
    "refs/heads/main",
    "*",
    "?",
    "\t",
    "null",
    "None",
    "1e9",
    "ffff\x00",
]
UNKNOWN = ["ffffffff", "00000000", "0123456789abcdef0123", "deadbeef" * 5]
COMMANDS = {  # argv around the id; an export's OUT_DIR must not be created
    "show": lambda i, out: ["show", i],
    "lineage": lambda i, out: ["lineage", i],
    "diff a": lambda i, out: ["diff", i, "adder"],
    "diff b": lambda i, out: ["diff", "adder", i],
    "approve": lambda i, out: ["approve", i],
    "reject": lambda i, out: ["reject", i, "--reason", "no"],
    "export": lambda i, out: ["export", i, str(out)],
}
LISTING = [
    ["candidates", "--split", "bogus"],
    ["candidates", "--top", "-5"],
    ["candidates", "--top", "0"],
    ["candidates", "--top", "x"],
    ["candidates", "--split", ""],
    ["review", "--top", "-1"],
    ["candidates", "--status", "nope"],
]


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    """The review tests' fixture archive, built once for the module (every case here only reads it)."""
    workspace = make_workspace(tmp_path_factory.mktemp("fuzz-ids") / "ws")
    archive = open_archive(workspace)
    ids = populate(archive)
    yield workspace, archive, ids
    archive.close()


def run(monkeypatch, *argv: str) -> int:
    try:
        return clade(monkeypatch, *argv)
    except SystemExit as exc:  # argparse refused the arguments (an id that looks like an option)
        return exc.code


def state(archive):
    return archive.notes.head(), tuple(sorted(archive.refs.candidate_ids()))


def one_line_exit_2(code, capsys, *named):
    out, err = capsys.readouterr()
    assert code == 2 and out == "", (out, err)
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert all(n in err for n in named), err


@pytest.mark.parametrize("ref", MALFORMED + UNKNOWN, ids=repr)
@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_bad_candidate_id_is_one_line_and_changes_nothing(zoo, monkeypatch, capsys, tmp_path, command, ref):
    ws, archive, _ = zoo
    before = state(archive)
    code = run(monkeypatch, *COMMANDS[command](ref, tmp_path / "out"), "--workspace", str(ws.root))
    one_line_exit_2(code, capsys)
    assert state(archive) == before and not (tmp_path / "out").exists()


@pytest.mark.parametrize("command", list(COMMANDS))
def test_an_ambiguous_prefix_is_one_line(zoo, monkeypatch, capsys, tmp_path, command):
    ws, archive, _ = zoo
    prefix = _shared_prefix(archive)
    code = run(monkeypatch, *COMMANDS[command](prefix, tmp_path / "out"), "--workspace", str(ws.root))
    one_line_exit_2(code, capsys, "ambiguous")


def _shared_prefix(archive) -> str:
    """A 4-digit prefix two candidates share: candidates are recorded until two do (ids are hashes)."""
    from archive.record import Candidate

    n = 0
    while True:
        by_prefix = {}
        for cid in archive.refs.candidate_ids():
            by_prefix.setdefault(cid[:4], []).append(cid)
        shared = [p for p, group in by_prefix.items() if len(group) > 1]
        if shared:
            return shared[0]
        archive.record(Candidate(kind="source", genotype={"name": f"filler{n}", "path": f"models/filler{n}"}))
        n += 1


@pytest.mark.parametrize("argv", LISTING, ids=" ".join)
def test_bad_listing_options_are_exit_2(zoo, monkeypatch, capsys, argv):
    ws = zoo[0]
    assert run(monkeypatch, *argv, "--workspace", str(ws.root)) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1 and argv[1] in err


CASES = len(COMMANDS) * (len(MALFORMED) + len(UNKNOWN) + 1) + len(LISTING)
