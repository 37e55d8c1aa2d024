"""The `gradient` strategy on the real tiny zoo: the search-split loss falls, each proposal is a recipe the
merge engine accepts and merges into exactly the tensors the loss saw, a run is deterministic per (seed,
session) and resumes from the archive, the held-out split is never read, bad configuration exits 2 in one
line, and a `clade run --planner gradient` session on the local sandbox records the candidates with lineage."""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path

import pytest
import torch

from agents.budget import Budget, BudgetConfig
from agents.cli import main
from agents.gradient.strategy import GradientStrategy, members
from agents.init_cmd import copy_example
from agents.planner_config import PlannerConfig
from agents.strategy import Context
from agents.workspace import load_workspace
from archive.record import Candidate, Proposer
from archive.secrets import Redactor
from archive.store import Archive
from tools.errors import CladeError
from tools.merge.api import ResidentMerger
from tools.merge.checker import RecipeChecker

SOURCES = ("base", "adder", "reverser", "sorter")
PROMPTS = 24  # per task and split: quick steps on a shared 2-core machine


@pytest.fixture(scope="module")
def zoo(tmp_path_factory) -> Path:
    """The tiny zoo, 24 prompts per search split, and every test split file replaced by bytes that are no JSONL:
    anything that read the held-out split would fail."""
    ws = tmp_path_factory.mktemp("zoo") / "ws"
    copy_example("tiny-zoo", ws)
    for data in (ws / "data").glob("*.search.jsonl"):
        data.write_text("".join(data.read_text().splitlines(keepends=True)[:PROMPTS]))
    for data in (ws / "data").glob("*.test.jsonl"):
        data.write_bytes(b"\xff\xfe not the held-out split {\n")
    return ws


def planner(**gradient) -> PlannerConfig:
    return PlannerConfig(gradient={"lr": 0.05, "steps_per_candidate": 3, "batch_size": 8, **gradient})


def context(ws, history=(), wanted: int = 2, session: str = "s1", recipes=None) -> Context:
    sources = [Candidate(id=f"src-{n}", kind="source", genotype={"name": n, "path": f"models/{n}"}, status="succeeded") for n in SOURCES]
    return Context(
        workspace=ws,
        archive=None,
        session=session,
        budget=Budget(BudgetConfig(candidates=None)),
        rng=random.Random(0),
        wanted=wanted,
        history=list(history),
        sources=sources,
        recipes=recipes,
    )


def recorded(proposal, number: int, session: str = "s1") -> Candidate:
    return Candidate(
        id=f"c{number:04d}",
        kind="merge",
        parents=proposal.parents,
        genotype=proposal.genotype,
        proposer=Proposer(strategy=proposal.strategy, session=session, rationale=proposal.rationale, params=proposal.params),
    )


def drive(strategy, ws, n: int, wanted: int = 2, session: str = "s1", history=()) -> list:
    """Ask `wanted` at a time until `n` members are recorded; the recorded candidates, oldest first."""
    history = list(history)
    while len(history) < n:
        got = strategy.propose(context(ws, history, wanted=min(wanted, n - len(history)), session=session))
        assert got
        history += [recorded(p, len(history) + i, session) for i, p in enumerate(got)]
    return history


@pytest.fixture(scope="module")
def run(zoo):
    ws = load_workspace(zoo)
    strategy = GradientStrategy(planner(), ws)
    return ws, strategy, drive(strategy, ws, 5)


def test_the_search_split_loss_falls_and_the_archive_shows_the_learning_curve(run):
    _, _, history = run
    params = [c.proposer.params for c in history]
    assert [p["index"] for p in params] == [0, 1, 2, 3, 4] and [p["step"] for p in params] == [0, 3, 6, 9, 12]
    losses = [p["loss"] for p in params]
    assert all(later < earlier for earlier, later in zip(losses, losses[1:])), losses
    assert params[0]["weights"] == [[0.3, 0.3, 0.3]] * 6  # candidate 0: every coefficient at init (4 layers, embeddings, head)
    assert "search-split loss" in history[2].proposer.rationale and "step 6" in history[2].proposer.rationale
    assert all(0 <= w <= 1.5 for p in params for row in p["weights"] for w in row)


def test_each_proposal_is_a_valid_recipe_that_merges_into_the_tensors_the_loss_saw(run):
    ws, strategy, history = run
    checker = RecipeChecker(ws.model_paths())
    merger = ResidentMerger(ws.model_paths())
    optimiser = strategy._runs["s1"]
    for c in (history[0], history[3]):
        recipe = c.genotype.recipe
        assert checker.problem(recipe) is None
        assert recipe["merge_method"] == "task_arithmetic" and recipe["parameters"] == {"normalize": False}
        assert [s["sources"][0]["layer_range"] for s in recipe["slices"]] == [[0, 1], [1, 2], [2, 3], [3, 4]]
        assert c.parents == ["src-base", "src-adder", "src-reverser", "src-sorter"]
        lam = torch.tensor(c.proposer.params["weights"], dtype=torch.float32)
        mine = optimiser.merged(lam)
        engine = merger.apply(recipe).state_dict()
        assert set(mine) <= set(engine)
        for name, tensor in mine.items():
            assert torch.equal(engine[name], tensor.detach()), name


def test_a_run_is_deterministic_per_seed_and_session_and_resumes_from_the_archive(run):
    ws, _, history = run
    again = drive(GradientStrategy(planner(), ws), ws, 5, wanted=1)
    assert [c.proposer.params for c in again] == [c.proposer.params for c in history]
    # a new process that finds 3 members recorded proposes exactly what the unbroken run did next
    resumed = GradientStrategy(planner(), ws).propose(context(ws, history[:3], wanted=2))
    assert [p.params for p in resumed] == [c.proposer.params for c in history[3:5]]
    # a gap (a kill between recording and proposing) is filled first
    gap = GradientStrategy(planner(), ws).propose(context(ws, [history[0], history[2]], wanted=1))
    assert gap[0].params == history[1].proposer.params
    # another session draws other minibatches from the same start
    other = drive(GradientStrategy(planner(), ws), ws, 2, session="s2")
    assert other[0].proposer.params["weights"] == history[0].proposer.params["weights"]
    assert other[1].proposer.params["weights"] != history[1].proposer.params["weights"]


def test_a_recorded_member_the_replay_does_not_reproduce_is_an_error_naming_it(run):
    ws, _, history = run
    changed = GradientStrategy(planner(lr=0.01), ws)
    with pytest.raises(CladeError, match="candidate c0001"):
        changed.propose(context(ws, history[:2], wanted=1))


def test_it_stops_at_max_steps_and_when_nothing_is_wanted(zoo):
    ws = load_workspace(zoo)
    strategy = GradientStrategy(planner(max_steps=6, bounds="sigmoid"), ws)
    history = drive(strategy, ws, 3, wanted=3)
    assert [c.proposer.params["step"] for c in history] == [0, 3, 6]
    assert strategy.propose(context(ws, history, wanted=2)) == []
    assert strategy.propose(context(ws, [], wanted=0)) == []
    assert members(history)[2].id == history[2].id


@pytest.fixture
def small_zoo(zoo, tmp_path) -> Path:
    ws = tmp_path / "ws"
    shutil.copytree(zoo, ws, symlinks=True)
    for data in (ws / "data").glob("*.search.jsonl"):
        data.write_text("".join(data.read_text().splitlines(keepends=True)[:8]))
    copy_example("tiny-zoo", tmp_path / "clean")
    for data in (ws / "data").glob("*.test.jsonl"):  # the session scores its best on the held-out split at the end
        data.write_text("".join((tmp_path / "clean" / "data" / data.name).read_text().splitlines(keepends=True)[:8]))
    config = (ws / "clade.yaml").read_text().replace("  cpu_concurrency: 2 ", "  cpu_concurrency: 1 ")
    (ws / "clade.yaml").write_text(config + "planner:\n  gradient: {steps_per_candidate: 2, batch_size: 4}\n")
    return ws


def test_clade_run_planner_gradient_on_the_local_sandbox_records_the_candidates_with_lineage(small_zoo, capsys):
    assert main(["run", str(small_zoo), "--planner", "gradient", "--budget", "3", "--backend", "local", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["candidates"] == 3 and out["succeeded"] == 3
    with Archive.open(small_zoo / "archive", redactor=Redactor()) as archive:
        mine = [archive.get(c) for c in archive.session_candidates(out["session"])]
        names = {archive.get(p).genotype.name for c in mine for p in c.parents}
    assert sorted(c.proposer.params["index"] for c in mine) == [0, 1, 2]
    assert all(c.proposer.strategy == "gradient" and c.status == "succeeded" for c in mine)
    assert names == set(SOURCES)


def write_config(ws: Path, gradient: str) -> None:
    text = (ws / "clade.yaml").read_text().split("planner:")[0]
    (ws / "clade.yaml").write_text(text + f"planner:\n  gradient: {gradient}\n")


@pytest.mark.parametrize(
    "gradient, named",
    [
        ("{lr: -1}", "planner.gradient.lr"),
        ("{steps_per_candidate: 0}", "planner.gradient.steps_per_candidate"),
        ("{init: 2, weight_max: 1}", "init 2 must not exceed weight_max"),
        ("{bounds: tanh}", "planner.gradient.bounds"),
        ("{colour: red}", "planner.gradient.colour"),
        ("{sources: [adder, nobody]}", "planner.gradient.sources nobody"),
        ("{sources: [adder, adder]}", "planner.gradient.sources adder, adder: name each"),
        ("{sources: []}", "planner.gradient.sources (empty)"),
        ("{device: tpu}", "planner.gradient.device"),
    ],
)
def test_bad_configuration_exits_2_in_one_line_naming_the_field(small_zoo, capsys, gradient, named):
    write_config(small_zoo, gradient)
    assert main(["run", str(small_zoo), "--planner", "gradient", "--budget", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert named in err and len(err.splitlines()) == 1, err
    assert not (small_zoo / "archive").exists() or not list((small_zoo / ".clade" / "sessions").glob("s-*.json"))


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal where no GPU is")
def test_cuda_without_a_gpu_exits_2_in_one_line(small_zoo, capsys):
    write_config(small_zoo, "{device: cuda}")
    assert main(["run", str(small_zoo), "--planner", "gradient", "--budget", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert "planner.gradient.device" in err and "no CUDA device" in err and len(err.splitlines()) == 1


def test_a_source_of_another_shape_exits_2_naming_the_tensor(small_zoo, capsys):
    from transformers import AutoConfig, AutoModelForCausalLM

    sorter = small_zoo / "models" / "sorter"
    config = AutoConfig.from_pretrained(sorter)
    config.intermediate_size = 64
    torch.manual_seed(0)
    AutoModelForCausalLM.from_config(config).save_pretrained(sorter)
    assert main(["run", str(small_zoo), "--planner", "gradient", "--budget", "2", "--backend", "local"]) == 2
    err = capsys.readouterr().err.strip()
    assert "mlp" in err and "sorter" in err and "shape" in err and len(err.splitlines()) == 1, err


def test_dry_run_shows_the_settings_and_the_first_proposals_and_records_nothing(small_zoo, capsys):
    assert main(["run", str(small_zoo), "--planner", "gradient", "--dry-run", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["strategy"] == "gradient" and plan["settings"]["gradient"]["steps_per_candidate"] == 2
    assert len(plan["proposals"]) == 1 and not (small_zoo / "archive").exists()


def test_separate_ends_are_filter_entries_in_the_first_and_last_slices(run):
    _, _, history = run
    recipe, weights = history[1].genotype.recipe, history[1].proposer.params["weights"]
    first = recipe["slices"][0]["sources"][1]["parameters"]["weight"]
    assert first == [{"filter": "model.embed_tokens.weight", "value": weights[4][0]}, {"value": weights[0][0]}]
    last = recipe["slices"][-1]["sources"][1]["parameters"]["weight"]
    assert [e.get("filter") for e in last] == ["model.norm.weight", "lm_head.weight", None]
    assert recipe["slices"][1]["sources"][1]["parameters"]["weight"] == weights[1][0]


def test_shared_ends_take_the_first_and_last_layers_coefficients_and_merge_into_the_tensors_the_loss_saw(zoo):
    ws = load_workspace(zoo)
    strategy = GradientStrategy(planner(ends="shared"), ws)
    history = drive(strategy, ws, 2)
    optimiser, merger = strategy._runs["s1"], ResidentMerger(ws.model_paths())
    recipe, weights = history[1].genotype.recipe, history[1].proposer.params["weights"]
    assert RecipeChecker(ws.model_paths()).problem(recipe) is None
    assert len(weights) == 4 and all(isinstance(s["parameters"]["weight"], float) for p in recipe["slices"] for s in p["sources"][1:])
    mine = optimiser.merged(torch.tensor(weights, dtype=torch.float32))
    engine = merger.apply(recipe).state_dict()
    for name, tensor in mine.items():
        assert torch.equal(engine[name], tensor.detach()), name
    assert optimiser.layer_of["model.embed_tokens.weight"] == 0 and optimiser.layer_of["lm_head.weight"] == 3


def test_an_over_long_search_prompt_exits_2_naming_it_before_any_job_and_writes_no_session(small_zoo, capsys):
    data = small_zoo / "data" / "add.search.jsonl"
    lines = data.read_text().splitlines(keepends=True)
    data.write_text("".join(lines) + json.dumps({"prompt": "1+" * 80 + "1=", "answer": "81"}) + "\n")
    assert main(["run", str(small_zoo), "--planner", "gradient", "--budget", "2", "--backend", "local"]) == 2
    err = capsys.readouterr().err.strip()
    assert f"add.search.jsonl:{len(lines) + 1}" in err and "64" in err and len(err.splitlines()) == 1, err
    assert "Traceback" not in err and not (small_zoo / ".clade" / "sessions").exists() and not (small_zoo / "archive").exists()


def test_the_layout_refuses_two_stacks_and_a_separate_ends_name_clash_naming_them():
    from agents.gradient.layout import layout
    from tools.errors import BadInput

    one = ["model.embed_tokens.weight", "model.layers.0.mlp.weight", "model.layers.1.mlp.weight", "model.norm.weight", "lm_head.weight"]
    shape = layout(one, "separate")
    assert shape.n_layers == 2 and shape.layer_of["lm_head.weight"] == 3 and shape.ends[0] == ["model.embed_tokens.weight"]
    with pytest.raises(BadInput, match="2 stacks of layers .*model.layers, vision.layers"):
        layout([*one, "vision.layers.0.mlp.weight"], "shared")
    with pytest.raises(BadInput, match="tensor name mlp.weight occurs inside layer tensor model.layers.0.mlp.weight"):
        layout([*one, "mlp.weight"], "separate")
    assert layout([*one, "mlp.weight"], "shared").layer_of["mlp.weight"] == 1


def test_the_base_is_the_modules_own_parameters_not_a_second_copy(run):
    """The base tensors the merge reads share storage with the module's parameters (on `device: cuda` the module is
    moved before the base is taken, so the base weights are on the GPU once). On CPU this also held before."""
    _, strategy, _ = run
    optimiser = strategy._runs["s1"]
    params = dict(optimiser.module.named_parameters())
    assert set(optimiser.base) == set(params)
    assert all(optimiser.base[n].data_ptr() == params[n].data_ptr() for n in params)
    assert all(d.device == optimiser.device for ds in optimiser.deltas.values() for d in ds)


def test_on_cuda_the_optimisation_runs_with_deterministic_algorithms_restored_afterwards(monkeypatch):
    """The switch itself (no GPU needed): on a CUDA device torch's deterministic algorithms and the cuBLAS workspace
    setting are on inside, and as they were outside; on CPU nothing changes."""
    from agents.gradient.optimise import CUBLAS_WORKSPACE, deterministic

    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    before = torch.are_deterministic_algorithms_enabled()
    with deterministic(torch.device("cuda", 0)):
        assert torch.are_deterministic_algorithms_enabled() and torch.is_deterministic_algorithms_warn_only_enabled()
        assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == CUBLAS_WORKSPACE
    assert torch.are_deterministic_algorithms_enabled() == before and "CUBLAS_WORKSPACE_CONFIG" not in os.environ
    monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", ":16:8")
    with deterministic(torch.device("cuda", 0)):
        assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":16:8"
    with deterministic(torch.device("cpu")):
        assert torch.are_deterministic_algorithms_enabled() == before
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":16:8"


def test_a_resume_takes_the_recorded_members_loss_instead_of_recomputing_it(run):
    """Replaying the recorded members costs their optimisation steps only: their snapshots carry the loss the archive
    holds (here altered, to show it is not recomputed), and what the resume proposes next is unchanged."""
    ws, _, history = run
    kept = [recorded_copy(c, loss=123.0 + i) for i, c in enumerate(history[:3])]
    strategy = GradientStrategy(planner(), ws)
    resumed = strategy.propose(context(ws, kept, wanted=2))
    assert [s.loss for s in strategy._runs["s1"].snapshots[:3]] == [123.0, 124.0, 125.0]
    assert [p.params for p in resumed] == [c.proposer.params for c in history[3:5]]


def recorded_copy(candidate: Candidate, **params) -> Candidate:
    proposer = candidate.proposer.model_copy(update={"params": {**candidate.proposer.params, **params}})
    return candidate.model_copy(update={"proposer": proposer})


@pytest.mark.parametrize(
    "flags, named",
    [
        (["--gradient-ends", "both"], "--gradient-ends"),
        (["--gradient-lr", "-1"], "--gradient-lr"),
        (["--gradient-batch", "0"], "--gradient-batch"),
    ],
)
def test_the_benchmarks_bad_gradient_flag_exits_2_naming_it_before_any_search(tmp_path, flags, named):
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, str(root / "benchmarks" / "search_efficiency.py"), str(tmp_path / "nowhere"), "--strategies", "gradient", *flags],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(root), "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    last = done.stderr.strip().splitlines()[-1]
    assert done.returncode == 2 and named in last and "Traceback" not in done.stderr, done.stderr


def test_a_base_whose_parameter_names_are_not_its_files_tensor_names_exits_2_naming_one(small_zoo, capsys):
    """transformers loads a checkpoint saved without the `model.` prefix under the prefixed names; the recipe would
    name tensors the files do not hold, so the gradient strategy refuses it (one line, exit 2)."""
    from safetensors.torch import load_file, save_file

    for name in SOURCES:
        weights = small_zoo / "models" / name / "model.safetensors"
        tensors = {k.removeprefix("model."): v for k, v in load_file(weights).items()}
        save_file(tensors, weights, metadata={"format": "pt"})
    write_config(small_zoo, "{ends: shared}")  # with separate, the pre-flight refuses first: norm.weight is in layer names
    assert main(["run", str(small_zoo), "--planner", "gradient", "--dry-run"]) == 2
    err = capsys.readouterr().err.strip()
    assert "model.embed_tokens.weight" in err and "base" in err and len(err.splitlines()) == 1, err
