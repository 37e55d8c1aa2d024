"""Per-job control groups: the kernel enforces the memory and process limits of a job.

A job's processes are put in their own cgroup before the job's program starts (the child
writes its pid into `cgroup.procs` between fork and exec), so every descendant, even one
that leaves the process group or the session, stays in it: the limits cover the whole job
and `kill_all` finds every process. cgroup v2 (a unified hierarchy with the memory and pids
controllers) and cgroup v1 (separate `memory` and `pids` hierarchies) are supported. When
/sys/fs/cgroup is not writable (not root, or a read-only container) `create` returns None
and the local backend falls back to sampling memory and RLIMIT_NPROC (see local.py).
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

from sandbox.config import Limits

ROOT = Path("/sys/fs/cgroup")
GROUP = "clade"


def _v2_usable(root: Path) -> bool:
    controllers = root / "cgroup.controllers"
    if not controllers.is_file() or not os.access(root, os.W_OK):
        return False
    return {"memory", "pids"} <= set(controllers.read_text().split())


def _v1_usable(root: Path) -> bool:
    return all(os.access(root / c, os.W_OK) and (root / c / "cgroup.procs").is_file() for c in ("memory", "pids"))


def cgroup_mode(root: Path = ROOT) -> str | None:
    """'v2', 'v1' or None: which per-job cgroups this machine lets Clade create."""
    if _v2_usable(root):
        return "v2"
    return "v1" if _v1_usable(root) else None


def _write(path: Path, value: str) -> None:
    path.write_text(value)


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


class JobCgroup:
    """The cgroup directories of one job (one for v2; memory and pids for v1)."""

    def __init__(self, mode: str, dirs: dict[str, Path]):
        self.mode, self.dirs = mode, dirs
        self._procs_paths = [str(d / "cgroup.procs") for d in dict.fromkeys(dirs.values())]

    @classmethod
    def create(cls, name: str, limits: Limits, root: Path = ROOT) -> JobCgroup | None:
        mode = cgroup_mode(root)
        if mode is None:
            return None
        dirs = _make_v2(root, name) if mode == "v2" else _make_v1(root, name)
        group = cls(mode, dirs)
        group._set_limits(limits)
        return group

    def _set_limits(self, limits: Limits) -> None:
        mem, pids = self.dirs["memory"], self.dirs["pids"]
        if limits.memory_mb is not None:
            name = "memory.max" if self.mode == "v2" else "memory.limit_in_bytes"
            _write(mem / name, str(limits.memory_mb * 1024 * 1024))
            swap = mem / ("memory.swap.max" if self.mode == "v2" else "memory.memsw.limit_in_bytes")
            if swap.exists():
                _write(swap, "0" if self.mode == "v2" else str(limits.memory_mb * 1024 * 1024))
        if limits.max_procs is not None:
            _write(pids / "pids.max", str(limits.max_procs))

    def enter(self) -> None:
        """Move the calling process into the job's cgroup (called in the child before exec)."""
        pid = str(os.getpid())
        for path in self._procs_paths:
            with open(path, "w") as handle:
                handle.write(pid)

    def pids(self) -> set[int]:
        found: set[int] = set()
        for path in self._procs_paths:
            try:
                found |= {int(p) for p in Path(path).read_text().split()}
            except OSError:
                pass
        return found

    def kill_all(self, rounds: int = 200) -> None:
        """SIGKILL every process of the job, repeating while a fork races the kill."""
        for _ in range(rounds):
            pids = self.pids()
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass

    def peak_memory_bytes(self) -> int | None:
        mem = self.dirs["memory"]
        return _read_int(mem / ("memory.peak" if self.mode == "v2" else "memory.max_usage_in_bytes"))

    def oom_killed(self) -> bool:
        mem = self.dirs["memory"]
        if self.mode == "v2":
            return event_count(mem / "memory.events", "oom_kill") > 0
        return event_count(mem / "memory.oom_control", "oom_kill") > 0

    def pids_exhausted(self) -> bool:
        return event_count(self.dirs["pids"] / "pids.events", "max") > 0

    def remove(self, timeout_s: float = 5.0) -> None:
        """Kill every process of the job, then delete its directories.

        The kernel does not delete a cgroup by itself, and rmdir fails (EBUSY) until the killed
        processes have exited, which happens a moment after SIGKILL: retry until `timeout_s`,
        then say which directory is left behind.
        """
        self.kill_all()
        deadline = time.monotonic() + timeout_s
        for directory in dict.fromkeys(self.dirs.values()):
            while not _rmdir(directory):
                if time.monotonic() > deadline:
                    print(
                        f"clade: warning: cgroup {directory} still holds processes after {timeout_s:.0f} s; "
                        f"remove it with rmdir once they exit",
                        file=sys.stderr,
                    )
                    break
                self.kill_all()
                time.sleep(0.005)


def _rmdir(directory: Path) -> bool:
    """True when the directory is gone; False while the kernel still counts processes in it."""
    try:
        directory.rmdir()
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return True


def event_count(path: Path, key: str) -> int:
    try:
        for line in path.read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
    except (OSError, ValueError):
        pass
    return 0


def _make_v1(root: Path, name: str) -> dict[str, Path]:
    dirs = {c: root / c / GROUP / name for c in ("memory", "pids")}
    for directory in dirs.values():
        directory.mkdir(parents=True, exist_ok=True)
    return dirs


def _make_v2(root: Path, name: str) -> dict[str, Path]:
    parent = root / GROUP
    parent.mkdir(exist_ok=True)
    for directory in (root, parent):
        _write(directory / "cgroup.subtree_control", "+memory +pids")
    job = parent / name
    job.mkdir(exist_ok=True)
    return {"memory": job, "pids": job}
