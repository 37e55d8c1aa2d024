"""Which kernel isolation this machine offers, and the command prefix that applies it.

Preference order: bubblewrap, then `unshare` (network and pid namespaces only: the file
system stays as it is), then nothing (a loud warning names every missing protection).

Under bubblewrap the job gets network, pid, ipc and uts namespaces, no capabilities, uid
65534 inside a user namespace, and a file system built from an allow-list, read-only except
its job directory and a private /tmp: the system directories (/usr, the /bin /lib /sbin
links, /etc, /sys), the Python running Clade with its package directories, Clade's own
packages, the job's read-only inputs, fresh /dev and /proc. Nothing else of the host exists in it: no /root or /home
(dotfile credentials), no /run (the Docker socket), no /var, no other job's directory.
Known secrets in /etc (shadow files, SSH host keys, TLS private keys, sudoers, Docker's
configuration, /etc/environment) are masked. Because the job's uid maps to the caller's,
root-owned files it can see stay readable to it: that is why the view is an allow-list.
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

SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/sys")
MASKED = (
    "/etc/shadow",
    "/etc/shadow-",
    "/etc/gshadow",
    "/etc/gshadow-",
    "/etc/ssh",
    "/etc/ssl/private",
    "/etc/sudoers",
    "/etc/sudoers.d",
    "/etc/docker",
    "/etc/environment",
    "/etc/security/opasswd",
)
PACKAGES = ("agents", "tools", "sandbox", "archive")
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
    """Host paths every job needs besides the system: the Python running Clade, the package directories
    on its path (a venv's site-packages, and any a .pth file adds), and Clade's own packages."""
    paths = {sys.prefix, sys.base_prefix, os.path.dirname(os.path.realpath(sys.executable))}
    paths |= {p for p in sys.path if os.path.basename(p) in ("site-packages", "dist-packages")}
    paths |= {str(REPO_ROOT / package) for package in PACKAGES}
    resolved = {os.path.realpath(p) for p in paths} | paths
    return sorted((p for p in resolved if os.path.exists(p)), key=len)


def system_binds(root: str = "/") -> list[str]:
    """bwrap arguments for the system directories (symlinks stay symlinks) and the masked secrets."""
    argv: list[str] = []
    for path in SYSTEM:
        host = os.path.join(root, path.lstrip("/"))
        if os.path.islink(host):
            argv += ["--symlink", os.readlink(host), path]
        elif os.path.isdir(host):
            argv += ["--ro-bind", host, path]
    for path in MASKED:
        host = os.path.join(root, path.lstrip("/"))
        if os.path.isdir(host) and not os.path.islink(host):
            argv += ["--tmpfs", path]
        elif os.path.lexists(host):
            argv += ["--ro-bind", "/dev/null", path]
    return argv


def gpu_devices(dev: Path = Path("/dev")) -> list[str]:
    """The NVIDIA device nodes a CUDA job needs (all of them: CUDA_VISIBLE_DEVICES picks the GPU)."""
    return sorted(str(p) for p in dev.glob("nvidia*") if not p.is_dir()) + (
        [str(dev / "nvidia-caps")] if (dev / "nvidia-caps").is_dir() else []
    )


def bwrap_argv(
    flags: Sequence[str], job_dir: Path, read_only: Sequence[str], devices: Sequence[str] = (), writable: Sequence[str] = ()
) -> list[str]:
    """bwrap prefix: the allow-listed file system, read-only but for /tmp, the job directory and `writable`
    (the merge cache of a job with derived models)."""
    argv = [*flags, *system_binds(), "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
    for device in devices:
        argv += ["--dev-bind", device, device]
    for path in sorted({*kept_paths(), *read_only}, key=len):
        argv += ["--ro-bind", path, path]
    for path in sorted(writable, key=len):
        argv += ["--bind", path, path]
    argv += ["--bind", str(job_dir), str(job_dir), "--remount-ro", "/", "--chdir", str(job_dir), "--"]
    return argv


def isolation_prefix(
    job_dir: Path, read_only: Sequence[str], mode: str = "auto", gpu: bool = False, writable: Sequence[str] = ()
) -> tuple[str, list[str]]:
    """(name, argv prefix) of the strongest isolation available and allowed: bwrap, unshare or none."""
    flags = bwrap_flags() if mode in ("auto", "required") else None
    if flags is not None:
        return "bwrap", bwrap_argv(flags, job_dir, read_only, gpu_devices() if gpu else (), writable)
    prefix = unshare_prefix() if mode != "none" else None
    if prefix is not None:
        return "unshare", [*prefix, "--"]
    return "none", []
