"""Objects go into one small pack per write; small packs are merged in-process; git agrees."""

import subprocess

from archive.gitobjects import object_bytes
from archive.packs import MERGE_AT, merge_packs, pack_entries, write_pack

from .conftest import git, git_fsck_ok, merge, source, succeed


def packs(repo):
    return sorted(p.name[:-4] for p in (repo / "objects" / "pack").glob("pack-*.idx"))


def test_git_reads_our_packs(tmp_path):
    repo = tmp_path / "r.git"
    subprocess.run(["git", "init", "--bare", "-q", str(repo)], check=True)
    blob = b"hello\n"
    sha = subprocess.run(["git", "hash-object", "--stdin"], input=blob, capture_output=True, check=True).stdout.decode().strip()
    name = write_pack(repo / "objects" / "pack", pack_entries({sha: ("blob", blob), object_bytes("blob", b"")[0]: ("blob", b"")}))
    assert git(repo, "cat-file", "-p", sha) == "hello\n"
    assert (
        "ok"
        in subprocess.run(
            ["git", "verify-pack", "-v", str(repo / "objects" / "pack" / f"pack-{name}.idx")], capture_output=True, text=True
        ).stdout.splitlines()[-1]
    )


def test_many_writes_leave_few_packs_and_a_sound_repository(archive):
    a = source(archive, "a")
    ids = [merge(archive, [a], weight=i / 100) for i in range(3 * MERGE_AT)]
    for i, cid in enumerate(ids):
        succeed(archive, cid, i / 100)
    assert len(packs(archive.git_dir)) < 2 * MERGE_AT  # 193 writes
    for name in packs(archive.git_dir):
        out = subprocess.run(
            ["git", "verify-pack", str(archive.git_dir / "objects" / "pack" / f"{name}.idx")], capture_output=True, text=True
        )
        assert out.returncode == 0, out.stderr
    assert git_fsck_ok(archive.git_dir)
    assert [archive.get(cid).fitness() for cid in ids] == [i / 100 for i in range(len(ids))]
    archive.reindex()
    assert len(archive.candidates(status="succeeded")) == len(ids)


def test_packs_git_wrote_with_deltas_are_left_alone(tmp_path):
    repo = tmp_path / "r.git"
    subprocess.run(["git", "init", "--bare", "-q", str(repo)], check=True)
    text = "".join(f"line {i}\n" for i in range(2000))
    shas = [
        subprocess.run(
            ["git", "--git-dir", str(repo), "hash-object", "-w", "--stdin"], input=(text + str(i)).encode(), capture_output=True, check=True
        )
        .stdout.decode()
        .strip()
        for i in range(2)
    ]
    subprocess.run(["git", "--git-dir", str(repo), "repack", "-a", "-d", "-q", "-f"], check=True)
    theirs = packs(repo)
    ours = write_pack(repo / "objects" / "pack", pack_entries({object_bytes("blob", b"x")[0]: ("blob", b"x")}))
    assert merge_packs(repo / "objects" / "pack", [*theirs, f"pack-{ours}"]) is False  # nothing of ours to merge with
    assert set(theirs) <= set(packs(repo))
    assert all(git(repo, "cat-file", "-p", s).startswith("line 0") for s in shas)
