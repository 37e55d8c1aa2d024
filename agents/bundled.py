"""Where Clade's bundled files are: the prompt templates (prompts/) and the examples (examples/).

A source checkout has them at the top of the repository. A built wheel carries them as package
data under `agents/_bundled/` (setup.py's build step copies them there), found with
importlib.resources, so an installed Clade renders prompts and runs `clade init --example`
outside any checkout. The packaged copy wins when both exist.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Literal

CHECKOUT = Path(__file__).resolve().parents[1]
PACKAGED = "_bundled"


def bundled_dir(name: Literal["prompts", "examples"]) -> Path:
    """The directory of bundled `name`: the wheel's package data, else the checkout's top-level directory."""
    packaged = files("agents").joinpath(PACKAGED, name)
    if isinstance(packaged, Path) and packaged.is_dir():
        return packaged
    return CHECKOUT / name
