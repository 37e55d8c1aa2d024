"""The `docker` backend: a job is one container, created through the Docker SDK.

Protects against: network access (`network_mode=none`); writes outside the job directory
(read-only root file system, the job directory the only writable bind mount, a size-capped
tmpfs on /tmp); privilege (non-root user, all capabilities dropped, no-new-privileges);
memory, processes and CPU (the container's cgroup: `mem_limit` with no extra swap,
`pids_limit`, `nano_cpus`); file size, CPU seconds and core dumps (ulimits); host secrets
(the environment is the allow-list of environment.py; nothing of the host is mounted but the
job directory, the read-only inputs, and with `mount_host_python` the host's Python and
this checkout); hangs, output floods and left-behind children (the watch loop kills the
container, which ends every process in it, and the container is always removed); a job
killing its parent (its parent is the container's init, not Clade). GPUs: one device
request per job for exactly the GPU the scheduler gave it.
Does not protect against: kernel or container-runtime exploits, and a Docker daemon
configured with a permissive default runtime. Needs a running Docker engine and the image
(`sandbox/Dockerfile` for users; `sandbox/host_setup.sh` builds the test image).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from sandbox.cgroups import event_count
from sandbox.config import Limits, SandboxConfig
from sandbox.environment import sandbox_env
from sandbox.isolation import REPO_ROOT, JOB_UID, kept_paths
from sandbox.job import Job, Result
from sandbox.monitor import CANCEL, MB, verdict_outcome, watch
from sandbox.outcome import STDERR, STDOUT, RunOutcome
from sandbox.runner import JobsRoot, check_inputs, finish, prepare, worker_argv
from tools.errors import BadInput, CladeError

REDIRECT = '"$@" >"$CLADE_JOB_DIR/{out}" 2>"$CLADE_JOB_DIR/{err}"'.format(out=STDOUT, err=STDERR)


def device_requests(gpus: Sequence[int]) -> list:
    """The Docker device request for exactly these GPUs (empty for a CPU job)."""
    from docker.types import DeviceRequest

    if not gpus:
        return []
    return [DeviceRequest(device_ids=[str(g) for g in gpus], capabilities=[["gpu"]])]


def ulimits(limits: Limits) -> list:
    from docker.types import Ulimit

    found = [Ulimit(name="core", soft=0, hard=0)]
    if limits.cpu_s is not None:
        found.append(Ulimit(name="cpu", soft=limits.cpu_s, hard=limits.cpu_s))
    if limits.file_size_mb is not None:
        found.append(Ulimit(name="fsize", soft=limits.file_size_mb * MB, hard=limits.file_size_mb * MB))
    return found


def job_user() -> str:
    """The container's user: the caller's own uid, or 65534 when the caller is root."""
    uid = os.getuid()
    return f"{JOB_UID}:{JOB_UID}" if uid == 0 else f"{uid}:{os.getgid()}"


def mounts(job_dir: Path, read_only: Sequence[str], host_python: bool, writable: Sequence[str] = ()) -> dict[str, dict[str, str]]:
    volumes = {p: {"bind": p, "mode": "ro"} for p in (*(kept_paths() if host_python else ()), *read_only)}
    volumes.update({p: {"bind": p, "mode": "rw"} for p in writable})
    volumes[str(job_dir)] = {"bind": str(job_dir), "mode": "rw"}
    return volumes


def container_options(
    config: SandboxConfig,
    job_dir: Path,
    limits: Limits,
    read_only: Sequence[str],
    gpus: Sequence[int],
    env: Mapping[str, str],
    writable: Sequence[str] = (),
) -> dict:
    """Every option of the job's container (pure: tests assert on it)."""
    options = dict(
        network_mode="none",
        read_only=True,
        cap_drop=["ALL"],
        security_opt=["no-new-privileges"],
        user=job_user(),
        init=True,
        working_dir=str(job_dir),
        environment=dict(env),
        tmpfs={"/tmp": f"size={config.docker.scratch_mb}m,mode=1777"},
        volumes=mounts(job_dir, read_only, config.docker.mount_host_python, writable),
        ulimits=ulimits(limits),
        device_requests=device_requests(gpus),
        pids_limit=limits.max_procs or -1,
    )
    if limits.memory_mb is not None:
        options.update(mem_limit=f"{limits.memory_mb}m", memswap_limit=f"{limits.memory_mb}m")
    if config.docker.cpus is not None:
        options["nano_cpus"] = int(config.docker.cpus * 1e9)
    return options


class ContainerHandle:
    def __init__(self, client, container):
        self.client, self.container, self.pids_hit = client, container, False

    def wait(self, timeout: float) -> int | None:
        import requests

        try:
            return int(self.container.wait(timeout=max(timeout, 0.01))["StatusCode"])
        except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError):
            return None

    def memory_bytes(self) -> int | None:
        """The container cgroup's peak usage so far (the cgroup itself enforces the limit).

        Also notes whether the container has hit its pids limit, while its cgroup still exists."""
        self.pids_hit = self.pids_hit or _pids_hit(self.container.id)
        return _peak_memory(self.container.id)

    def kill(self) -> None:
        import docker

        try:
            self.container.kill()
        except docker.errors.APIError:
            pass  # already stopped, or already gone

    def remove(self) -> None:
        import docker

        try:
            self.container.remove(force=True)
        except docker.errors.NotFound:
            pass

    def state(self) -> dict:
        return self.client.api.inspect_container(self.container.id)["State"]


class DockerBackend:
    name = "docker"
    places_gpus = False  # the runner gives each GPU job its GPU
    runs_resident = True  # resident merge workers run on this host under it
    cluster = False  # jobs run on this host
    cancels = True  # cancel(job) kills a job in flight

    def __init__(self, config: SandboxConfig | None = None, client=None):
        self.config = config or SandboxConfig(backend="docker")
        self._client, self._root = client, JobsRoot(self.config.jobs_dir)
        self._image_seen = False

    @property
    def client(self):
        if self._client is None:
            self._client = connect()
        return self._client

    def python(self) -> str:
        return sys.executable if self.config.docker.mount_host_python else "python"

    def cancel(self, job: Job) -> None:
        """Kill `job` if it is running here (its watch loop sees the cancel file); its result says so."""
        job_dir = self._root.job_dir(job.id)
        if job_dir is not None:
            (job_dir / CANCEL).touch()

    def close(self) -> None:
        """Remove the temporary job directories (call when no job runs here any more)."""
        self._root.close()

    def execute(self, job: Job, *, gpus: list[int] | None = None) -> Result:
        job_dir = prepare(job, self._root.get())
        extra = {"PYTHONPATH": str(REPO_ROOT)} if self.config.docker.mount_host_python else {}
        outcome = self.run(
            worker_argv(self.python(), job_dir),
            job_dir,
            job.limits,
            read_only=job.read_only_paths(),
            gpus=gpus,
            extra_env=extra,
            writable=job.writable_paths(),
        )
        return finish(job, job_dir, outcome)

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
        job_dir = Path(job_dir).resolve()
        self._require_image()  # first: without the image nothing else matters (not even input permissions)
        check_inputs(read_only)
        check_readable(read_only)
        (job_dir / "tmp").mkdir(parents=True, exist_ok=True)
        _own_job_dir(job_dir)
        for path in writable:
            _own_writable(Path(path))
        visible = list(range(len(gpus))) if gpus else None  # inside the container the GPUs count from 0
        env = sandbox_env({}, job_dir, gpus=visible, extra=extra_env, threads=self.config.threads)
        options = container_options(self.config, job_dir, limits, read_only, gpus or [], env, writable)
        handle = ContainerHandle(self.client, self._create(["/bin/sh", "-c", REDIRECT, "clade-job", *argv], options))
        try:
            verdict = watch(handle, job_dir, limits, sample_memory=True)
            handle.kill()
            state, peak = handle.state(), verdict.peak_memory_bytes
        finally:
            handle.remove()
        killer = (
            f"exceeded the memory limit of {limits.memory_mb} MB (killed by the kernel's OOM killer)"
            if state.get("OOMKilled")
            else f"hit the process limit of {limits.max_procs} (fork failed)"
            if handle.pids_hit
            else None
        )
        return verdict_outcome(verdict, job_dir, limits, backend="docker", isolation="docker", peak_bytes=peak, killer=killer)

    def _require_image(self) -> None:
        import docker

        if self._image_seen:
            return
        try:
            self.client.images.get(self.config.docker.image)
        except docker.errors.ImageNotFound:
            raise BadInput(missing_image(self.config.docker.image)) from None
        except docker.errors.APIError as exc:
            raise CladeError(f"docker could not look up image {self.config.docker.image!r}: {exc.explanation or exc}") from None
        self._image_seen = True

    def _create(self, command: list[str], options: dict):
        import docker

        try:
            container = self.client.containers.create(self.config.docker.image, command, **options)
        except docker.errors.ImageNotFound:
            raise BadInput(missing_image(self.config.docker.image)) from None
        except docker.errors.APIError as exc:
            raise CladeError(f"docker could not create the job's container: {exc.explanation or exc}") from None
        try:
            container.start()
        except docker.errors.APIError as exc:
            container.remove(force=True)
            raise CladeError(f"docker could not start the job's container: {exc.explanation or exc}") from None
        return container


OFFLINE_IMAGE = "clade-sandbox-test:latest"


def build_hint(image: str) -> str:
    """How to get the image: the one wording `sandbox doctor`, the backend and the READMEs use."""
    return (
        f"build it in a Clade checkout with `docker build -t {image} -f sandbox/Dockerfile .`, or without a registry "
        f"run `bash sandbox/host_setup.sh` and set sandbox.docker: {{image: {OFFLINE_IMAGE}, mount_host_python: true}}"
    )


def missing_image(image: str) -> str:
    return f"clade.yaml sandbox.docker.image: the Docker image {image!r} is missing; {build_hint(image)}"


def connect():
    """A Docker SDK client for the engine of DOCKER_HOST or the default socket."""
    import docker

    try:
        client = docker.from_env(timeout=30)
        client.ping()
        return client
    except docker.errors.DockerException as exc:
        raise CladeError(f"no Docker engine answers ({exc}); start dockerd, or run `bash sandbox/host_setup.sh`") from None


def _unreadable(path: str) -> str | None:
    mode = os.stat(path).st_mode
    needed = 0o005 if os.path.isdir(path) else 0o004
    return path if mode & needed != needed else None


def check_readable(paths: Sequence[str], limit: int = 20000) -> None:
    """When jobs run as uid 65534 (Clade runs as root), every read-only input must be world-readable.

    Hugging Face writes weights 0600, so this is checked before the container starts, file by
    file (at most `limit` entries per input), and the first unreadable one is named.
    """
    if os.getuid() != 0:
        return
    for top in paths:
        for checked, entry in enumerate(_entries(top)):
            if checked >= limit:
                break
            if _unreadable(entry):
                raise BadInput(
                    f"{entry}: not readable by the docker job's user {JOB_UID}; run `chmod -R o+rX {top}` or run Clade as an ordinary user"
                )


def _entries(top: str):
    yield top
    for root, dirs, files in os.walk(top):
        yield from (os.path.join(root, name) for name in dirs + files)


def _own_job_dir(job_dir: Path) -> None:
    """Give the job directory to the container's user (it runs as 65534 when Clade runs as root)."""
    if os.getuid() != 0:
        return
    for root, dirs, files in os.walk(job_dir):
        for name in (root, *(os.path.join(root, n) for n in dirs + files)):
            os.chown(name, JOB_UID, JOB_UID)


def _peak_memory(container_id: str) -> int | None:
    for path in (
        f"/sys/fs/cgroup/memory/docker/{container_id}/memory.max_usage_in_bytes",
        f"/sys/fs/cgroup/system.slice/docker-{container_id}.scope/memory.peak",
    ):
        try:
            return int(Path(path).read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
    return None


def _pids_hit(container_id: str) -> bool:
    for path in (
        f"/sys/fs/cgroup/pids/docker/{container_id}/pids.events",
        f"/sys/fs/cgroup/system.slice/docker-{container_id}.scope/pids.events",
    ):
        if event_count(Path(path), "max") > 0:
            return True
    return False


def _own_writable(path: Path) -> None:
    """Make a writable input (the merge cache, which Clade made) and give it to the container's user when Clade runs as
    root; the entries in it are only ever added (tools/merge/cache.py), so its top directory is enough."""
    path.mkdir(parents=True, exist_ok=True)
    if os.getuid() == 0:
        os.chown(path, JOB_UID, JOB_UID)
