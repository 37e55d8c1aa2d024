"""Safety: concurrent writers lose nothing; kill -9 at any moment leaves a sound archive."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from archive.check import check
from archive.store import Archive

from .conftest import git, git_fsck_ok, merge, open_archive, source, succeed

REPO = Path(__file__).resolve().parents[2]


def writer(path: Path, tag: str, count: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.archive.writer", str(path), tag, str(count)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


def assert_sound(path: Path, recorded: set[str], attached: set[str]) -> None:
    with Archive.open(path) as archive:
        assert git_fsck_ok(archive.git_dir)
        count, problems = check(archive)
        assert problems == []
        listed = {c.id: c for c in archive.candidates()}
        assert recorded <= listed.keys()
        assert all(listed[cid].status == "succeeded" for cid in attached)
        incremental = sorted(archive.index.query("SELECT id, state FROM records"))
        archive.reindex()
        rebuilt = sorted(archive.index.query("SELECT id, state FROM records"))
        assert [r for r in rebuilt if r not in incremental] == [r for r in incremental if r not in rebuilt] == []


def test_threads_writing_at_once_lose_nothing(tmp_path):
    path = tmp_path / "arc"
    with open_archive(path) as shared:
        root = source(shared, "root")
        ids: list[str] = []

        def work(n: int) -> None:
            own = open_archive(path) if n % 2 else None  # half share one Archive, half open their own
            target = own or shared
            for i in range(6):
                cid = merge(target, [root], weight=n + i / 10)
                succeed(target, cid, n + i / 10)
                ids.append(cid)
            if own:
                own.close()

        threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len(set(ids)) == 36
    assert int(git(path, "rev-list", "--count", "refs/notes/clade")) == 36  # one linear notes commit per attach
    assert_sound(path, set(ids) | {root}, set(ids))


def test_processes_writing_at_once_lose_nothing(tmp_path):
    path = tmp_path / "arc"
    open_archive(path).close()
    procs = [writer(path, f"p{n}", 12) for n in range(3)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [o[1] for o in outputs]
    recorded = {line.split()[1] for out, _ in outputs for line in out.splitlines() if line.startswith("R")}
    assert len(recorded) == 36
    assert_sound(path, recorded, recorded)


def test_kill_9_at_random_moments_leaves_a_sound_archive(tmp_path):
    path = tmp_path / "arc"
    open_archive(path).close()
    rng = random.Random(int(os.environ.get("CLADE_KILL_SEED", "1234")))
    recorded: set[str] = set()
    attached: set[str] = set()
    for round_ in range(8):
        lines = _run_and_kill(writer(path, f"k{round_}", 10_000), rng, after_first_write=round_ % 4 != 3)
        recorded |= {line.split()[1] for line in lines if line.startswith("R ")}
        attached |= {line.split()[1] for line in lines if line.startswith("A ")}
        assert_sound(path, recorded, attached)
    assert len(attached) >= 6  # six rounds waited for an attached result before killing


def _run_and_kill(proc: subprocess.Popen, rng: random.Random, *, after_first_write: bool) -> list[str]:
    """Kill -9 the writer at a random moment (while it starts, or after its first result); its printed lines."""
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True)
    reader.start()
    deadline = time.monotonic() + 60
    while after_first_write and not any(line.startswith("A ") for line in lines) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(rng.uniform(0.0, 0.4))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    reader.join()
    proc.stderr.close()
    return [line for line in lines if line.endswith("\n")]  # a line cut by the kill reports nothing
