"""`clade sandbox doctor`: which protections are active on this machine, as detected now."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping

from pydantic import BaseModel

from sandbox.cgroups import cgroup_mode
from sandbox.config import SandboxConfig
from sandbox.isolation import BWRAP_UID, bwrap_flags, unshare_prefix
from sandbox.scheduler import detect_gpus


class Protection(BaseModel):
    backend: str
    name: str
    active: bool
    how: str


def _isolation() -> str:
    return "bwrap" if bwrap_flags() else "unshare" if unshare_prefix() else "none"


def local_protections() -> list[Protection]:
    kind, cgroups, root = _isolation(), cgroup_mode(), os.geteuid() == 0
    ns = {"bwrap": "bubblewrap", "unshare": "unshare"}.get(kind)
    uid = kind == "bwrap" and BWRAP_UID[0] in (bwrap_flags() or ())
    rows = [
        (
            "environment is an allow-list (no host secrets)",
            ns is not None,
            f"allow-list; host processes hidden by a pid namespace ({ns})"
            if ns
            else "NOT enforced: the job's own environment is an allow-list, but without a pid namespace it can read host processes' /proc/<pid>/environ; install bubblewrap",
        ),
        ("network cut off", ns is not None, f"empty network namespace ({ns})" if ns else "NOT enforced: install bubblewrap"),
        (
            "file system read-only outside the job directory",
            kind == "bwrap",
            "bubblewrap read-only binds" if kind == "bwrap" else "NOT enforced: install bubblewrap",
        ),
        (
            "only allow-listed host files visible (no home dirs, /run, /var, other jobs; /etc secrets masked)",
            kind == "bwrap",
            "bubblewrap binds" if kind == "bwrap" else "NOT enforced: install bubblewrap",
        ),
        (
            "unprivileged user, no capabilities",
            uid or not root,
            "uid 65534 in a user namespace" if uid else "runs as the calling user" if not root else "NOT enforced: jobs run as root",
        ),
        (
            "whole job killed at a limit (no survivors)",
            True,
            f"cgroup {cgroups}" if cgroups else f"pid namespace ({ns})" if ns else "process group only: a job that calls setsid can escape",
        ),
        ("memory limit", True, f"cgroup {cgroups} (kernel)" if cgroups else "RSS sampled every 20 ms (can overshoot briefly)"),
        (
            "process limit",
            bool(cgroups) or not root,
            f"cgroup {cgroups} pids.max"
            if cgroups
            else "RLIMIT_NPROC (per user)"
            if not root
            else "NOT enforced: root without writable cgroups",
        ),
        ("wall clock, output bytes, CPU seconds, file size", True, "watch loop + rlimits"),
    ]
    return [Protection(backend="local", name=n, active=a, how=h) for n, a, h in rows]


def docker_protections(config: SandboxConfig) -> list[Protection]:
    if importlib.util.find_spec("docker") is None:
        return [Protection(backend="docker", name="Docker SDK", active=False, how="NOT installed: pip install docker")]
    try:
        from sandbox.backends.docker import build_hint, connect

        client = connect()
        version = client.version().get("Version", "?")
    except Exception as exc:  # doctor reports whatever stops the engine from answering
        return [Protection(backend="docker", name="Docker engine", active=False, how=f"NOT available: {exc}")]
    image = config.docker.image
    present = bool(client.images.list(name=image))
    return [
        Protection(backend="docker", name="Docker engine", active=True, how=f"version {version}"),
        Protection(backend="docker", name=f"image {image}", active=present, how="present" if present else f"MISSING: {build_hint(image)}"),
        Protection(
            backend="docker",
            name="network none, read-only root, no capabilities, non-root, cgroup limits",
            active=present,
            how="per container",
        ),
    ]


def ray_protections() -> list[Protection]:
    found = importlib.util.find_spec("ray") is not None
    return [
        Protection(
            backend="ray",
            name="Ray installed",
            active=found,
            how="jobs run the local backend on the Ray worker" if found else "NOT installed: pip install 'clade[ray]'",
        )
    ]


def _sources_on_node(paths: dict[str, str]) -> list[str]:
    """Run on a node (a Ray task): the named paths missing there, as 'name (path)'."""
    return [f"{name} ({path})" for name, path in paths.items() if not os.path.exists(path)]


def ray_report(config: SandboxConfig, sources: Mapping[str, str] | None = None) -> dict:
    """What Ray sees: each alive node's CPUs, GPUs and custom resources, the resident workers clade.yaml
    places there, and which of `sources` (name -> head path) are missing at that node's path for them."""
    from sandbox.backends.ray import RayBackend
    from sandbox.ray_pool import map_path, plan_placements

    ray = RayBackend(config)._ray()
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    placements = plan_placements(ray.nodes(), config.ray)
    check = ray.remote(num_cpus=0, max_retries=0)(_sources_on_node)
    nodes = []
    for node in ray.nodes():
        if not node.get("Alive"):
            continue
        mine = [p for p in placements if p.node_id == node["NodeID"]]
        resources = node.get("Resources") or {}
        label = mine[0].label if mine else f"{node.get('NodeManagerAddress')}-{node['NodeID'][:8]}"
        paths = {name: map_path(str(path), mine[0].paths if mine else ()) for name, path in (sources or {}).items()}
        missing = None
        if mine and paths:
            strategy = NodeAffinitySchedulingStrategy(node["NodeID"], soft=False)
            try:
                missing = ray.get(check.options(scheduling_strategy=strategy).remote(paths), timeout=120)
            except Exception as exc:  # the node did not answer: say so instead of guessing
                missing = [f"(could not check: {str(exc).splitlines()[0][:200]})"]
        nodes.append(
            {
                "label": label,
                "node_id": node["NodeID"],
                "address": node.get("NodeManagerAddress"),
                "cpus": int(resources.get("CPU", 0)),
                "gpus": int(resources.get("GPU", 0)),
                "resources": sorted(
                    k for k in resources if k not in ("CPU", "GPU", "memory", "object_store_memory") and not k.startswith("node:")
                ),
                "workers": len(mine),
                "gpu_workers": sum(p.gpu for p in mine),
                "missing": missing,
            }
        )
    return {"address": config.ray.address or "local ray.init()", "nodes": nodes, "sources": dict(sources or {})}


def render_ray(report: dict) -> str:
    lines = [
        f"ray: {report['address']}: {len(report['nodes'])} alive node(s), "
        f"{sum(n['workers'] for n in report['nodes'])} resident worker(s) would be placed"
    ]
    for n in report["nodes"]:
        extra = f" [{', '.join(n['resources'])}]" if n["resources"] else ""
        kind = f"{n['gpu_workers']} GPU" if n["gpu_workers"] else "CPU"
        line = f"  {n['label']} ({n['address']}, {n['node_id'][:8]}): {n['cpus']} CPUs, {n['gpus']} GPUs{extra}; {n['workers']} {kind} worker(s)"
        if n["workers"] == 0:
            line += " (not in sandbox.ray.nodes, or no room)"
        elif n["missing"] is not None:
            have = len(report["sources"]) - len(n["missing"])
            line += f"; sources {have}/{len(report['sources'])} present" + "".join(f"; MISSING {m}" for m in n["missing"])
        lines.append(line)
    return "\n".join(lines)


def diagnose(
    config: SandboxConfig, env: Mapping[str, str], *, sources: Mapping[str, str] | None = None, ray_address: str | None = None
) -> dict:
    """The protections; and, when the ray backend is configured or a cluster address given, what Ray sees."""
    gpus = detect_gpus(config.gpus, env)
    rows = local_protections() + docker_protections(config) + ray_protections()
    report = {"isolation": _isolation(), "cgroups": cgroup_mode(), "gpus": gpus, "protections": [r.model_dump() for r in rows]}
    if ray_address is not None:
        config = config.model_copy(update={"ray": config.ray.model_copy(update={"address": ray_address})})
    if (config.backend == "ray" or ray_address is not None) and importlib.util.find_spec("ray") is not None:
        report["ray"] = ray_report(config, sources)
    return report


def render(report: dict) -> str:
    lines = [f"isolation: {report['isolation']}   cgroups: {report['cgroups'] or 'none'}   GPUs: {report['gpus'] or 'none (CPU jobs)'}"]
    for row in report["protections"]:
        mark = " ok " if row["active"] else "MISS"
        lines.append(f"[{mark}] {row['backend']:<6} {row['name']}: {row['how']}")
    if "ray" in report:
        lines.append(render_ray(report["ray"]))
    return "\n".join(lines)
