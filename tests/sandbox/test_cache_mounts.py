"""The merge cache of a job with derived models (planner.evolution.space `both`) is its one writable input:
bound read-write by bubblewrap and docker, refused by ray (a cluster node does not share it)."""

from __future__ import annotations

import pytest

from sandbox.backends.docker import container_options
from sandbox.backends.ray import refuse_cache
from sandbox.config import Limits, SandboxConfig
from sandbox.isolation import bwrap_argv
from sandbox.job import DerivedModel, Job, MergeWork
from tools.errors import BadInput

RECIPE = {"merge_method": "passthrough", "layer_path": [{"model": "candidate:abc", "layer": 0}]}


def job(tmp_path, derived: bool = True) -> Job:
    work = MergeWork(
        recipe=RECIPE, derived={"candidate:abc": DerivedModel(recipe={"merge_method": "linear"}, key="0" * 64)} if derived else {}
    )
    return Job(id="j", work=work, models={"a": str(tmp_path / "a")}, cache=str(tmp_path / "cache") if derived else None)


def test_only_a_job_with_derived_models_writes_the_cache(tmp_path):
    assert job(tmp_path).writable_paths() == [str((tmp_path / "cache").resolve())]
    assert job(tmp_path, derived=False).writable_paths() == []
    with pytest.raises(ValueError, match="needs `cache`"):
        Job(id="j", work=MergeWork(recipe=RECIPE, derived=job(tmp_path).work.derived))


def test_bwrap_binds_the_cache_read_write_and_the_models_read_only(tmp_path):
    cache = str(tmp_path / "cache")
    argv = bwrap_argv(("bwrap",), tmp_path / "job", [str(tmp_path / "a")], writable=[cache])
    assert argv[argv.index(cache) - 1] == "--bind" and argv[argv.index(str(tmp_path / "a")) - 1] == "--ro-bind"
    assert argv.index(cache) < argv.index("--remount-ro")


def test_docker_mounts_the_cache_read_write(tmp_path):
    cache = str(tmp_path / "cache")
    options = container_options(SandboxConfig(backend="docker"), tmp_path / "job", Limits(), ["/models/a"], [], {}, [cache])
    assert options["volumes"][cache]["mode"] == "rw" and options["volumes"]["/models/a"]["mode"] == "ro"


def test_ray_refuses_a_job_that_needs_the_cache(tmp_path):
    with pytest.raises(BadInput, match="sandbox.backend ray cannot reach it"):
        refuse_cache(job(tmp_path))
    refuse_cache(job(tmp_path, derived=False))
