"""The edit-format instructions shown to the LLM: one copy, the marked section of tools/edit/README.md."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from tools.errors import CladeError

README = Path(__file__).resolve().with_name("README.md")
BEGIN, END = "<!-- format:begin -->", "<!-- format:end -->"


@lru_cache(maxsize=1)
def format_instructions() -> str:
    text = README.read_text(encoding="utf-8")
    if BEGIN not in text or END not in text:
        raise CladeError(f"{README}: the edit-format section ({BEGIN} ... {END}) is missing; restore it from git")
    return text.split(BEGIN, 1)[1].split(END, 1)[0].strip("\n")
