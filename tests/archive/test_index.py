"""The SQLite index: a cache rebuilt from git alone, repaired on open, refused when newer."""

import sqlite3

import pytest

from archive.index import INDEX_FILE, TABLES
from archive.refs import CANDIDATES
from archive.store import Archive
from tools.errors import BadInput

from .conftest import merge, open_archive, source, succeed


def dump(archive: Archive) -> dict:
    rows = {t: sorted(archive.index.query(f"SELECT * FROM {t}")) for t in TABLES}
    rows["meta"] = sorted(archive.index.query("SELECT * FROM meta"))
    return rows


def populate(archive: Archive) -> list[str]:
    a, b = source(archive, "a"), source(archive, "b")
    succeed(archive, a, 0.2)
    ids = [a, b]
    for i in range(6):
        m = merge(archive, [ids[-1], ids[i % 2]], weight=i / 10)
        succeed(archive, m, 0.3 + i / 20, arc={"acc": i / 10, "acc_norm": 1 - i / 10})
        ids.append(m)
    return ids


def test_reindex_equals_the_incremental_index(archive):
    populate(archive)
    merge(archive, [source(archive, "c")])  # no result: its state is the record as recorded
    incremental = dump(archive)
    archive.reindex()
    assert dump(archive) == incremental


def test_a_deleted_index_is_rebuilt_on_open(tmp_path):
    with open_archive(tmp_path / "arc") as a:
        ids = populate(a)
        before = dump(a)
    (tmp_path / "arc" / INDEX_FILE).unlink()
    with Archive.open(tmp_path / "arc") as again:
        assert dump(again) == before and again.get(ids[-1]).fitness() == pytest.approx(0.55)


def test_an_index_behind_git_catches_up_on_open(tmp_path):
    with open_archive(tmp_path / "arc") as a:
        ids = populate(a)
        full = dump(a)
        with a.index.transaction() as ix:  # as if the writer died after git, before the index
            ix.delete(ids[-1])
            ix.set_meta("notes_head", "")
    with Archive.open(tmp_path / "arc") as again:
        assert dump(again) == full


def test_a_corrupt_index_file_is_rebuilt(tmp_path):
    with open_archive(tmp_path / "arc") as a:
        ids = populate(a)
    (tmp_path / "arc" / INDEX_FILE).write_bytes(b"this is not sqlite" * 100)
    with Archive.open(tmp_path / "arc") as again:
        assert len(again.candidates()) == len(ids)


def test_an_index_from_a_newer_schema_is_refused_untouched(tmp_path):
    with open_archive(tmp_path / "arc") as a:
        populate(a)
    db = sqlite3.connect(tmp_path / "arc" / INDEX_FILE)
    db.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    db.commit()
    db.close()
    before = (tmp_path / "arc" / INDEX_FILE).read_bytes()
    with pytest.raises(BadInput, match="index schema 99 is newer"):
        Archive.open(tmp_path / "arc")
    assert (tmp_path / "arc" / INDEX_FILE).read_bytes() == before


def test_a_candidate_ref_removed_from_git_leaves_the_index(tmp_path):
    with open_archive(tmp_path / "arc") as a:
        ids = populate(a)
    (tmp_path / "arc" / CANDIDATES / ids[-1]).unlink()
    with Archive.open(tmp_path / "arc") as again:
        assert ids[-1] not in {c.id for c in again.candidates()}
