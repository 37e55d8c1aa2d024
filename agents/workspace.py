"""Finding and loading the workspace a command works on."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from agents.config import CONFIG_NAME, Workspace, WorkspaceConfig
from tools.errors import BadInput, describe_validation_error


def find_workspace(explicit: str | Path | None = None, start: Path | None = None) -> Path:
    """The directory named by --workspace, else the nearest parent of `start` holding clade.yaml."""
    if explicit is not None:
        root = Path(explicit).resolve()
        if not (root / CONFIG_NAME).is_file():
            raise BadInput(f"{root / CONFIG_NAME}: no such file (is {root} a Clade workspace? create one with `clade init DIR`)")
        return root
    here = (start or Path.cwd()).resolve()
    looked = []
    for directory in (here, *here.parents):
        looked.append(str(directory))
        if (directory / CONFIG_NAME).is_file():
            return directory
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
