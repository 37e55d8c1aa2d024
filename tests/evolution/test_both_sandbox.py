"""`space: both` end to end through `clade run` on the real local sandbox (resident workers, two slots) on a
cut-down tiny zoo: the best phase-1 merge is materialised once into the workspace's merge cache and reused by
every phase-2 job; a phase-2 merge equals doing it by hand (materialise M with the merge engine, then run the
layer path) tensor for tensor; `clade export` resolves `candidate:<id>` and `clade merge` refuses it in one line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from safetensors.torch import load_file

from agents.cli import main
from agents.derived import cache_dir
from agents.jobs import merge_job
from agents.workspace import load_workspace
from archive.secrets import Redactor
from archive.store import Archive
from sandbox.merge_job import derived_models
from tools.merge.api import ResidentMerger, load_recipe, merge_to_dir
from tools.merge.cache import BUILDS_LOG

PROMPTS = 8


@pytest.fixture(scope="module")
def session(tmp_path_factory, zoo):
    """One `clade run --planner evolution --budget 6` with space both (population 2, phase 1 = 3 candidates)."""
    ws = tmp_path_factory.mktemp("both") / "zoo"
    shutil.copytree(zoo.root, ws, symlinks=True, ignore=shutil.ignore_patterns(".clade", "archive"))
    for data in (ws / "data").glob("*.jsonl"):
        data.write_text("".join(data.read_text().splitlines(keepends=True)[:PROMPTS]))
    config = (ws / "clade.yaml").read_text().replace("  - {name: reverser, path: models/reverser}\n", "")
    (ws / "clade.yaml").write_text(config + "planner:\n  evolution: {space: both, population: 2, extras: 1}\n")
    assert main(["run", str(ws), "--planner", "evolution", "--budget", "6"]) == 0
    workspace = load_workspace(ws)
    [sid] = [p.stem for p in (ws / ".clade" / "sessions").glob("s-*.json")]
    with Archive.open(workspace.path("archive"), redactor=Redactor()) as archive:
        got = [archive.get(c) for c in archive.session_candidates(sid)]
    return workspace, got


def tensors(directory: Path) -> dict:
    out = {}
    for shard in sorted(directory.glob("*.safetensors")):
        out.update({k: v.clone() for k, v in load_file(shard).items()})
    return out


def test_the_best_merge_is_built_once_and_reused_by_every_phase_2_job(session):
    ws, got = session
    second = [c for c in got if c.proposer.params["run"] == "evolution/both"]
    assert len(got) == 6 and len(second) == 3 and all(c.status == "succeeded" for c in got)
    [merged] = {c.proposer.params["merged"] for c in second}
    assert merged is not None
    builds = (cache_dir(ws) / BUILDS_LOG).read_text().splitlines()
    entries = [p for p in cache_dir(ws).iterdir() if p.is_dir()]
    assert len(builds) == 1 and len(entries) == 1 and builds[0].split()[0] == entries[0].name


def test_a_phase_2_merge_equals_materialising_m_by_hand_then_the_layer_path(session, tmp_path):
    ws, got = session
    by_id = {c.id: c for c in got}
    child = next(c for c in got if c.proposer.params["run"] == "evolution/both" and "candidate:" in str(c.genotype.recipe))
    m = by_id[child.proposer.params["merged"]]
    name, models = f"candidate:{m.id}", ws.model_paths()
    merge_to_dir(load_recipe(m.genotype.recipe, models=models), tmp_path / "m")
    merge_to_dir(load_recipe(child.genotype.recipe, models={**models, name: tmp_path / "m"}), tmp_path / "child")
    by_hand = tensors(tmp_path / "child")

    with Archive.open(ws.path("archive"), redactor=Redactor()) as archive:
        job = merge_job(ws, child.id, child.genotype.recipe, archive=archive)
    worker_models = {n: Path(p) for n, p in job.models.items()} | derived_models(job, "cpu")  # what the worker does
    assert worker_models[name].parent == cache_dir(ws)
    module = ResidentMerger(worker_models).apply(child.genotype.recipe)
    state = module.state_dict()
    assert by_hand and all((state[k] == v).all() for k, v in by_hand.items())
    assert tensors(worker_models[name]).keys() == tensors(tmp_path / "m").keys()
    assert len((cache_dir(ws) / BUILDS_LOG).read_text().splitlines()) == 1  # reused, not built again


def test_export_resolves_the_merged_candidate_and_merge_refuses_it(session, tmp_path, capsys):
    ws, got = session
    child = next(c for c in got if c.proposer.params["run"] == "evolution/both" and "candidate:" in str(c.genotype.recipe))
    assert main(["approve", child.id, "--workspace", str(ws.root), "--who", "test"]) == 0
    assert main(["show", child.id, "--workspace", str(ws.root)]) == 0
    assert main(["export", child.id, str(tmp_path / "out"), "--workspace", str(ws.root)]) == 0
    m = next(c for c in got if c.id == child.proposer.params["merged"])
    models = ws.model_paths()
    merge_to_dir(load_recipe(m.genotype.recipe, models=models), tmp_path / "m")
    merge_to_dir(load_recipe(child.genotype.recipe, models={**models, f"candidate:{m.id}": tmp_path / "m"}), tmp_path / "child")
    exported, by_hand = tensors(tmp_path / "out"), tensors(tmp_path / "child")
    assert exported.keys() == by_hand.keys() and all((exported[k] == by_hand[k]).all() for k in by_hand)

    capsys.readouterr()
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(child.genotype.recipe))
    assert main(["merge", str(tmp_path / "r.yaml"), str(tmp_path / "merged"), "--workspace", str(ws.root)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "candidate:" in err and "clade export" in err and not (tmp_path / "merged").exists()
