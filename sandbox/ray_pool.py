"""Resident merge workers on a Ray cluster: `RayResidentPool.execute(job) -> Result`, as `ResidentPool`.

The head (the process running the session) runs the planner and is the only writer of the
archive; it starts one Ray actor per resident worker and hands each merge job to a free one.
An actor is placed with a hard node affinity on a node that holds the sources:
- `sandbox.ray.nodes` empty: every alive node (the sources on a shared file system, at the
  head's paths);
- else only the nodes an entry matches (its IP, Ray node id, or a custom resource the node was
  started with), each job's paths rewritten by that entry's `paths` (head prefix -> the node's
  own copy).
A node gets one actor per GPU (`num_gpus=1`), else one per `cpus_per_worker` CPUs (at most
`workers_per_node`). Inside, an actor is a one-slot `sandbox.resident.ResidentPool` over the
node's local backend: the same sandboxed `sandbox.resident_worker` process as on one machine,
keeping the sources, tensors read, suite and tokenizer loaded between candidates, under the
same isolation and limits (the job's wall clock enforced on the node).

An actor that dies (its node lost, its process killed) is dropped, and the job it was serving
is run again on another actor: the caller gets one result per job, whatever died meanwhile.
A job that has outlived `MAX_ATTEMPTS` actors gets a `failed` result saying so; when no actor
is left, `execute` raises (the candidates stay `running`; `clade run --resume` runs them again).
"""

from __future__ import annotations

import itertools
import re
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from sandbox.config import RayConfig, RayNode, SandboxConfig
from sandbox.job import CodeWork, DeviceRequest, Job, Result
from sandbox.resident_worker import ServiceSettings
from tools.errors import BadInput, CladeError

MAX_ATTEMPTS = 3
CLOSE_WAIT_S = 60.0


@dataclass(frozen=True)
class Placement:
    """Where one resident worker goes: a node, its label (for paths and messages), GPU or CPU, path map."""

    node_id: str
    label: str
    gpu: bool
    cpus: int
    paths: tuple[tuple[str, str], ...] = ()


def node_matches(entry: RayNode, node: dict) -> bool:
    key = entry.match
    return key in (node.get("NodeManagerAddress"), node.get("NodeID")) or key in (node.get("Resources") or {})


def plan_placements(nodes: list[dict], config: RayConfig) -> list[Placement]:
    """Resident workers for the alive nodes Ray reports (`ray.nodes()`), as clade.yaml's `sandbox.ray` asks."""
    found = []
    for node in nodes:
        if not node.get("Alive"):
            continue
        if config.nodes:
            entry = next((e for e in config.nodes if node_matches(e, node)), None)
            if entry is None:
                continue
            label, paths = entry.match, tuple(sorted(entry.paths.items(), key=lambda kv: -len(kv[0])))
        else:
            label, paths = f"{node.get('NodeManagerAddress', 'node')}-{node['NodeID'][:8]}", ()
        resources = node.get("Resources") or {}
        gpus, cpus = int(resources.get("GPU", 0)), int(resources.get("CPU", 0))
        count = gpus if gpus else cpus // config.cpus_per_worker
        count = min(count, config.workers_per_node or count)
        label = re.sub(r"[^A-Za-z0-9._-]", "_", label)
        found += [Placement(node["NodeID"], label, bool(gpus), config.cpus_per_worker if not gpus else 1, paths)] * count
    return found


def map_path(path: str, paths) -> str:
    """`path` seen from a node: the longest head prefix in `paths` replaced by the node's."""
    for head, here in paths:
        if path == head or Path(path).is_relative_to(head):
            return str(Path(here) / Path(path).relative_to(head))
    return path


def map_job(job: Job, paths) -> Job:
    """The job with its inputs at the node's copies (models, the evaluation's data files, a code tree)."""
    if not paths:
        return job
    update: dict = {"models": {name: map_path(p, paths) for name, p in job.models.items()}}
    suite = job.evaluation.suite
    if suite is not None:
        tasks = [
            task
            if isinstance(task, str)
            else task.model_copy(update={"data": {split: map_path(path, paths) for split, path in task.data.items()}})
            for task in suite.tasks
        ]
        update["evaluation"] = job.evaluation.model_copy(update={"suite": suite.model_copy(update={"tasks": tasks})})
    if isinstance(job.work, CodeWork):
        update["work"] = job.work.model_copy(update={"tree": map_path(job.work.tree, paths)})
    return job.model_copy(update=update)


class ResidentActor:
    """The Ray actor: a one-slot ResidentPool over the node's local backend (made into a Ray actor class lazily)."""

    def __init__(self, config: dict, root: str | None, settings: dict):
        import os

        import ray

        from sandbox.backends.local import LocalBackend
        from sandbox.resident import ResidentPool

        config = SandboxConfig.model_validate(config).model_copy(update={"backend": "local", "cpu_concurrency": 1})
        gpus = [int(g) for g in ray.get_gpu_ids()]
        where = Path(root) if root else Path(tempfile.mkdtemp(prefix="clade-ray-resident-"))
        self.node = ray.get_runtime_context().get_node_id()
        self.pool = ResidentPool(
            LocalBackend(config), config, gpus, where / f"{os.getpid()}", settings=ServiceSettings.model_validate(settings)
        )
        self.gpu = bool(gpus)

    def execute(self, job: dict) -> dict:
        # The head places no GPUs on a cluster (Ray does), so its jobs ask for none: on an actor that holds a GPU
        # every job goes to that GPU's slot; on a CPU actor, to the CPU slot.
        work = Job.model_validate(job)
        if self.gpu:
            work = work.model_copy(update={"device": DeviceRequest(gpus=1)})
        return self.pool.execute(work).model_dump(mode="json")

    def where(self) -> dict:
        import os

        return {"node": self.node, "pid": os.getpid(), "root": str(self.pool.root)}

    def close(self, cancel: bool) -> None:
        self.pool.close(cancel=cancel)


class _Actor:
    def __init__(self, handle, placement: Placement, index: int):
        self.handle, self.placement, self.index = handle, placement, index
        self.busy, self.dead = False, None


class RayResidentPool:
    """Merge jobs through resident-worker actors on a Ray cluster; thread-safe; `close()` stops them all."""

    def __init__(self, backend, config: SandboxConfig, root: Path | None = None, *, settings: ServiceSettings | None = None):
        if not backend.cluster:
            raise BadInput("RayResidentPool needs the ray backend (clade.yaml sandbox.backend: ray)")
        self.backend, self.config, self.name = backend, config, "ray+resident"
        ray = self._ray = backend._ray()
        placements = plan_placements(ray.nodes(), config.ray)
        if not placements:
            wanted = ", ".join(e.match for e in config.ray.nodes) or "any node"
            raise BadInput(
                f"clade.yaml sandbox.ray.nodes: no alive Ray node with room for a resident worker matches {wanted} "
                f"(a worker asks for 1 GPU or cpus_per_worker={config.ray.cpus_per_worker} CPUs); `clade sandbox doctor` shows what Ray sees"
            )
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        actor_class = ray.remote(max_restarts=0, max_task_retries=0, max_concurrency=2)(ResidentActor)
        settings_json, config_json = (settings or ServiceSettings()).model_dump(mode="json"), config.model_dump(mode="json")
        self.actors: list[_Actor] = []
        counters: dict[str, itertools.count] = {}
        for placement in placements:
            index = next(counters.setdefault(placement.label, itertools.count()))
            root_here = str(Path(root) / f"{placement.label}-{index}") if root is not None else None
            node_root = map_path(root_here, placement.paths) if root_here else None
            handle = actor_class.options(
                num_cpus=placement.cpus,
                num_gpus=1 if placement.gpu else 0,
                name=None,
                scheduling_strategy=NodeAffinitySchedulingStrategy(placement.node_id, soft=False),
            ).remote(config_json, node_root, settings_json)
            self.actors.append(_Actor(handle, placement, index))
        self._ready, self._closed = threading.Condition(), False
        self.reruns: list[tuple[str, str]] = []  # (job id, the label of the node whose worker died serving it)

    @property
    def size(self) -> int:
        """Resident workers alive now: how many candidates run at once."""
        return sum(a.dead is None for a in self.actors)

    def execute(self, job: Job) -> Result:
        """Run `job` on a free actor (blocks until its result); re-run on another when that one dies."""
        from sandbox.backends.ray import refuse_cache

        refuse_cache(job)
        attempts = []
        while True:
            actor = self._take(job)
            try:
                result = self._call(actor, job)
            except _Died as died:
                attempts.append(actor.placement.label)
                self._drop(actor, died.reason)
                self.reruns.append((job.id, actor.placement.label))
                if len(attempts) >= MAX_ATTEMPTS:
                    return Result(
                        job_id=job.id,
                        status="failed",
                        backend=self.name,
                        reason=f"the Ray worker serving this job died {len(attempts)} times (nodes {', '.join(attempts)}): {died.reason}",
                    )
                print(
                    f"clade ray: the worker on node {actor.placement.label} died while serving job {job.id} ({died.reason}); "
                    "running it on another worker",
                    file=sys.stderr,
                    flush=True,
                )
                continue
            finally:
                self._give(actor)
            result.job_id, result.backend = job.id, self.name
            return result

    def _call(self, actor: _Actor, job: Job) -> Result:
        ray = self._ray
        from ray import exceptions as rex

        try:
            answer = ray.get(actor.handle.execute.remote(map_job(job, actor.placement.paths).model_dump(mode="json")))
        except (rex.RayActorError, rex.WorkerCrashedError, rex.NodeDiedError, rex.ObjectLostError, rex.OwnerDiedError) as exc:
            raise _Died(_first_line(exc)) from None
        except BadInput as exc:  # the node could not run it as asked (a missing source copy): the caller's to fix
            raise BadInput(f"job {job.id} on Ray node {actor.placement.label}: {_first_line(getattr(exc, 'cause', None) or exc)}") from None
        return Result.model_validate(answer)

    def _take(self, job: Job) -> _Actor:
        wants_gpu = job.device.gpus > 0
        with self._ready:
            while True:
                if self._closed:
                    raise CladeError(f"job {job.id}: the Ray resident pool is closed")
                live = [a for a in self.actors if a.dead is None]
                if not live:
                    reasons = "; ".join(f"{a.placement.label}: {a.dead}" for a in self.actors)
                    raise CladeError(f"job {job.id}: no Ray resident worker is left ({reasons}); `clade run --resume` runs it again")
                free = sorted((a for a in live if not a.busy), key=lambda a: a.placement.gpu != wants_gpu)
                if free:
                    free[0].busy = True
                    return free[0]
                self._ready.wait()

    def _give(self, actor: _Actor) -> None:
        with self._ready:
            actor.busy = False
            self._ready.notify_all()

    def _drop(self, actor: _Actor, reason: str) -> None:
        with self._ready:
            actor.dead = reason
            self._ready.notify_all()
        try:
            self._ray.kill(actor.handle, no_restart=True)
        except Exception:  # already gone with its node
            pass

    def where(self) -> list[dict]:
        """Each live actor's node id, label, process id and service directory on its node."""
        found = []
        for actor in self.actors:
            if actor.dead is None:
                info = self._ray.get(actor.handle.where.remote())
                found.append({**info, "label": actor.placement.label, "gpu": actor.placement.gpu})
        return found

    def close(self, *, cancel: bool = False) -> None:
        """Stop every actor's worker (waits for jobs in flight, or with `cancel` kills them), then the actors."""
        with self._ready:
            self._closed = True
            self._ready.notify_all()
        live = [a for a in self.actors if a.dead is None]
        refs = [a.handle.close.remote(cancel) for a in live]
        try:
            self._ray.wait(refs, num_returns=len(refs), timeout=CLOSE_WAIT_S)
        except Exception:  # an actor lost meanwhile: it is killed below all the same
            pass
        for actor in live:
            try:
                self._ray.kill(actor.handle, no_restart=True)
            except Exception:
                pass

    def __enter__(self) -> RayResidentPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _Died(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return next((line.strip() for line in text.splitlines() if line.strip()), type(exc).__name__)[:500]
