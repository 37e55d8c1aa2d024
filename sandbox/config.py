"""The `sandbox:` section of clade.yaml: which backend runs jobs, and their default limits.

Example:
    sandbox:
      backend: local          # local | docker | ray
      limits: {wall_s: 1800, memory_mb: 16000, max_procs: 256, output_bytes: 1000000}
      cpu_concurrency: 2      # concurrent CPU jobs when no GPU is visible
      threads: null           # CPU threads per job (OMP/MKL_NUM_THREADS); null: all cores
      gpus: auto              # auto | none | [0, 1]
      isolation: auto         # auto | required | unshare | none (see below)
      cgroups: auto           # auto | off
      docker: {image: clade-sandbox:latest}
      ray:                    # see sandbox/README.md "Scaling"
        address: null         # null: a local ray.init(); or "auto" / "head:6379" to join a cluster
        nodes:                # the nodes that hold the sources (omit: all, on a shared file system)
          - {match: 10.0.0.5, paths: {/data/models: /nvme/models}}
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

MIN_WALL_S = 1.0  # below this no job can even start its interpreter: a typo (0.001), not a limit
MAX_WALL_S = 366 * 24 * 3600.0  # finite: nan and inf would silently remove the limit


class Limits(BaseModel):
    """What one job may use. `None` means not limited."""

    model_config = ConfigDict(extra="forbid")
    wall_s: float = Field(3600.0, ge=MIN_WALL_S, le=MAX_WALL_S, description="wall-clock seconds before the whole job is killed")
    cpu_s: int | None = Field(None, gt=0, description="CPU seconds per process (RLIMIT_CPU)")
    memory_mb: int | None = Field(None, gt=0, description="resident memory of the whole job")
    max_procs: int | None = Field(512, gt=0, description="processes and threads of the whole job")
    file_size_mb: int | None = Field(65536, gt=0, description="largest file the job may write (RLIMIT_FSIZE)")
    output_bytes: int = Field(1_000_000, gt=0, description="bytes of stdout, and of stderr, before the job is killed")


class DockerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    image: str = "clade-sandbox:latest"
    # Bind the host's Python and this checkout read-only at the same paths, instead of using
    # the project installed in the image (how the tests run on a locally imported image).
    mount_host_python: bool = False
    scratch_mb: int = Field(1024, gt=0, description="size of the /tmp tmpfs")
    cpus: float | None = Field(None, gt=0, description="CPUs per container (default: no limit)")


class RayNode(BaseModel):
    """A node that holds the sources: where resident merge workers may be placed, and where its copies are."""

    model_config = ConfigDict(extra="forbid")
    match: str = Field(
        min_length=1, description="the node's IP, its Ray node id, or a custom resource it was started with (ray start --resources)"
    )
    paths: dict[str, str] = Field(default_factory=dict, description="a path prefix on the head -> where this node holds the same files")


class RayConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    address: str | None = None
    num_cpus: int | None = Field(None, gt=0, description="CPUs for a local ray.init()")
    # Resident merge workers (one Ray actor each): one per GPU of a node, else one per `cpus_per_worker` CPUs.
    nodes: list[RayNode] = Field(
        default_factory=list, description="the nodes that hold the sources; empty: every node (a shared file system)"
    )
    cpus_per_worker: int = Field(1, gt=0, description="CPUs a CPU resident worker asks Ray for")
    workers_per_node: int | None = Field(None, gt=0, description="at most this many resident workers per node")


class SandboxConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    backend: Literal["local", "docker", "ray"] = "local"
    # auto: the strongest available (bwrap, else unshare, else none) with a warning naming what is
    # missing; required: refuse to run without bwrap; unshare / none: force a weaker level.
    isolation: Literal["auto", "required", "unshare", "none"] = "auto"
    cgroups: Literal["auto", "off"] = Field("auto", description="per-job cgroups when /sys/fs/cgroup is writable")
    limits: Limits = Field(default_factory=Limits)
    cpu_concurrency: int = Field(1, gt=0)
    threads: int | None = Field(None, gt=0, description="CPU threads per job (OMP/MKL_NUM_THREADS); None: torch's default, all cores")
    gpus: Literal["auto", "none"] | list[int] = "auto"
    jobs_dir: str | None = Field(None, description="where job directories go (default: a temporary directory)")
    docker: DockerConfig = Field(default_factory=DockerConfig)
    ray: RayConfig = Field(default_factory=RayConfig)
