"""Per-job cgroups. v1 is exercised for real by the hostile tests on this machine (when
/sys/fs/cgroup is writable); the v2 file protocol is checked on a fake cgroup tree."""

from __future__ import annotations

import os
import time

import pytest

from sandbox.cgroups import JobCgroup, cgroup_mode
from sandbox.config import Limits

MB = 1024 * 1024


def fake_v2(root):
    (root / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    (root / "cgroup.subtree_control").write_text("")
    return root


def test_v2_limits_and_events(tmp_path):
    group = JobCgroup.create("job-1", Limits(memory_mb=100, max_procs=10), root=fake_v2(tmp_path))
    job = tmp_path / "clade" / "job-1"
    assert group.mode == "v2" and (job / "memory.max").read_text() == str(100 * MB) and (job / "pids.max").read_text() == "10"
    assert (tmp_path / "cgroup.subtree_control").read_text() == "+memory +pids"
    (job / "memory.events").write_text("low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n")
    (job / "pids.events").write_text("max 0\n")
    (job / "memory.peak").write_text(f"{42 * MB}\n")
    assert group.oom_killed() and not group.pids_exhausted() and group.peak_memory_bytes() == 42 * MB


def test_v2_without_memory_controller_is_unusable(tmp_path):
    (tmp_path / "cgroup.controllers").write_text("cpu pids\n")
    assert cgroup_mode(tmp_path) is None and JobCgroup.create("job", Limits(), root=tmp_path) is None


@pytest.mark.skipif(cgroup_mode() is None, reason="/sys/fs/cgroup is not writable here (not root, or no memory/pids controllers)")
def test_real_cgroup_holds_the_process_and_is_removed():
    group = JobCgroup.create(f"test-{os.getpid()}", Limits(memory_mb=64, max_procs=8))
    pid = os.fork()
    if pid == 0:
        group.enter()
        os.execv("/bin/sleep", ["sleep", "30"])
    try:
        for _ in range(200):
            if pid in group.pids():
                break
            time.sleep(0.01)
        assert pid in group.pids()
    finally:
        group.remove()
        os.waitpid(pid, 0)
    assert not group.pids() and not any(d.exists() for d in group.dirs.values())
