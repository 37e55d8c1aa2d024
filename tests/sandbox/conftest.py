"""Fixtures for the sandbox tests: the backends to run against, and a TCP server on 127.0.0.1.

The docker backend runs only where an engine answers and the locally built test image
exists (sandbox/host_setup.sh makes both); otherwise its tests skip and say which is missing.
"""

from __future__ import annotations

import socket
import sys
import threading
from pathlib import Path

import pytest

from sandbox.config import Limits, SandboxConfig

TEST_IMAGE = "clade-sandbox-test:latest"
PY = sys.executable


def docker_skip_reason() -> str | None:
    try:
        import docker

        client = docker.from_env(timeout=10)
        client.ping()
    except Exception as exc:  # any failure to reach the engine means: skip, and say why
        return f"no Docker engine answers ({type(exc).__name__}: {exc}); run `bash sandbox/host_setup.sh`"
    try:
        client.images.get(TEST_IMAGE)
    except Exception:
        return f"test image {TEST_IMAGE} is missing; run `bash sandbox/host_setup.sh` to build it"
    return None


def make_backend(name: str, tmp_path: Path, **config):
    if name == "local":
        from sandbox.backends.local import LocalBackend

        return LocalBackend(SandboxConfig(jobs_dir=str(tmp_path / "jobs"), **config))
    reason = docker_skip_reason()
    if reason:
        pytest.skip(reason)
    from sandbox.backends.docker import DockerBackend

    docker_config = {"image": TEST_IMAGE, "mount_host_python": True}
    return DockerBackend(SandboxConfig(backend="docker", jobs_dir=str(tmp_path / "jobs"), docker=docker_config, **config))


@pytest.fixture(params=["local", pytest.param("docker", marks=pytest.mark.docker)])
def backend(request, tmp_path):
    return make_backend(request.param, tmp_path)


@pytest.fixture
def local_backend(tmp_path):
    return make_backend("local", tmp_path)


@pytest.fixture
def job_dir(tmp_path) -> Path:
    path = tmp_path / "job"
    path.mkdir()
    return path


@pytest.fixture
def limits() -> Limits:
    return Limits(wall_s=30, memory_mb=512, max_procs=64, output_bytes=100_000)


@pytest.fixture
def tcp_server():
    """A server on 127.0.0.1 that counts the connections it accepts: (port, accepted list)."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    accepted: list[str] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, peer = server.accept()
            except (TimeoutError, OSError):
                continue
            accepted.append(str(peer))
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1], accepted
    stop.set()
    thread.join()
    server.close()


@pytest.fixture(scope="session")
def ray_cluster(tmp_path_factory):
    """A real two-node Ray cluster on this machine for the ray tests (sandbox/ray_cluster.py): head `clade_head`
    and node `clade_b`, 1 CPU each, their own ports, temp dir and node ids; this session's driver is connected
    to it once and never to another (Ray cannot re-connect one process to a second cluster reliably).
    Both nodes' workers carry a fake OPENAI_API_KEY, which the sandbox must keep from jobs."""
    import ray

    from sandbox.ray_cluster import LocalRayCluster

    logs = tmp_path_factory.mktemp("ray-logs")
    with LocalRayCluster(logs) as cluster, pytest.MonkeyPatch.context() as patch:
        for key, value in cluster.env.items():
            patch.setenv(key, value)
        secret = {"OPENAI_API_KEY": "sk-clade-ray-test"}
        cluster.head = cluster.add_node("clade_head", num_cpus=1, head=True, env=secret)
        cluster.b = cluster.add_node("clade_b", num_cpus=1, env=secret)
        yield cluster
        if ray.is_initialized():
            ray.shutdown()
