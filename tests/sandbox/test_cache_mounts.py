"""The merge cache of a job with derived models (planner.evolution.space `both`) is its one writable input:
bound read-write by bubblewrap and docker, refused by ray (a cluster node does not share it)."""

from __future__ import annotations

import pytest

from sandbox.backends.docker import container_options
from sandbox.backends.ray import refuse_cache
from sandbox.config import Limits, SandboxConfig
from sandbox.isolation import bwrap_argv
from sandbox.job import DerivedModel, Job, MergeWork
from tests.sandbox.test_merge_job import suite_of, workspace  # noqa: F401 (the fixture)
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


def test_a_derived_merge_is_built_once_in_the_cache_and_measured_as_by_hand(backend, workspace, tmp_path):
    """The real worker under bubblewrap (local) and docker: a layer path through a merge of a and b, which the
    first job materialises in the cache and the second reuses; the fitness is the host's on the merge done by hand."""
    from transformers import AutoTokenizer

    from agents.workspace import load_workspace
    from sandbox.job import EvaluationSpec
    from tools.evaluate.api import evaluate_module, load_suite
    from tools.merge.api import ResidentMerger, load_recipe, merge_to_dir
    from tools.merge.cache import BUILDS_LOG, cache_key

    inner = {
        "merge_method": "linear",
        "dtype": "float32",
        "models": [{"model": "a", "parameters": {"weight": 0.6}}, {"model": "b", "parameters": {"weight": 0.4}}],
    }
    outer = {"merge_method": "passthrough", "layer_path": [{"model": "candidate:m", "layer": 0}, {"model": "a", "layer": 1}]}
    loaded = load_workspace(workspace)
    models = loaded.model_paths()
    cache = tmp_path / "cache"
    derived = {"candidate:m": DerivedModel(recipe=inner, key=cache_key(inner, {n: models[n] for n in ("a", "b")}, 0))}
    jobs = [
        Job(
            id=f"derived-{i}",
            work=MergeWork(recipe=outer, derived=derived),
            models={n: str(p) for n, p in models.items()},
            evaluation=EvaluationSpec(suite=suite_of(workspace)),
            limits=Limits(wall_s=300, memory_mb=4096),
            cache=str(cache),
        )
        for i in range(2)
    ]
    results = [backend.execute(j) for j in jobs]
    assert all(r.status == "ok" for r in results), [(r.reason, r.stderr[-2000:]) for r in results]

    merge_to_dir(load_recipe(inner, models=models), tmp_path / "m")
    merger = ResidentMerger({**models, "candidate:m": tmp_path / "m"})
    recipe = load_recipe(outer, models={**models, "candidate:m": tmp_path / "m"})
    tokenizer = AutoTokenizer.from_pretrained(str(merger.tokenizer_dir(recipe)))
    by_hand = evaluate_module(merger.apply(recipe), tokenizer, load_suite(loaded)).fitness
    assert [r.fitness for r in results] == pytest.approx([by_hand, by_hand], abs=1e-6)
    assert len((cache / BUILDS_LOG).read_text().splitlines()) == 1 and (cache / derived["candidate:m"].key).is_dir()
