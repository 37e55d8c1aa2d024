"""The resident merge worker: one long-lived process that serves merge jobs from a directory.

    python -m sandbox.resident_worker SERVICE_DIR

It runs under a backend's ordinary `run(...)` (exactly the isolation a job gets: read-only
inputs, writes only to SERVICE_DIR, no network, no secrets) and loops:
take the oldest `SERVICE_DIR/inbox/<job-id>.json` (a `Job`, written atomically by the host),
merge and evaluate it through `sandbox.merge_job.merge_and_evaluate` with one `MergeCaches`
kept for the life of the process (sources and tensors read, suites, tokenizers), write
`SERVICE_DIR/outbox/<job-id>.json` (a `Result`, atomically), then delete the inbox file.
A recipe is data, not code, so one process can serve many; code jobs are refused (they
always get a fresh sandbox).

A job's own failure is a `failed` result with the reason in words and the traceback in its
`stderr`; the worker keeps serving. Each job's stdout/stderr is cut from the process's
captured log files and put in its result, and those files are then emptied, so the
backend's output limit applies to one job at a time.

It exits when `SERVICE_DIR/stop` exists (between jobs), and, from a watchdog thread, as soon
as `SERVICE_DIR/heartbeat` (touched by the host every few seconds) is older than the grace
period in `SERVICE_DIR/service.json`: a host killed with -9 leaves no worker behind for long.
"""

from __future__ import annotations

import os
import resource
import stat
import sys
import threading
import time
import traceback
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from sandbox.job import Job, Result, Timings, read_job, read_model, write_json_atomic
from sandbox.outcome import STDERR, STDOUT

INBOX, OUTBOX, HEARTBEAT, STOP, SETTINGS = "inbox", "outbox", "heartbeat", "stop", "service.json"
EXIT_STOPPED, EXIT_ORPHANED = 0, 3


class ServiceSettings(BaseModel):
    """How host and worker keep in touch (written by the host to SERVICE_DIR/service.json)."""

    model_config = ConfigDict(extra="forbid")
    heartbeat_s: float = Field(2.0, gt=0, description="how often the host touches SERVICE_DIR/heartbeat")
    heartbeat_grace_s: float = Field(30.0, gt=0, description="the worker exits once the heartbeat is this old")
    poll_s: float = Field(0.02, gt=0, description="how often the worker looks for a job, a stop file or a stale heartbeat")


def oldest_job(inbox: Path) -> Path | None:
    """The inbox file written first (temporary files, named with a leading dot, are skipped)."""
    entries = []
    for path in inbox.iterdir():
        if path.suffix == ".json" and not path.name.startswith("."):
            try:
                entries.append((path.stat().st_mtime_ns, path.name, path))
            except FileNotFoundError:
                continue
    return min(entries)[2] if entries else None


def heartbeat_age(service_dir: Path) -> float:
    try:
        return time.time() - (service_dir / HEARTBEAT).stat().st_mtime
    except FileNotFoundError:
        return float("inf")


def watchdog(service_dir: Path, settings: ServiceSettings) -> None:
    """Exit the whole process once the host has stopped touching the heartbeat (even mid-job)."""
    while heartbeat_age(service_dir) <= settings.heartbeat_grace_s:
        time.sleep(min(settings.poll_s * 10, settings.heartbeat_grace_s / 4))
    print(
        f"clade resident worker: the host's heartbeat is older than {settings.heartbeat_grace_s:g} s; exiting", file=sys.stderr, flush=True
    )
    os._exit(EXIT_ORPHANED)


def serve(job: Job, caches, served: int) -> Result:
    """Merge and evaluate one job; its own failure becomes a `failed` result."""
    from sandbox.merge_job import merge_and_evaluate
    from sandbox.worker import device_for

    device, timings = device_for(job), Timings()
    try:
        if job.kind != "merge":
            raise ValueError(f"job {job.id}: the resident worker serves merge jobs only, not {job.kind!r} (those get a fresh sandbox)")
        evaluated, metrics = merge_and_evaluate(job, device, timings, caches)
    except Exception as exc:  # the job's failure, recorded with its traceback; the worker keeps serving
        traceback.print_exc()
        return Result(job_id=job.id, status="failed", reason=f"{type(exc).__name__}: {exc}", timings=timings, device=device)
    metrics["resident"]["jobs_before"] = served
    return Result(
        job_id=job.id, status="ok", fitness=evaluated.fitness, evaluation=evaluated, metrics=metrics, timings=timings, device=device
    )


def take_logs(service_dir: Path, result: Result) -> None:
    """Move what the process printed during this job into its result, and empty the log files."""
    from sandbox.runner import head_and_tail

    sys.stdout.flush()
    sys.stderr.flush()
    logs = {}
    for fd, name in ((1, STDOUT), (2, STDERR)):
        path = service_dir / name
        logs[name] = path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""
        if stat.S_ISREG(os.fstat(fd).st_mode):  # a log file the backend opened for us (not a pipe or a tty)
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
    (result.stdout, cut_out), (result.stderr, cut_err) = head_and_tail(logs[STDOUT]), head_and_tail(logs[STDERR])
    result.truncated = cut_out or cut_err


def handle(path: Path, service_dir: Path, caches, served: int) -> None:
    try:
        job = read_job(path)
    except Exception as exc:  # an unreadable job still gets an answer under its file name
        job, failure = None, Result(job_id=path.stem, status="failed", reason=str(exc))
    result = serve(job, caches, served) if job is not None else failure
    result.peak_memory_mb = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    take_logs(service_dir, result)
    write_json_atomic(service_dir / OUTBOX / path.name, result)
    path.unlink()


def loop(service_dir: Path, settings: ServiceSettings) -> int:
    from sandbox.merge_job import MergeCaches

    caches, served, inbox = MergeCaches(), 0, service_dir / INBOX
    while not (service_dir / STOP).exists():
        path = oldest_job(inbox)
        if path is None:
            time.sleep(settings.poll_s)
            continue
        handle(path, service_dir, caches, served)
        served += 1
    return EXIT_STOPPED


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m sandbox.resident_worker SERVICE_DIR", file=sys.stderr)
        return 2
    service_dir = Path(argv[0]).resolve()
    settings_path = service_dir / SETTINGS
    settings = read_model(settings_path, ServiceSettings) if settings_path.exists() else ServiceSettings()
    threading.Thread(target=watchdog, args=(service_dir, settings), daemon=True, name="clade-heartbeat-watchdog").start()
    return loop(service_dir, settings)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
