"""Which kernel isolation this machine offers, and the command prefix that applies it.

Preference order: bubblewrap (network, pid, ipc and uts namespaces; the whole file system
read-only except the job directory; /root, /home, /run, /tmp, /mnt, /media hidden behind
empty tmpfs so that dotfile credentials and the Docker socket are out of reach, and so
is the directory holding the job directory (other jobs' inputs and results); an
unprivileged uid; no capabilities), then `unshare` (network and pid namespaces only: the
file system stays writable), then nothing (a loud warning names every missing protection).
Detection runs each tool once on a trivial command, so a binary that exists but cannot
create namespaces here (a locked-down container) counts as absent.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

HIDDEN = ("/root", "/home", "/run", "/tmp", "/mnt", "/media")
JOB_UID = 65534
REPO_ROOT = Path(__file__).resolve().parents[1]


def _works(argv: Sequence[str]) -> bool:
    try:
        return subprocess.run([*argv, "true"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


BWRAP_BASE = ("--die-with-parent", "--new-session", "--unshare-all") + (("--cap-drop", "ALL") if os.geteuid() == 0 else ())
BWRAP_UID = ("--unshare-user", "--uid", str(JOB_UID), "--gid", str(JOB_UID))


@functools.lru_cache(maxsize=1)
def bwrap_flags() -> tuple[str, ...] | None:
    """The bwrap flags that work here (with an unprivileged uid when user namespaces allow), or None."""
    exe = shutil.which("bwrap")
    if exe is None:
        return None
    probe = ("--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev")
    for flags in (BWRAP_BASE + BWRAP_UID, BWRAP_BASE):
        if _works([exe, *flags, *probe, "--"]):
            return (exe, *flags)
    return None


@functools.lru_cache(maxsize=1)
def unshare_prefix() -> tuple[str, ...] | None:
    """An `unshare` prefix giving network and pid namespaces here, or None."""
    exe = shutil.which("unshare")
    if exe is None:
        return None
    base = (exe, "--net", "--pid", "--ipc", "--uts", "--mount-proc", "--fork", "--kill-child")
    for prefix in (base, (*base[:1], "--user", "--map-root-user", *base[1:])):
        if _works([*prefix, "--"]):
            return prefix
    return None


def kept_paths() -> list[str]:
    """Host paths the job needs even where their parents are hidden: Python and this project."""
    paths = {sys.prefix, sys.base_prefix, os.path.dirname(os.path.realpath(sys.executable)), str(REPO_ROOT)}
    resolved = {os.path.realpath(p) for p in paths} | paths
    return sorted((p for p in resolved if os.path.exists(p)), key=len)


def gpu_devices(dev: Path = Path("/dev")) -> list[str]:
    """The NVIDIA device nodes a CUDA job needs (all of them: CUDA_VISIBLE_DEVICES picks the GPU)."""
    return sorted(str(p) for p in dev.glob("nvidia*") if not p.is_dir()) + ([str(dev / "nvidia-caps")] if (dev / "nvidia-caps").is_dir() else [])


def bwrap_argv(flags: Sequence[str], job_dir: Path, read_only: Sequence[str], devices: Sequence[str] = ()) -> list[str]:
    """bwrap prefix: read-only root, hidden directories, kept and read-only paths, writable job dir."""
    argv = [*flags, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    for device in devices:
        argv += ["--dev-bind", device, device]
    siblings = str(Path(job_dir).parent)  # other jobs' directories
    for hidden in sorted({*HIDDEN, *([siblings] if siblings != "/" else [])}, key=len):
        if os.path.isdir(hidden) and not os.path.islink(hidden):
            argv += ["--tmpfs", hidden]
    for path in sorted({*kept_paths(), *read_only}, key=len):
        argv += ["--ro-bind", path, path]
    argv += ["--bind", str(job_dir), str(job_dir), "--chdir", str(job_dir), "--"]
    return argv


def isolation_prefix(job_dir: Path, read_only: Sequence[str], mode: str = "auto", gpu: bool = False) -> tuple[str, list[str]]:
    """(name, argv prefix) of the strongest isolation available and allowed: bwrap, unshare or none."""
    flags = bwrap_flags() if mode in ("auto", "required") else None
    if flags is not None:
        return "bwrap", bwrap_argv(flags, job_dir, read_only, gpu_devices() if gpu else ())
    prefix = unshare_prefix() if mode != "none" else None
    if prefix is not None:
        return "unshare", [*prefix, "--"]
    return "none", []
