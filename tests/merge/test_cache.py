"""The content-addressed merge cache (tools/merge/cache.py) on the tiny zoo's real models: built once and
reused (threads racing included), a damaged entry rebuilt, a directory Clade did not write left alone."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest
from safetensors.torch import load_file

from tools.errors import BadInput
from tools.merge.api import load_recipe, merge_to_dir
from tools.merge.cache import BUILDS_LOG, COMPLETE, cache_key, materialise

ZOO = Path(__file__).resolve().parents[2] / "examples" / "tiny-zoo" / "models"
MODELS = {n: ZOO / n for n in ("base", "adder", "sorter")}
RECIPE = {
    "merge_method": "task_arithmetic",
    "base_model": "base",
    "parameters": {"normalize": False},
    "models": [{"model": "adder", "parameters": {"weight": 0.7}}, {"model": "sorter", "parameters": {"weight": 0.4}}],
}


def builds(root: Path) -> int:
    log = root / BUILDS_LOG
    return len(log.read_text().splitlines()) if log.exists() else 0


def tensors(directory: Path) -> dict:
    out = {}
    for shard in sorted(directory.glob("*.safetensors")):
        out.update({k: v.clone() for k, v in load_file(shard).items()})  # copies: a test truncates the file afterwards
    return out


def test_the_key_depends_on_recipe_seed_and_sources():
    key = cache_key(RECIPE, MODELS, 0)
    assert key == cache_key(dict(reversed(list(RECIPE.items()))), MODELS, 0)  # canonical JSON
    assert key != cache_key(RECIPE, MODELS, 1)
    assert key != cache_key({**RECIPE, "parameters": {"normalize": True}}, MODELS, 0)
    assert key != cache_key(RECIPE, {**MODELS, "adder": ZOO / "reverser"}, 0)


def test_built_once_then_reused_and_equal_to_the_merge_itself(tmp_path):
    root, key = tmp_path / "merges", cache_key(RECIPE, MODELS)
    first, built = materialise(root, key, RECIPE, MODELS)
    again, rebuilt = materialise(root, key, RECIPE, MODELS)
    assert built and not rebuilt and first == again == root / key and builds(root) == 1
    merge_to_dir(load_recipe(RECIPE, models=MODELS), tmp_path / "by-hand")
    mine, theirs = tensors(first), tensors(tmp_path / "by-hand")
    assert mine.keys() == theirs.keys() and all((mine[k] == theirs[k]).all() for k in mine)
    assert not list(root.glob(".*.tmp-*"))  # no staging directory left


def test_concurrent_callers_build_it_once(tmp_path):
    root, key, got = tmp_path / "merges", cache_key(RECIPE, MODELS), []
    threads = [threading.Thread(target=lambda: got.append(materialise(root, key, RECIPE, MODELS))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert builds(root) == 1 and sorted(b for _, b in got) == [False, False, True]


@pytest.mark.parametrize("damage", ["marker", "shard", "staging"])
def test_a_partial_or_damaged_entry_is_rebuilt_not_used(tmp_path, damage):
    root, key = tmp_path / "merges", cache_key(RECIPE, MODELS)
    entry, _ = materialise(root, key, RECIPE, MODELS)
    good = tensors(entry)
    if damage == "marker":  # a build that never finished: no completion marker
        (entry / COMPLETE).unlink()
    elif damage == "shard":  # a file cut short after the build
        shard = next(entry.glob("*.safetensors"))
        shard.write_bytes(shard.read_bytes()[:100])
    else:  # a killed build's staging directory, and the entry gone
        (root / f".{key}.tmp-dead").mkdir()
        entry.rename(root / f".{key}.tmp-old")
    again, built = materialise(root, key, RECIPE, MODELS)
    assert built and builds(root) == 2 and not list(root.glob(".*.tmp-*"))
    rebuilt = tensors(again)
    assert all((rebuilt[k] == good[k]).all() for k in good)


def test_a_directory_clade_did_not_write_is_refused_and_kept(tmp_path):
    root, key = tmp_path / "merges", cache_key(RECIPE, MODELS)
    (root / key).mkdir(parents=True)
    (root / key / "mine.txt").write_text("precious")
    with pytest.raises(BadInput, match="not written by Clade"):
        materialise(root, key, RECIPE, MODELS)
    assert (root / key / "mine.txt").read_text() == "precious" and builds(root) == 0


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="acting as another user needs root")
def test_another_user_builds_beside_the_lock_and_log_root_made():
    """Clade as root (an export, a local job) leaves builds.log and the lock files root's; a docker job runs as its
    own user and must still build, lock and finish (its log line is skipped, the entry is complete)."""
    import shutil
    import subprocess
    import sys
    import tempfile

    shared = Path(tempfile.mkdtemp(prefix="clade-cache-users-"))
    try:
        shared.chmod(0o755)
        root = shared / "merges"
        other = {**RECIPE, "models": [{"model": "adder", "parameters": {"weight": 0.2}}]}
        materialise(root, cache_key(RECIPE, MODELS), RECIPE, MODELS)  # root's builds.log
        key = cache_key(other, MODELS)
        (root / f".{key}.lock").write_text("")  # root's lock file for the key the other user builds
        root.chmod(0o777)
        code = (  # one build as root first, so every lazy import is done before the interpreter's files are out of reach
            "import os, sys, json; sys.path.insert(0, sys.argv[1]); from pathlib import Path; "
            "from tools.merge.cache import materialise; "
            "models = {k: Path(v) for k, v in json.loads(sys.argv[4]).items()}; recipe = json.loads(sys.argv[5]); "
            "materialise(Path(sys.argv[2]).parent / 'warm', sys.argv[3], recipe, models); "
            "os.setgid(65534); os.setuid(65534); "
            "print(materialise(Path(sys.argv[2]), sys.argv[3], recipe, models)[1])"
        )
        root_dir = str(Path(__file__).resolve().parents[2])
        done = subprocess.run(
            [sys.executable, "-c", code, root_dir, str(root), key, json.dumps({k: str(v) for k, v in MODELS.items()}), json.dumps(other)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0 and done.stdout.strip() == "True", done.stderr[-1500:]
        assert (root / key / COMPLETE).exists() and builds(root) == 1  # built; the log stays root's one line
    finally:
        shutil.rmtree(shared, ignore_errors=True)
