"""Issue 18 item 6 (noise and leaks in messages) and item 4's merge --dry-run and progress."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from archive.sharing import git_reason
from tests.review.fixtures import clade
from tools.progress import TerminalProgress

ROOT = Path(__file__).resolve().parents[2]


def run(monkeypatch, capsys, *argv) -> tuple[int, str, str]:
    code = clade(monkeypatch, *argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def cli(cwd: Path, *argv: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "agents.cli", *argv], cwd=cwd, capture_output=True, text=True, env=env, timeout=300)


def test_eval_prints_no_deprecation_warning_from_transformers(workspace):
    done = cli(workspace.root, "eval", "models/sorter", "--split", "test", "--threads", "1")
    assert done.returncode == 0 and "fitness 0.7985 on split test" in done.stdout
    assert done.stderr == "", done.stderr  # no past_key_values warning, and no progress bar off a terminal


def test_a_value_of_no_accepted_form_is_said_in_words_not_pydantic_internals(workspace, monkeypatch, capsys):
    recipe = workspace.root / "bad.yaml"
    recipe.write_text(yaml.safe_dump({"merge_method": "linear", "models": [{"model": "adder", "parameters": {"weight": {"a": 1}}}]}))
    code, out, err = run(monkeypatch, capsys, "merge", str(recipe), str(workspace.root / "out"), "--workspace", str(workspace.root))
    assert code == 2 and err.count("\n") == 1
    assert f"{recipe}: field models.0.parameters.weight: {{'a': 1}} is none of the accepted forms (a mapping, a list" in err
    assert "Conditional" not in err and "list[" not in err


def test_a_bad_number_argument_names_the_option_not_a_function(workspace, monkeypatch, capsys):
    with pytest.raises(SystemExit) as exc:
        clade(monkeypatch, "review", "--top", "abc", "--workspace", str(workspace.root))
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "argument --top: 'abc' is not a number of candidates" in err and "_positive" not in err


def test_a_boolean_layer_count_is_named_as_such(workspace, monkeypatch, capsys):
    config = workspace.root / "models" / "sorter" / "config.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), "num_hidden_layers": True}))
    code, out, err = run(
        monkeypatch,
        capsys,
        "merge",
        str(workspace.root / "recipes" / "task_arithmetic.yaml"),
        str(workspace.root / "out"),
        "--workspace",
        str(workspace.root),
    )
    assert code == 2 and "num_hidden_layers is true, not a number of layers" in err and "True layers" not in err


def test_an_empty_clade_yaml_says_there_is_nothing_to_search(tmp_path, monkeypatch, capsys):
    (tmp_path / "clade.yaml").write_text("")
    code, out, err = run(monkeypatch, capsys, "run", "--budget", "2", "--workspace", str(tmp_path))
    assert code == 2 and err.count("\n") == 1
    assert "no models under `sources:`, so there is nothing to merge" in err and "planner.evolution" not in err
    assert not (tmp_path / "archive").exists()


def test_semantic_merge_errors_name_the_recipe_file(workspace, monkeypatch, capsys):
    recipe = workspace.root / "typo.yaml"
    recipe.write_text(
        yaml.safe_dump(
            {
                "merge_method": "linear",
                "models": [{"model": "adder", "parameters": {"weight": 1}}, {"model": "addr", "parameters": {"weight": 1}}],
            }
        )
    )
    code, out, err = run(monkeypatch, capsys, "merge", str(recipe), str(workspace.root / "out"), "--workspace", str(workspace.root))
    assert code == 2 and err.startswith(f"clade: error: {recipe}: model addr: directory ") and err.count("\n") == 1
    assert not (workspace.root / "out").exists()


def test_git_failures_give_git_s_reason_not_the_tail_of_a_wrapped_sentence():
    stderr = (
        "fatal: '/nowhere' does not appear to be a git repository\nfatal: Could not read from remote repository.\n\n"
        "Please make sure you have the correct access rights\nand the repository exists.\n"
    )
    assert git_reason(stderr) == "'/nowhere' does not appear to be a git repository; Could not read from remote repository"
    rejected = (
        " ! [rejected]        refs/notes/clade -> refs/notes/clade (fetch first)\n"
        "error: failed to push some refs to '/r'\nhint: Updates were rejected because the remote contains work\n"
    )
    assert (
        git_reason(rejected) == "! [rejected]        refs/notes/clade -> refs/notes/clade (fetch first); failed to push some refs to '/r'"
    )
    assert git_reason("") == "git gave no reason"


def test_pushing_to_a_missing_remote_is_one_line_with_the_reason(zoo, monkeypatch, capsys, tmp_path):
    ws, archive, ids = zoo
    code, out, err = run(monkeypatch, capsys, "archive", "push", str(tmp_path / "nowhere"), "--workspace", str(ws.root))
    assert code == 2 and err.count("\n") == 1 and "does not appear to be a git repository" in err
    assert "and the repository exists" not in err


def test_fsck_names_candidates_not_git_objects(zoo, monkeypatch, capsys):
    ws, archive, ids = zoo
    git_dir = str(archive.git_dir)
    missing = "0123456789abcdef0123456789abcdef01234567"
    tree = subprocess.run(
        ["git", "--git-dir", git_dir, "mktree", "--missing"],
        input=f"100644 blob {missing}\tcandidate.json\n",
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    env = {**os.environ, "GIT_AUTHOR_NAME": "x", "GIT_AUTHOR_EMAIL": "x@y", "GIT_COMMITTER_NAME": "x", "GIT_COMMITTER_EMAIL": "x@y"}
    commit = subprocess.run(
        ["git", "--git-dir", git_dir, "commit-tree", tree, "-m", "broken"], capture_output=True, text=True, check=True, env=env
    ).stdout.strip()
    subprocess.run(["git", "--git-dir", git_dir, "update-ref", f"refs/candidates/{commit[:10]}", commit], check=True)
    code, out, err = run(monkeypatch, capsys, "archive", "fsck", "--workspace", str(ws.root))
    assert code == 2
    named = [line for line in out.splitlines() if missing[:10] in line]
    assert named and all(f"(candidate {commit[:10]}'s candidate.json)" in line for line in named), out


def test_merge_dry_run_prints_the_plan_and_writes_nothing(workspace, monkeypatch, capsys):
    recipe, out_dir = workspace.root / "recipes" / "task_arithmetic.yaml", workspace.root / "out" / "m"
    code, out, err = run(monkeypatch, capsys, "merge", str(recipe), str(out_dir), "--dry-run", "--workspace", str(workspace.root))
    assert code == 0 and not (workspace.root / "out").exists()
    assert "tensors   39 out (4 layers): 39 merged with task_arithmetic, 0 copied" in out
    assert "adder (" in out and "memory    about" in out and "time      about" in out and f"to {out_dir} (new)" in out
    code, out, err = run(monkeypatch, capsys, "merge", str(recipe), str(out_dir), "--dry-run", "--json", "--workspace", str(workspace.root))
    plan = json.loads(out)
    assert (
        plan["tensors"] == 39 and plan["merged"] == 39 and {s["name"] for s in plan["sources"]} == {"base", "adder", "reverser", "sorter"}
    )
    assert plan["bytes_read"] == sum(s["bytes"] for s in plan["sources"]) and plan["peak_memory_bytes"] > 0
    assert plan["estimated_seconds"] > 0 and plan["calibrated_on"].startswith("model.")
    code, out, err = run(monkeypatch, capsys, "merge", str(recipe), str(out_dir), "--json", "--workspace", str(workspace.root))
    assert code == 0 and json.loads(out)["bytes_written"] == plan["bytes_written"]


def test_merge_reports_progress_per_tensor(workspace):
    from tools.merge.api import load_recipe, merge_to_dir

    calls = []
    recipe = load_recipe(workspace.root / "recipes" / "task_arithmetic.yaml", models=workspace.model_paths())
    merge_to_dir(recipe, workspace.root / "out", progress=lambda n, note="", total=None: calls.append((n, note, total)))
    assert len(calls) == 39 and {c[2] for c in calls} == {39} and calls[0][1] == "model.embed_tokens.weight"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_draws_on_a_terminal_and_is_quiet_elsewhere():
    tty, pipe = Terminal(), io.StringIO()
    for stream in (tty, pipe):
        with TerminalProgress("merging", stream=stream) as progress:
            for i in range(3):
                progress(1, note=f"t{i}", total=3)
    assert pipe.getvalue() == "" and "merging" in tty.getvalue()


def test_eval_progress_counts_every_example(workspace):
    from tools.evaluate.api import evaluate_model_dir, load_suite

    calls = []
    suite = load_suite(workspace)
    evaluate_model_dir(
        workspace.root / "models" / "base", suite, split="search", progress=lambda n, note="", total=None: calls.append((n, note, total))
    )
    assert [c[1] for c in calls] == ["add", "reverse", "sort"] and sum(c[0] for c in calls) == calls[0][2] == 300


def test_docker_guidance_is_one_wording_in_doctor_backend_and_readmes():
    from sandbox.backends.docker import build_hint

    hint = build_hint("clade-sandbox:latest")
    readme = " ".join((ROOT / "README.md").read_text().split())
    assert "docker build -t clade-sandbox:latest -f sandbox/Dockerfile ." in hint and "bash sandbox/host_setup.sh" in hint
    for part in (
        "docker build -t clade-sandbox:latest -f sandbox/Dockerfile .",
        "bash sandbox/host_setup.sh",
        "sandbox.docker: {image: clade-sandbox-test:latest, mount_host_python: true}",
    ):
        assert part in readme and part in hint
    assert "clade-sandbox-test" in (ROOT / "sandbox" / "host_setup.sh").read_text()
    assert "docker build -t clade-sandbox:latest -f sandbox/Dockerfile ." in (ROOT / "sandbox" / "Dockerfile").read_text()


@pytest.mark.docker
def test_a_missing_docker_image_is_reported_as_missing_before_input_permissions(tmp_path):
    from tests.sandbox.conftest import docker_skip_reason

    if reason := docker_skip_reason():
        pytest.skip(reason)
    from sandbox.backends.docker import DockerBackend
    from sandbox.config import Limits, SandboxConfig
    from tools.errors import BadInput

    secret = tmp_path / "weights.bin"
    secret.write_bytes(b"x")
    secret.chmod(0o600)  # unreadable to the container's user when Clade runs as root: the older, misleading complaint
    backend = DockerBackend(SandboxConfig(backend="docker", jobs_dir=str(tmp_path / "jobs"), docker={"image": "clade-no-such-image:1"}))
    with pytest.raises(BadInput, match="the Docker image 'clade-no-such-image:1' is missing; build it in a Clade checkout"):
        backend.run(["true"], tmp_path / "job", Limits(), read_only=[str(secret)])
    assert not (tmp_path / "job").exists()
