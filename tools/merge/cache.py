"""A content-addressed cache of materialised merges: a merge used as a source by another recipe.

`<root>/<key>/` is the Hugging Face model directory `merge_to_dir` writes for a recipe, where
`key = cache_key(recipe, models, seed)`: the sha256 of the canonical recipe JSON, the merge seed
and the fingerprints of the model directories the recipe names (each file's relative name,
size and mtime: not a hash of the weights, which would read gigabytes on every lookup; a
source replaced in place with the same size and mtime goes unnoticed).

`materialise(root, key, recipe, models)` returns the entry, building it at most once:
- a complete entry has the marker `COMPLETE` (written last, inside the staging directory, before
  the rename) naming its key and every file with its size; an entry whose marker is missing or
  disagrees with the files (a partial or damaged entry) is rebuilt, never used;
- builds happen under an exclusive `flock` on `<root>/.<key>.lock`, so concurrent jobs (threads,
  processes, sandboxes sharing the directory) build an entry once and the others wait and reuse it;
- a build writes into `<root>/.<key>.tmp-<random>/` and renames it into place, so no reader sees a
  half-written entry; staging directories a killed build left are removed under the lock;
- the cache never deletes or overwrites what Clade did not write: an entry without Clade's merge
  marker (tools/paths.py) is refused with a line naming it;
- every build appends one line (`key`, seconds) to `<root>/builds.log`.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import shutil
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tools.errors import BadInput
from tools.paths import marker_files

COMPLETE = ".clade-cache-complete.json"
BUILDS_LOG = "builds.log"


def fingerprint(directory: Path) -> str:
    """sha256 over (relative name, size, mtime_ns) of every file under `directory`."""
    directory = Path(directory).resolve()
    entries = []
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        stat = path.stat()
        entries.append([str(path.relative_to(directory)), stat.st_size, stat.st_mtime_ns])
    return hashlib.sha256(json.dumps(entries).encode()).hexdigest()


def cache_key(recipe: Mapping[str, Any], models: Mapping[str, Path], seed: int = 0) -> str:
    """The entry name of `recipe` merged with `seed` over `models` (name -> directory: the ones it names)."""
    prints = {name: fingerprint(Path(path)) for name, path in sorted(models.items())}
    canonical = json.dumps({"recipe": recipe, "seed": seed, "models": prints}, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def complete(entry: Path, key: str) -> bool:
    """The entry is whole: its marker names `key` and every file it lists has the recorded size."""
    try:
        data = json.loads((entry / COMPLETE).read_text(encoding="utf-8"))
        files = data["files"]
        return data.get("key") == key and all(
            (entry / name).is_file() and (entry / name).stat().st_size == size for name, size in files.items()
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


def materialise(
    root: Path, key: str, recipe: Mapping[str, Any], models: Mapping[str, Path], *, seed: int = 0, device: str = "cpu"
) -> tuple[Path, bool]:
    """The cache entry `root/key` holding `recipe` merged (built now when missing or damaged), and whether
    this call built it."""
    root = Path(root)
    entry = root / key
    if complete(entry, key):
        return entry, False
    try:
        root.mkdir(parents=True, exist_ok=True)
        lock = _open_lock(root / f".{key}.lock")
    except OSError as exc:
        raise BadInput(f"{root}: cannot write the merge cache ({exc.strerror}); make it writable") from None
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if complete(entry, key):
            return entry, False
        if entry.exists():
            _remove_ours(entry)
        for stale in root.glob(f".{key}.tmp-*"):
            shutil.rmtree(stale, ignore_errors=True)
        started = time.monotonic()
        _build(root, key, recipe, models, seed, device)
        _log_build(root, f"{key} {time.monotonic() - started:.3f}\n")
    return entry, True


def _open_lock(path: Path):
    """The key's lock file, opened to hold flock on it; one another user made (Clade as root, then a docker job
    as its own user) is opened read-only: flock needs no write access."""
    try:
        return open(path, "a")  # noqa: SIM115 (held for the build)
    except PermissionError:
        return open(path)  # noqa: SIM115


def _log_build(root: Path, line: str) -> None:
    """Append to builds.log. A log another user owns is left alone: the entry is built and complete, and a
    missing log line must not fail the job that built it."""
    try:
        with open(root / BUILDS_LOG, "a", encoding="utf-8") as log:
            log.write(line)
    except PermissionError:
        pass


def _remove_ours(entry: Path) -> None:
    """Remove a damaged entry Clade wrote; refuse one it did not."""
    if not entry.is_dir() or (marker_files(entry) is None and not (entry / COMPLETE).exists()):
        raise BadInput(
            f"{entry}: in the merge cache but not written by Clade (no marker); remove it yourself (Clade never deletes what it did not write)"
        )
    shutil.rmtree(entry)


def _build(root: Path, key: str, recipe: Mapping[str, Any], models: Mapping[str, Path], seed: int, device: str) -> None:
    from tools.merge.api import load_recipe, merge_to_dir

    staging = root / f".{key}.tmp-{uuid.uuid4().hex[:8]}"
    try:
        merge_to_dir(load_recipe(dict(recipe), models=models), staging, seed=seed, device=device)
        files = {p.name: p.stat().st_size for p in staging.iterdir() if p.is_file()}
        (staging / COMPLETE).write_text(json.dumps({"key": key, "seed": seed, "recipe": recipe, "files": files}, indent=2, default=str))
        staging.rename(root / key)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
