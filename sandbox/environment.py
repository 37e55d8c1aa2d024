"""The environment a sandboxed process gets: an allow-list, never the host's environment.

Nothing from the host passes except PATH, LANG/LC_ALL and TZ; HOME is the job directory;
CUDA_VISIBLE_DEVICES is set by the scheduler; OMP/MKL_NUM_THREADS from `sandbox.threads`. API keys, tokens and cloud credentials in
the host environment therefore never reach a job's own environment, whatever their names.
Host processes' environments (/proc/<pid>/environ) are hidden only by a pid namespace
(bubblewrap, unshare, docker); without one, `clade sandbox doctor` reports the gap.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

PASSED_FROM_HOST = ("PATH", "LANG", "LC_ALL", "TZ")
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"


def sandbox_env(
    host: Mapping[str, str],
    job_dir: Path,
    *,
    gpus: list[int] | None = None,
    extra: Mapping[str, str] | None = None,
    threads: int | None = None,
) -> dict[str, str]:
    """The complete environment of a job: allow-listed host values plus the job's own."""
    env = {key: host[key] for key in PASSED_FROM_HOST if key in host}
    env.setdefault("PATH", DEFAULT_PATH)
    env.setdefault("LANG", "C.UTF-8")
    env.update(
        HOME=str(job_dir),
        TMPDIR=str(job_dir / "tmp"),
        PYTHONHASHSEED="0",
        PYTHONDONTWRITEBYTECODE="1",
        PYDANTIC_DISABLE_PLUGINS="__all__",  # skips a scan of every installed package at start-up
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        CUDA_VISIBLE_DEVICES=",".join(str(g) for g in gpus) if gpus else "",
        CLADE_JOB_DIR=str(job_dir),
    )
    if threads is not None:  # clade.yaml sandbox.threads: CPU threads of torch/BLAS in the job
        env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    env.update(extra or {})
    return env
