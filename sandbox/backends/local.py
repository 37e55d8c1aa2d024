"""The `local` backend: a job is a child process tree on this machine.

Protects against (each proven by a test in tests/sandbox/test_hostile.py):
- hanging, sleeping, looping: a wall-clock limit kills the whole job (cgroup, process group
  and pid namespace), never just stops waiting;
- forking without bound: a per-job pids cgroup (`max_procs`); without cgroups, RLIMIT_NPROC
  (per user, and not enforced for root);
- allocating without bound: a per-job memory cgroup (`memory_mb`, enforced by the kernel,
  page cache included); without cgroups, the job's summed RSS is sampled every 20 ms and
  the job is killed over the limit (a fast allocation can overshoot between samples);
- printing gigabytes: stdout/stderr go to files in the job directory, the job is killed
  once either passes `output_bytes`, and the result holds at most that much of each;
- leaving a child behind: everything in the job's cgroup / pid namespace is killed when the
  top process ends; with neither (isolation none, cgroups off) only the process group and
  processes carrying the job's CLADE_JOB_DIR are found, so a child that calls setsid and
  clears its environment escapes (doctor says so);
- killing its parent: the job's parent is bwrap's init (or unshare, or a `sh` shim), never
  the Clade process;
- CPU time (RLIMIT_CPU), file size (RLIMIT_FSIZE), core dumps (none);
- reading secrets from the environment: the environment is an allow-list (environment.py);
  host processes' /proc/<pid>/environ is hidden only with a pid namespace;
- with bubblewrap only: network (empty network namespace), writes outside the job directory
  (read-only binds), host files outside an allow-list (no /root, /home, /run with the Docker
  socket, /var, other jobs; /etc secrets masked; see isolation.py), privileges (uid 65534 in
  a user namespace, no capabilities).
Does not protect against: kernel exploits; reading what the allow-list shows (system files,
Clade's code and Python, the job's inputs); another job's use of the same GPU on `local`
(the scheduler gives each GPU job its own GPU, but all /dev/nvidia* nodes are visible).
Without bubblewrap there is no file-system isolation (and with neither bubblewrap nor
unshare, no network isolation); a loud warning says so on every run.
"""

from __future__ import annotations

import os
import resource
import select
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import psutil

from sandbox.cgroups import JobCgroup
from sandbox.config import Limits, SandboxConfig
from sandbox.environment import sandbox_env
from sandbox.isolation import REPO_ROOT, isolation_prefix
from sandbox.job import Job, Result
from sandbox.monitor import CANCEL, MB, verdict_outcome, watch
from sandbox.outcome import STDERR, STDOUT, RunOutcome
from sandbox.runner import JobsRoot, check_inputs, finish, prepare, worker_argv
from tools.errors import BadInput

SHIM = ["/bin/sh", "-c", '"$@"; exit $?', "clade-shim"]  # keeps the job from being our child
WARNED: set[str] = set()


def _rlimits(limits: Limits, cap_procs: bool) -> list[tuple[int, int]]:
    pairs = [(resource.RLIMIT_CORE, 0)]
    if limits.cpu_s is not None:
        pairs.append((resource.RLIMIT_CPU, limits.cpu_s))
    if limits.file_size_mb is not None:
        pairs.append((resource.RLIMIT_FSIZE, limits.file_size_mb * MB))
    if cap_procs and limits.max_procs is not None:
        pairs.append((resource.RLIMIT_NPROC, limits.max_procs + len(psutil.pids())))
    return pairs


def _preexec(cgroup: JobCgroup | None, rlimits: list[tuple[int, int]]):
    def setup() -> None:
        if cgroup is not None:
            cgroup.enter()
        for which, value in rlimits:
            resource.setrlimit(which, (value, value))

    return setup


def _pidfd(pid: int) -> int | None:
    """A file descriptor that turns readable when `pid` exits (Linux >= 5.3), or None."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


class LocalHandle:
    """A started job: its top process, its cgroup (if any) and its process group."""

    def __init__(self, proc: subprocess.Popen, cgroup: JobCgroup | None, job_dir: Path):
        self.proc, self.cgroup, self.job_dir = proc, cgroup, str(job_dir)
        self.pidfd = _pidfd(proc.pid)

    def wait(self, timeout: float) -> int | None:
        """Wakes the moment the process ends (a pidfd), not at the next step of a sleep loop."""
        if self.pidfd is not None and not select.select([self.pidfd], [], [], timeout)[0]:
            return None
        try:
            return self.proc.wait(timeout=0 if self.pidfd is not None else timeout)
        except subprocess.TimeoutExpired:
            return None

    def _processes(self) -> list[psutil.Process]:
        try:
            root = psutil.Process(self.proc.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def _escaped(self) -> list[psutil.Process]:
        """Processes that left the tree (setsid + orphaned), found by the job's CLADE_JOB_DIR."""
        found = []
        for process in psutil.process_iter():
            try:
                if process.environ().get("CLADE_JOB_DIR") == self.job_dir:
                    found.append(process)
            except psutil.Error:
                pass
        return found

    def memory_bytes(self) -> int | None:
        total = 0
        for process in self._processes():
            try:
                total += process.memory_info().rss
            except psutil.Error:
                pass
        return total

    def kill(self) -> None:
        for process in self._processes() + (self._escaped() if self.cgroup is None else []):
            try:
                process.kill()
            except psutil.Error:
                pass
        try:
            os.killpg(self.proc.pid, 9)
        except (ProcessLookupError, PermissionError):
            pass
        if self.cgroup is not None:
            self.cgroup.kill_all()
        self.proc.wait()
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None


class LocalBackend:
    name = "local"
    places_gpus = False  # the runner gives each GPU job its GPU
    runs_resident = True  # resident merge workers run on this host under it
    cluster = False  # jobs run on this host
    cancels = True  # cancel(job) kills a job in flight

    def __init__(self, config: SandboxConfig | None = None):
        self.config = config or SandboxConfig()
        self._root = JobsRoot(self.config.jobs_dir)

    def cancel(self, job: Job) -> None:
        """Kill `job` if it is running here (its watch loop sees the cancel file); its result says so."""
        job_dir = self._root.job_dir(job.id)
        if job_dir is not None:
            (job_dir / CANCEL).touch()

    def python(self) -> str:
        """The interpreter a worker runs with inside this backend's isolation: this one."""
        return sys.executable

    def close(self) -> None:
        """Remove the temporary job directories (call when no job runs here any more)."""
        self._root.close()

    def execute(self, job: Job, *, gpus: list[int] | None = None) -> Result:
        """Run the worker on `job` in a fresh job directory; the result is also in its result.json."""
        job_dir = prepare(job, self._root.get())
        outcome = self.run(
            worker_argv(sys.executable, job_dir),
            job_dir,
            job.limits,
            read_only=job.read_only_paths(),
            gpus=gpus,
            extra_env={"PYTHONPATH": str(REPO_ROOT)},
            writable=job.writable_paths(),
        )
        return finish(job, job_dir, outcome)

    def prefix(self, job_dir: Path, read_only: Sequence[str], gpu: bool = False, writable: Sequence[str] = ()) -> tuple[str, list[str]]:
        kind, prefix = isolation_prefix(job_dir, read_only, self.config.isolation, gpu, writable)
        if kind != "bwrap":
            _refuse_or_warn(kind, self.config.isolation)
        return kind, (prefix if kind != "none" else SHIM)

    def run(
        self,
        argv: Sequence[str],
        job_dir: Path,
        limits: Limits,
        *,
        read_only: Sequence[str] = (),
        gpus: list[int] | None = None,
        extra_env: Mapping[str, str] | None = None,
        writable: Sequence[str] = (),
    ) -> RunOutcome:
        """Run `argv` in `job_dir` under every protection available; always returns an outcome. `writable`:
        host directories the job may write besides `job_dir` (made when missing)."""
        job_dir = Path(job_dir).resolve()
        check_inputs(read_only)
        (job_dir / "tmp").mkdir(parents=True, exist_ok=True)
        for path in writable:
            Path(path).mkdir(parents=True, exist_ok=True)
        kind, prefix = self.prefix(job_dir, read_only, gpu=bool(gpus), writable=writable)
        cgroup = JobCgroup.create(f"{job_dir.name}-{os.getpid()}-{time.monotonic_ns()}", limits) if self.config.cgroups == "auto" else None
        env = sandbox_env(os.environ, job_dir, gpus=gpus, extra=extra_env, threads=self.config.threads)
        try:
            handle = self._start([*prefix, *argv], job_dir, env, limits, cgroup)
            verdict = watch(handle, job_dir, limits, sample_memory=cgroup is None)
            handle.kill()  # whatever the top process left behind
            peak = cgroup.peak_memory_bytes() if cgroup is not None else verdict.peak_memory_bytes
            return verdict_outcome(
                verdict, job_dir, limits, backend="local", isolation=kind, peak_bytes=peak, killer=_kernel_killer(cgroup, limits)
            )
        finally:
            if cgroup is not None:
                cgroup.remove()

    def _start(self, argv, job_dir, env, limits, cgroup) -> LocalHandle:
        rlimits = _rlimits(limits, cap_procs=cgroup is None and os.geteuid() != 0)
        with open(job_dir / STDOUT, "wb") as out, open(job_dir / STDERR, "wb") as err:
            proc = subprocess.Popen(
                argv,
                cwd=job_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
                preexec_fn=_preexec(cgroup, rlimits),
            )
        return LocalHandle(proc, cgroup, job_dir)


def _kernel_killer(cgroup: JobCgroup | None, limits: Limits) -> str | None:
    """Which cgroup limit stopped the job, in words (None: none did)."""
    if cgroup is None:
        return None
    if cgroup.oom_killed():
        return f"exceeded the memory limit of {limits.memory_mb} MB (killed by the kernel's OOM killer)"
    if cgroup.pids_exhausted():
        return f"hit the process limit of {limits.max_procs} (fork failed)"
    return None


def _refuse_or_warn(kind: str, policy: str) -> None:
    missing = "read-only file system and hidden home directories" if kind == "unshare" else "network, file-system and pid isolation"
    why = "is set in clade.yaml" if policy == kind else "is all this machine allows; install bubblewrap (apt-get install bubblewrap)"
    text = f"sandbox isolation '{kind}' {why}: {missing} NOT enforced"
    if policy == "required":
        raise BadInput(f"clade.yaml sandbox.isolation is 'required' but {text}")
    if text not in WARNED:
        WARNED.add(text)
        print(f"clade sandbox: WARNING: {text}", file=sys.stderr)
