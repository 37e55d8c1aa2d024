"""`clade init DIR [--example tiny-zoo]`: create a search workspace.

Without --example, DIR gets a clade.yaml to fill in (base, sources, evaluation tasks).
With --example NAME, the example directory (examples/NAME, bundled with Clade: models,
tasks, data, recipes and its clade.yaml) is copied into DIR, so the workspace is
self-contained and its paths are relative; nothing outside DIR is referenced.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from pathlib import Path

from agents.bundled import bundled_dir
from agents.config import CONFIG_NAME
from tools.errors import BadInput, CladeError
from tools.paths import checked_target, write_error

EXAMPLES_DIR = bundled_dir("examples")
EXAMPLES = ("tiny-zoo", "composite-zoo", "merge-operator", "self-improve")
NEXT_STEPS = {
    "tiny-zoo": "next: cd {dir} && clade run --planner evolution --budget 40",
    "composite-zoo": "next: cd {dir} && clade run --planner evolution --budget 60",
    "merge-operator": "next: export OPENAI_API_KEY=... (or set planner.llm.model to scripted:offline-replies.json to replay offline replies) && cd {dir} && clade run --planner llm --budget 6",
    "self-improve": "next: export OPENAI_API_KEY=... (or set planner.llm.model to scripted:offline-replies.json to replay offline replies) && cd {dir} && clade run --planner llm --budget 4",
}
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.tmp", ".clade")

TEMPLATE = """\
# A Clade search workspace. Paths are relative to this file's directory.
version: 1
name: {name}
base: null          # the base model directory, e.g. models/base
sources: []         # the models a search starts from, e.g. - {{name: expert, path: models/expert}}
evaluation:
  tasks: []         # task spec files (see tools/evaluate/README.md), e.g. - tasks/qa.yaml
  weights: {{}}       # task name -> weight of its metric in the fitness (default 1)
"""


def register(subparsers) -> None:
    parser = subparsers.add_parser("init", help="create a search workspace (clade.yaml)", description="Create a search workspace in DIR.")
    parser.add_argument("dir", metavar="DIR")
    parser.add_argument("--example", choices=EXAMPLES, help="copy a bundled example workspace (models, tasks, data)")
    parser.set_defaults(handler=run_init)


def run_init(args) -> int:
    target = checked_target(args.dir, "DIR").resolve()
    if target.exists() and not target.is_dir():
        raise BadInput(f"DIR {target}: exists and is not a directory; choose another DIR")
    if (target / CONFIG_NAME).exists():
        raise BadInput(f"{target / CONFIG_NAME} already exists; choose another DIR or edit that file")
    created = [p for p in (target, *target.parents) if not p.exists()]
    try:
        if args.example:
            copy_example(args.example, target)
        else:
            target.mkdir(parents=True, exist_ok=True)
            _write_atomic(target / CONFIG_NAME, TEMPLATE.format(name=target.name or "clade"))
    except OSError as exc:
        with contextlib.suppress(OSError):
            (target / (CONFIG_NAME + ".tmp")).unlink(missing_ok=True)
        for folder in created:  # deepest first: what this init made goes again
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
        raise write_error(target, exc, "DIR") from None
    print(f"created workspace {target}")
    print(NEXT_STEPS.get(args.example, "next: edit {config}").format(dir=target, config=target / CONFIG_NAME))
    return 0


def copy_example(name: str, target: Path) -> None:
    """Copy examples/NAME into `target` (absent or empty), all at once or not at all."""
    source = EXAMPLES_DIR / name
    if not (source / CONFIG_NAME).is_file():
        raise CladeError(f"example {name!r} not found at {source}: this installation of Clade lacks its bundled examples; reinstall it")
    if target.exists() and any(target.iterdir()):
        raise BadInput(f"{target} is not empty; give a new or empty directory for --example {name}")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        shutil.copytree(source, staging / "ws", ignore=IGNORED)
        if target.exists():
            target.rmdir()
        (staging / "ws").rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
