"""A real Ray cluster of several nodes on this machine, started and stopped by its owner.

    with LocalRayCluster(root) as cluster:
        head = cluster.add_node("clade_head", num_cpus=1, head=True)
        other = cluster.add_node("clade_b", num_cpus=1)
        ... ray.init(address=cluster.address) ...
        cluster.kill_node(other)     # the node dies (SIGKILL to its processes), mid-session if need be

Each node is one `ray start --block` process (its own session, its own ports, its own custom
resource `name`, so a test can tell the nodes apart and place work on them; the nodes share
the machine's IP) with everything it started below it. Stopping or killing a node ends exactly
the processes of that node's tree: never `ray stop`, which ends every Ray process on the
machine, other users' included. Used by the two-node tests and benchmarks/ray_resident.py.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from tools.errors import CladeError

START_WAIT_S = 120.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ray_executable() -> str:
    beside = Path(sys.executable).parent / "ray"
    return str(beside) if beside.exists() else (shutil.which("ray") or "ray")


@dataclass
class Node:
    name: str
    proc: subprocess.Popen
    log: Path
    pids: set[int] = field(default_factory=set)

    def tree(self) -> list[psutil.Process]:
        """The node's processes: the `ray start --block` process and all it started (seen so far, and now)."""
        found = {}
        for pid in {self.proc.pid, *self.pids}:
            try:
                process = psutil.Process(pid)
                found[pid] = process
                for child in process.children(recursive=True):
                    found[child.pid] = child
            except psutil.Error:
                continue
        self.pids.update(found)
        return list(found.values())


class LocalRayCluster:
    def __init__(self, root: Path | None = None):
        # Ray's unix socket paths must stay short: a short directory under /tmp, not pytest's long one
        self.temp_dir = Path(tempfile.mkdtemp(prefix="cr-", dir="/tmp"))
        self.root = Path(root) if root else self.temp_dir
        self.nodes: list[Node] = []
        self.address: str | None = None
        # Token authentication off: a driver reads its auth mode when it first imports ray, so a test
        # process could not switch to this cluster's token; the cluster is a test's, on this machine.
        self.env = {"RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}

    def add_node(
        self, name: str, *, num_cpus: int = 1, num_gpus: int = 0, head: bool = False, object_store_mb: int = 80, env: dict | None = None
    ) -> Node:
        if head == (self.address is not None):
            raise CladeError("LocalRayCluster: start exactly one head node, first")
        ports = [free_port() for _ in range(8)]
        argv = [
            ray_executable(),
            "start",
            "--block",
            "--disable-usage-stats",
            f"--num-cpus={num_cpus}",
            f"--num-gpus={num_gpus}",
            f"--resources={json.dumps({name: 1})}",
            f"--object-store-memory={object_store_mb * 2**20}",
            "--node-ip-address=127.0.0.1",
            f"--node-manager-port={ports[0]}",
            f"--object-manager-port={ports[1]}",
            f"--min-worker-port={ports[2]}",
            f"--max-worker-port={ports[2] + 40}",
            f"--metrics-export-port={ports[3]}",
            f"--dashboard-agent-listen-port={ports[4]}",
            f"--dashboard-agent-grpc-port={ports[5]}",
            f"--runtime-env-agent-port={ports[6]}",
        ]
        if head:
            gcs = free_port()
            argv += ["--head", f"--port={gcs}", f"--temp-dir={self.temp_dir}", "--include-dashboard=false"]
            address = f"127.0.0.1:{gcs}"
        else:
            argv += [f"--address={self.address}"]
        log = self.root / f"ray-{name}.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env={**os.environ, **self.env, **(env or {})},
            )
        node = Node(name, proc, log)
        self.nodes.append(node)
        if head:
            self.address = address
        self._wait_started(node)
        return node

    def _wait_started(self, node: Node) -> None:
        deadline = time.monotonic() + START_WAIT_S
        while time.monotonic() < deadline:
            text = node.log.read_text(errors="replace")
            if "Ray runtime started" in text:
                node.tree()
                return
            if node.proc.poll() is not None:
                raise CladeError(f"ray start for node {node.name} exited with code {node.proc.returncode}:\n{text[-3000:]}")
            time.sleep(0.2)
        raise CladeError(
            f"ray start for node {node.name}: not started within {START_WAIT_S:g} s:\n{node.log.read_text(errors='replace')[-3000:]}"
        )

    def kill_node(self, node: Node) -> None:
        """The node dies at once: SIGKILL to every process of its tree (its Ray workers, actors, resident workers)."""
        for process in node.tree():
            try:
                process.kill()
            except psutil.Error:
                pass
        node.proc.wait()

    def stop_node(self, node: Node, wait_s: float = 20.0) -> None:
        """SIGTERM the node's `ray start --block` (it stops what it started), then SIGKILL whatever is left."""
        processes = node.tree()
        if node.proc.poll() is None:
            node.proc.send_signal(signal.SIGTERM)
            try:
                node.proc.wait(wait_s)
            except subprocess.TimeoutExpired:
                pass
        psutil.wait_procs([p for p in processes if p.pid != node.proc.pid], timeout=5)
        self.kill_node(node)

    def close(self) -> None:
        for node in reversed(self.nodes):
            self.stop_node(node)
        shutil.rmtree(self.temp_dir, ignore_errors=True)

    def __enter__(self) -> LocalRayCluster:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
