"""Finding and loading the workspace a command works on, and handing lower layers' commands what they need of it."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Literal

import yaml
from pydantic import ValidationError

from agents.config import CONFIG_NAME, Workspace, WorkspaceConfig
from sandbox.config import SandboxConfig
from tools.errors import BadInput, describe_validation_error


def find_workspace(explicit: str | Path | None = None, start: Path | None = None) -> Path:
    """The directory named by --workspace, else the nearest parent of `start` holding clade.yaml."""
    if explicit is not None:
        root = Path(explicit).resolve()
        if not (root / CONFIG_NAME).is_file():
            raise BadInput(f"{root / CONFIG_NAME}: no such file (is {root} a Clade workspace? create one with `clade init DIR`)")
        return root
    here = (start or Path.cwd()).resolve()
    found = _nearest(here)
    if found is not None:
        return found
    raise BadInput(f"no {CONFIG_NAME} in {here} or any parent; pass --workspace DIR or create one with `clade init DIR`")


def load_workspace(explicit: str | Path | None = None, start: Path | None = None) -> Workspace:
    root = find_workspace(explicit, start)
    return Workspace(root=root, config=load_config(root / CONFIG_NAME))


def load_config(path: Path) -> WorkspaceConfig:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise BadInput(f"{path}: not valid YAML ({_first_line(exc)})") from None
    except UnicodeDecodeError as exc:
        raise BadInput(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except RecursionError:
        raise BadInput(f"{path}: nested too deeply to be a configuration") from None
    except OSError as exc:
        raise BadInput(f"{path}: cannot read it ({exc.strerror or exc})") from None
    if not isinstance(data, dict):
        raise BadInput(f"{path}: expected a mapping at the top level")
    try:
        return WorkspaceConfig.model_validate(data)
    except ValidationError as exc:
        raise BadInput(f"{path}: {describe_validation_error(exc)}") from None


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


# What a lower layer's command reads from the workspace, asked for with `set_defaults(needs=...)`
# on its parser (a tuple names several); the app resolves the workspace and fills these in before the handler runs, so
# tools/, archive/ and sandbox/ never import agents (the layering in README.md):
#   "sources"     args.models (name -> directory, `base` included) and args.tasks (name -> Task);
#                 both empty when no workspace is found and none is named
#   "evaluation"  args.evaluation (the `evaluation:` section) and args.config_file (clade.yaml:
#                 task paths resolve against its folder, and errors name it)
#   "sandbox"     args.sandbox (the `sandbox:` section); its defaults when no workspace is found
#                 and none is named
#   "archive"     args.archive (the `archive:` section, its path made absolute)
Need = Literal["sources", "evaluation", "sandbox", "archive"]


def provide(args: argparse.Namespace) -> None:
    """Fill in `args` what its command's `needs` names: one Need or a tuple of them (nothing when it names nothing)."""
    wanted = getattr(args, "needs", None)
    if wanted is None:
        return
    needs: tuple[Need, ...] = (wanted,) if isinstance(wanted, str) else tuple(wanted)
    explicit = getattr(args, "workspace", None)
    optional = all(need in ("sources", "sandbox") for need in needs) and explicit is None
    ws = None if optional and _nearest(Path.cwd()) is None else load_workspace(explicit)
    for need in needs:
        if need == "sources":
            from tools.evaluate.suite import WorkspaceTasks

            args.models, args.tasks = (ws.model_paths(), WorkspaceTasks(ws)) if ws else ({}, {})
        elif need == "sandbox":
            args.sandbox = ws.config.sandbox if ws else SandboxConfig()
        elif need == "evaluation" and ws:
            args.evaluation, args.config_file = ws.config.evaluation, ws.root / CONFIG_NAME
        elif need == "archive" and ws:
            args.archive = ws.config.archive.model_copy(update={"path": str(ws.path(ws.config.archive.path))})


def _nearest(start: Path) -> Path | None:
    """The nearest folder from `start` up holding clade.yaml, or None."""
    return next((d for d in (start.resolve(), *start.resolve().parents) if (d / CONFIG_NAME).is_file()), None)
