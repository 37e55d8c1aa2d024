"""A real merge job on tiny fixture models: the worker merges with tools.merge.api, scores
with tools.evaluate.api inside the sandbox, and gets the same fitness as the host would."""

from __future__ import annotations

import json
import subprocess

import pytest

from sandbox.config import Limits
from sandbox.job import EvaluationSpec, Job, MergeWork

RECIPE = {
    "merge_method": "linear",
    "dtype": "float32",
    "models": [{"model": "a", "parameters": {"weight": 0.7}}, {"model": "b", "parameters": {"weight": 0.3}}],
}
TEXTS = ["hello world", "merge me gently", "tiny models, big plans", "abc def ghi"]


def suite_of(workspace):
    """The workspace's evaluation as a session's job carries it."""
    from agents.jobs import evaluation_config
    from agents.workspace import load_workspace

    return evaluation_config(load_workspace(workspace))


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    from tests.merge.conftest import make_model

    root = tmp_path_factory.mktemp("merge-ws")
    base = make_model(root / "models" / "base", "llama", seed=0)
    make_model(root / "models" / "a", "llama", seed=1, base=base)
    make_model(root / "models" / "b", "llama", seed=2, base=base)
    for split in ("search", "test"):
        (root / f"text.{split}.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in TEXTS))
    (root / "clade.yaml").write_text(
        "version: 1\nbase: models/base\nsources:\n  - {name: a, path: models/a}\n  - {name: b, path: models/b}\n"
        "evaluation:\n  tasks:\n    - {name: ppl, kind: perplexity, data: {search: text.search.jsonl, test: text.test.jsonl}}\n"
    )
    subprocess.run(["chmod", "-R", "o+rX", str(root)], check=True)  # the docker job's user (65534) reads it
    return root


def merge_job(workspace) -> Job:
    from agents.workspace import load_workspace

    models = {name: str(path) for name, path in load_workspace(workspace).model_paths().items()}
    return Job(
        id="merge-1",
        work=MergeWork(recipe=RECIPE),
        models=models,
        seed=3,
        evaluation=EvaluationSpec(suite=suite_of(workspace)),
        limits=Limits(wall_s=300, memory_mb=4096),
    )


@pytest.fixture(scope="module")
def host_fitness(workspace) -> float:
    from transformers import AutoTokenizer

    from agents.workspace import load_workspace
    from tools.evaluate.api import evaluate_module, load_suite
    from tools.merge.api import ResidentMerger, load_recipe

    loaded = load_workspace(workspace)
    merger = ResidentMerger(loaded.model_paths())
    recipe = load_recipe(RECIPE, models=loaded.model_paths())
    tokenizer = AutoTokenizer.from_pretrained(str(merger.tokenizer_dir(recipe)))
    return evaluate_module(merger.apply(recipe, seed=3), tokenizer, load_suite(loaded)).fitness


def test_merge_job_runs_in_the_sandbox(backend, workspace, host_fitness):
    result = backend.execute(merge_job(workspace))
    assert result.status == "ok", (result.reason, result.stderr[-2000:])
    assert result.fitness == pytest.approx(host_fitness, abs=1e-6)
    assert "ppl" in result.metrics["tasks"] and result.timings.materialize_s > 0 and result.timings.evaluate_s > 0
    assert result.metrics["stage"] == "full" and result.metrics["examples"]["ppl"] > 0
    assert result.device == "cpu" and result.peak_memory_mb


def test_docker_refuses_inputs_its_user_cannot_read(tmp_path):
    from sandbox.backends.docker import check_readable
    from tools.errors import BadInput

    inputs = tmp_path / "inputs"
    (inputs / "model").mkdir(parents=True)
    weights = inputs / "model" / "model.safetensors"
    weights.write_bytes(b"x")
    subprocess.run(["chmod", "-R", "o+rX", str(inputs)], check=True)
    check_readable([str(inputs)])
    weights.chmod(0o600)
    if __import__("os").getuid() == 0:
        with pytest.raises(BadInput, match="model.safetensors: not readable by the docker job's user"):
            check_readable([str(inputs)])


def test_a_merge_job_needs_a_recipe_mapping_and_a_suite(local_backend, workspace):
    """The typed work refuses a recipe that is not a mapping when the job is built (and the worker when
    it reads one: tests/sandbox/test_job_contract.py); a job without a suite fails naming the field."""
    with pytest.raises(ValueError, match=r"work\.merge\.recipe"):
        Job.model_validate({**merge_job(workspace).model_dump(), "work": {"kind": "merge", "recipe": "linear please"}})
    result = local_backend.execute(merge_job(workspace).model_copy(update={"evaluation": EvaluationSpec()}))
    assert result.status == "failed" and "needs evaluation.suite" in result.reason


def test_a_calibrated_recipe_names_the_workspace_task_and_matches_the_host(workspace):
    """A data method in a merge job: the calibration section names the workspace's task, the
    worker's resident merger resolves it from the suite, and the fitness equals the host's."""
    from transformers import AutoTokenizer

    from agents.workspace import load_workspace
    from sandbox.job import Timings
    from sandbox.merge_job import MergeCaches, merge_and_evaluate
    from tools.evaluate.api import evaluate_module, load_suite
    from tools.evaluate.suite import WorkspaceTasks
    from tools.merge.api import ResidentMerger, load_recipe

    recipe = {"merge_method": "regmean_plusplus", "models": [{"model": "a"}, {"model": "b"}], "calibration": {"tasks": ["ppl"]}}
    job = merge_job(workspace).model_copy(update={"work": MergeWork(recipe=recipe)})
    caches = MergeCaches()
    evaluated, metrics = merge_and_evaluate(job, "cpu", Timings(), caches)
    fitness = evaluated.fitness
    loaded = load_workspace(workspace)
    merged = load_recipe(recipe, models=loaded.model_paths(), tasks=WorkspaceTasks(loaded))
    merger = ResidentMerger(loaded.model_paths())
    tokenizer = AutoTokenizer.from_pretrained(str(merger.tokenizer_dir(merged)))
    assert fitness == pytest.approx(evaluate_module(merger.apply(merged, seed=3), tokenizer, load_suite(loaded)).fitness, abs=1e-9)
    assert metrics["resident"]["suite_cached"] is False


def test_the_job_carries_its_evaluation_and_the_worker_imports_nothing_from_agents(workspace, host_fitness, tmp_path):
    """The evaluation configuration travels in the job: a clade.yaml edited (here: broken) after the
    job was built changes nothing, and the worker never imports the app layer (`agents`)."""
    import shutil
    import sys

    from sandbox.job import JOB_FILE, RESULT_FILE, Result, write_json_atomic

    copy = tmp_path / "ws"
    shutil.copytree(workspace, copy, symlinks=True)
    job = merge_job(copy)
    (copy / "clade.yaml").write_text("version: 1\nevaluation:\n  tasks: [gone.yaml]\n  weights: {ppl: 0}\n")
    job_dir = tmp_path / "job"
    job_dir.mkdir()
    write_json_atomic(job_dir / JOB_FILE, job)
    probe = (
        "import sys; from sandbox.worker import main; main([sys.argv[1]]); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'agents'))"
    )
    done = subprocess.run([sys.executable, "-c", probe, str(job_dir)], capture_output=True, text=True, check=True)
    result = Result.model_validate_json((job_dir / RESULT_FILE).read_text())
    assert result.status == "ok", (result.reason, done.stderr[-2000:])
    assert result.fitness == pytest.approx(host_fitness, abs=1e-6)
    assert done.stdout.strip().splitlines()[-1] == "[]"
    assert all(
        isinstance(task, dict) and task["data"]["search"].startswith("/")
        for task in json.loads(job.model_dump_json())["evaluation"]["suite"]["tasks"]
    )
