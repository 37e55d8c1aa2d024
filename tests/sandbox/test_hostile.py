"""One hostile program per guarantee, against every backend that can run here.

Each must be contained, reported with a clear reason, and followed by a normal job that
succeeds on the same backend.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import psutil
import pytest

from tests.sandbox.conftest import PY


def run_py(backend, job_dir: Path, source: str, limits):
    return backend.run([PY, "-c", source], job_dir, limits)


def assert_normal_job_succeeds(backend, tmp_path: Path, limits) -> None:
    job_dir = tmp_path / f"normal-{uuid.uuid4().hex[:6]}"
    job_dir.mkdir()
    outcome = run_py(backend, job_dir, "print(6 * 7)", limits)
    assert (outcome.status, outcome.stdout.strip()) == ("ok", "42"), outcome


def test_network_is_unreachable(backend, job_dir, tmp_path, limits, tcp_server):
    port, accepted = tcp_server
    source = (
        f"import socket\ntry:\n    socket.create_connection(('127.0.0.1', {port}), timeout=3)\n"
        "    print('CONNECTED')\nexcept OSError as exc:\n    print('blocked', exc)\n    raise SystemExit(3)"
    )
    outcome = run_py(backend, job_dir, source, limits)
    assert "CONNECTED" not in outcome.stdout and accepted == []
    assert outcome.status == "failed" and "exited with code 3" in outcome.reason
    assert_normal_job_succeeds(backend, tmp_path, limits)


def test_host_secret_never_enters(backend, job_dir, tmp_path, limits, monkeypatch):
    secret = f"sk-clade-test-{uuid.uuid4().hex}"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    monkeypatch.setenv("HF_TOKEN", secret)
    # A host process that started with the key (setenv alone never shows in /proc/<pid>/environ).
    holder = subprocess.Popen([PY, "-c", "import time; time.sleep(120)"], env={**os.environ, "OPENAI_API_KEY": secret})
    source = (
        "import os, glob\nprint(dict(os.environ))\nfor path in glob.glob('/proc/*/environ'):\n"
        "    try:\n        print(open(path, 'rb').read())\n    except OSError:\n        pass"
    )
    try:
        outcome = run_py(backend, job_dir, source, limits.model_copy(update={"output_bytes": 10_000_000}))
    finally:
        holder.kill()
        holder.wait()
    assert outcome.status == "ok", outcome
    assert "PATH" in outcome.stdout and secret not in outcome.stdout + outcome.stderr
    assert_normal_job_succeeds(backend, tmp_path, limits)


@pytest.fixture
def outside_dir():
    """A world-writable host directory outside /tmp: only a read-only mount can stop a write."""
    path = Path("/var/tmp") / f"clade-outside-{uuid.uuid4().hex[:8]}"
    path.mkdir(mode=0o777)
    os.chmod(path, 0o777)
    yield path
    for child in path.iterdir():
        child.unlink()
    path.rmdir()


def test_writes_outside_job_dir_fail(backend, job_dir, tmp_path, limits, outside_dir):
    if backend.name == "local" and backend.prefix(job_dir, [])[0] != "bwrap":
        pytest.skip("bubblewrap is not usable here: the local backend cannot make the file system read-only")
    source = (
        f"import pathlib\nfor target in ['{outside_dir}/escape.txt', '{tmp_path}/escape.txt', 'inside.txt']:\n"
        "    try:\n        pathlib.Path(target).write_text('x')\n        print('wrote', target)\n"
        "    except OSError as exc:\n        print('refused', target, exc.strerror)"
    )
    outcome = run_py(backend, job_dir, source, limits)
    assert not (outside_dir / "escape.txt").exists() and not (tmp_path / "escape.txt").exists()
    assert (job_dir / "inside.txt").read_text() == "x" and f"refused {outside_dir}/escape.txt" in outcome.stdout
    assert_normal_job_succeeds(backend, tmp_path, limits)


def test_host_files_outside_the_allow_list_are_unreadable(backend, job_dir, tmp_path, limits, outside_dir):
    if backend.name == "local" and backend.prefix(job_dir, [])[0] != "bwrap":
        pytest.skip("bubblewrap is not usable here: the local backend cannot hide host files")
    secret = outside_dir / "api-key.txt"
    secret.write_text("sk-on-disk-secret")
    secret.chmod(0o600)
    source = (
        f"for path in ['{secret}', '/etc/shadow', '/var/run/docker.sock']:\n"
        "    try:\n        print('READ', path, open(path).read())\n"
        "    except OSError as exc:\n        print('refused', path, exc.strerror)"
    )
    outcome = run_py(backend, job_dir, source, limits)
    assert outcome.status == "ok" and "READ" not in outcome.stdout and "sk-on-disk-secret" not in outcome.stdout, outcome
    assert_normal_job_succeeds(backend, tmp_path, limits)


def test_fork_bomb_hits_process_limit(backend, job_dir, tmp_path, limits):
    source = "import os, time\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        time.sleep(0.3)\n        os._exit(7)"
    outcome = run_py(backend, job_dir, source, limits.model_copy(update={"max_procs": 32, "wall_s": 20}))
    assert outcome.status != "ok"
    assert "process limit of 32" in outcome.reason, outcome
    assert_normal_job_succeeds(backend, tmp_path, limits)


def test_unbounded_allocation_is_killed(backend, job_dir, tmp_path, limits):
    source = "chunks = []\nwhile True:\n    chunks.append(bytearray(20 * 1024 * 1024))"
    outcome = run_py(backend, job_dir, source, limits.model_copy(update={"memory_mb": 256}))
    assert outcome.status == "killed" and "memory limit of 256 MB" in outcome.reason, outcome
    assert_normal_job_succeeds(backend, tmp_path, limits)


def test_infinite_loop_times_out(backend, job_dir, tmp_path, limits):
    outcome = run_py(backend, job_dir, "while True:\n    pass", limits.model_copy(update={"wall_s": 1.5}))
    assert outcome.status == "timeout" and "wall-clock limit of 1.5 s" in outcome.reason
    assert_normal_job_succeeds(backend, tmp_path, limits)


def test_sleep_past_limit_times_out(backend, job_dir, tmp_path, limits):
    outcome = run_py(backend, job_dir, "import time\ntime.sleep(120)\nprint('woke')", limits.model_copy(update={"wall_s": 1}))
    assert outcome.status == "timeout" and "woke" not in outcome.stdout
    assert outcome.wall_s < 30
    assert_normal_job_succeeds(backend, tmp_path, limits)


def test_output_flood_is_cut(backend, job_dir, tmp_path, limits):
    source = "import sys\nline = 'x' * 1023 + '\\n'\nwhile True:\n    sys.stdout.write(line * 1024)"
    outcome = run_py(backend, job_dir, source, limits)
    assert outcome.status == "killed" and "more than 100000 bytes to stdout" in outcome.reason
    assert outcome.truncated and len(outcome.stdout.encode()) == limits.output_bytes
    assert_normal_job_succeeds(backend, tmp_path, limits)


def _marked(marker: str) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        if marker in " ".join(process.info["cmdline"] or []):
            found.append(process)
    return found


def test_child_that_outlives_the_job_is_killed(backend, job_dir, tmp_path, limits):
    marker = f"clade-orphan-{uuid.uuid4().hex[:8]}"
    source = (
        "import os, subprocess, time\n"
        f"subprocess.Popen(['{PY}', '-c', 'import time; time.sleep(300)', '{marker}'], start_new_session=True)\n"
        "time.sleep(0.5)\nprint('parent exits')"
    )
    outcome = run_py(backend, job_dir, source, limits)
    assert outcome.status == "ok" and "parent exits" in outcome.stdout
    survivors = _marked(marker)
    for process in survivors:
        process.kill()
    assert survivors == []
    assert_normal_job_succeeds(backend, tmp_path, limits)


def test_killing_its_parent_leaves_the_host_unharmed(backend, job_dir, tmp_path, limits):
    marker = f"clade-parricide-{uuid.uuid4().hex[:8]}"
    source = f"import os, signal, time\nos.kill(os.getppid(), signal.SIGKILL)\ntime.sleep(0.3)\nprint('{marker}')"
    outcome = run_py(backend, job_dir, source, limits)
    assert psutil.Process(os.getpid()).is_running()
    assert outcome.status in ("ok", "killed") and outcome.reason
    assert _marked(marker) == []
    assert_normal_job_succeeds(backend, tmp_path, limits)


def test_cpu_seconds_are_limited(backend, job_dir, tmp_path, limits):
    outcome = run_py(backend, job_dir, "while True:\n    pass", limits.model_copy(update={"cpu_s": 1, "wall_s": 30}))
    assert outcome.status == "killed" and ("CPU-time limit" in outcome.reason or "SIGKILL" in outcome.reason), outcome
    assert outcome.wall_s < 25
    assert_normal_job_succeeds(backend, tmp_path, limits)


def test_file_size_is_limited(backend, job_dir, tmp_path, limits):
    source = "with open('big.bin', 'wb') as f:\n    f.write(b'x' * (3 * 1024 * 1024))"
    outcome = run_py(backend, job_dir, source, limits.model_copy(update={"file_size_mb": 1}))
    assert outcome.status == "failed" and "File too large" in outcome.stderr, outcome
    assert (job_dir / "big.bin").stat().st_size <= 1024 * 1024
    assert_normal_job_succeeds(backend, tmp_path, limits)


def test_other_jobs_are_invisible(backend, tmp_path, limits):
    jobs = tmp_path / "jobs-root"
    (jobs / "other").mkdir(parents=True)
    (jobs / "other" / "result.json").write_text("secret result")
    (jobs / "mine").mkdir()
    source = f"import os\nprint(sorted(os.listdir('{jobs}')))"
    outcome = run_py(backend, jobs / "mine", source, limits)
    assert outcome.status == "ok" and "other" not in outcome.stdout, outcome
    assert_normal_job_succeeds(backend, tmp_path, limits)
