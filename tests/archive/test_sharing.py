"""Sharing: push and pull through an ordinary git remote; notes from both sides merge; bundles."""

import subprocess

import pytest

from archive import Review
from archive.sharing import bundle, pull, push
from tools.errors import BadInput

from .conftest import git, git_fsck_ok, merge, open_archive, source, succeed


@pytest.fixture
def remote(tmp_path):
    path = tmp_path / "remote.git"
    subprocess.run(["git", "init", "--bare", "-q", str(path)], check=True)
    return path


def test_two_hosts_share_one_lineage(tmp_path, remote):
    with open_archive(tmp_path / "host1") as one:
        a = source(one, "a")
        m = merge(one, [a])
        succeed(one, m, 0.5)
        push(one, str(remote))
        with open_archive(tmp_path / "host2") as two:
            assert pull(two, str(remote)) == 2
            assert two.get(m).fitness() == 0.5
            # both hosts now work on the same candidate and on new ones
            two.attach_review(m, Review(verdict="approved", comment="from host 2", who="bo"))
            n2 = merge(two, [m], weight=0.2)
            one.attach_review(m, Review(verdict="comment", comment="from host 1", who="ana"))
            n1 = merge(one, [m], weight=0.8)
            push(two, str(remote))
            with pytest.raises(BadInput, match="pull first"):
                push(one, str(remote))  # the remote's notes moved on
            assert pull(one, str(remote)) == 1
            push(one, str(remote))
            assert pull(two, str(remote)) == 1
            for host in (one, two):
                state = host.get(m)
                assert sorted(r.comment for r in state.reviews) == ["from host 1", "from host 2"]
                assert state.fitness() == 0.5
                assert {c.id for c in host.candidates()} == {a, m, n1, n2}
                assert set(host.descendants(m)) == {n1, n2}
                assert git_fsck_ok(host.git_dir)
            assert one.get(m) == two.get(m)


def test_pull_from_something_that_is_not_an_archive(tmp_path, remote):
    with open_archive(tmp_path / "host") as archive:
        with pytest.raises(BadInput, match="not a Clade archive"):
            pull(archive, str(remote))
        with pytest.raises(BadInput, match="reading remote"):
            pull(archive, str(tmp_path / "nowhere"))


def test_a_bundle_carries_the_whole_lineage(tmp_path):
    with open_archive(tmp_path / "host") as archive:
        a = source(archive, "a")
        m = merge(archive, [a])
        succeed(archive, m, 0.7)
        out = bundle(archive, tmp_path / "lineage.bundle")
    heads = git(tmp_path / "host", "bundle", "list-heads", str(out))
    assert f"refs/candidates/{m}" in heads and "refs/notes/clade" in heads
    with open_archive(tmp_path / "elsewhere") as other:
        assert pull(other, str(out)) == 2
        assert other.get(m).fitness() == 0.7


def test_bundle_refuses_an_existing_file_unless_forced(tmp_path, capsys):
    from agents.cli import main

    (tmp_path / "clade.yaml").write_text("version: 1\n")
    with open_archive(tmp_path / "archive") as archive:
        source(archive, "a")
    precious = tmp_path / "clade.yaml"
    before = precious.read_bytes()
    assert main(["archive", "bundle", str(precious), "--workspace", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "exists; give a new file name, or --force" in err and err.count("\n") == 1
    assert precious.read_bytes() == before
    (tmp_path / "old.bundle").write_text("an old bundle")
    assert main(["archive", "bundle", str(tmp_path / "old.bundle"), "--force", "--workspace", str(tmp_path)]) == 0
    assert "refs/candidates/" in git(tmp_path / "archive", "bundle", "list-heads", str(tmp_path / "old.bundle"))


@pytest.mark.parametrize("case", ["a directory", "missing parent", "under a file", "read-only file system", "empty", "too long"])
def test_bundle_to_an_unusable_target_exits_2_with_one_line(tmp_path, capsys, case):
    from agents.cli import main

    (tmp_path / "clade.yaml").write_text("version: 1\n")
    with open_archive(tmp_path / "archive") as archive:
        source(archive, "a")
    (tmp_path / "dir").mkdir()
    target = {
        "a directory": str(tmp_path / "dir"),
        "missing parent": str(tmp_path / "no" / "x.bundle"),
        "under a file": str(tmp_path / "clade.yaml" / "x.bundle"),
        "read-only file system": "/proc/x.bundle",
        "empty": "",
        "too long": str(tmp_path / ("b" * 300)),
    }[case]
    before = sorted(p.name for p in tmp_path.iterdir())
    assert main(["archive", "bundle", target, "--force", "--workspace", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == before and list((tmp_path / "dir").iterdir()) == []


def test_a_relative_remote_is_the_users_not_the_archives(tmp_path, remote, monkeypatch):
    """git runs (through GitPython) where the user runs clade: `push remote.git` means ./remote.git."""
    monkeypatch.chdir(tmp_path)
    with open_archive(tmp_path / "host1") as one:
        succeed(one, merge(one, [source(one, "a")]), 0.5)
        push(one, "remote.git")
        with open_archive(tmp_path / "host2") as two:
            assert pull(two, "remote.git") == 2
        with pytest.raises(BadInput, match="no-such.git"):
            push(one, "no-such.git")
