"""Prompt templates: files in prompts/, rendered strictly.

A template is a text file with `{{ name }}` placeholders. HTML comments (`<!-- ... -->`)
document a template for the people who edit it and are removed before rendering, so they never
reach a prompt (a line holding only a comment goes with it). `render` fills the placeholders from keyword
arguments; a placeholder with no value, or a value nobody asked for, is an error (a typo in
a template or a caller must never send the LLM a prompt with a hole in it). The template's
hash (SHA-256 of its text, 12 hex digits) goes into every candidate's `proposer`, so a
lineage says which prompt wrote it. `prompts_dir` can point elsewhere (the self-improve
example evolves a copy of the templates).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from agents.bundled import bundled_dir
from tools.errors import BadInput

PROMPTS_DIR = bundled_dir("prompts")
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
LINE_COMMENT = re.compile(r"^[ \t]*<!--.*?-->[ \t]*(?:\n|\Z)", re.DOTALL | re.MULTILINE)  # a comment on lines of its own
COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)


@dataclass(frozen=True)
class Rendered:
    text: str
    template: str  # the template's file name
    template_hash: str


def template_path(name: str, prompts_dir: Path | None = None) -> Path:
    path = (prompts_dir or PROMPTS_DIR) / name
    if not path.is_file():
        raise BadInput(f"{path}: no such prompt template")
    return path


def render(name: str, prompts_dir: Path | None = None, **values: object) -> Rendered:
    """Fill template `name` (e.g. "merge_propose.md"); every placeholder needs a value and every value a placeholder."""
    path = template_path(name, prompts_dir)
    raw = path.read_text(encoding="utf-8")
    text = COMMENT.sub("", LINE_COMMENT.sub("", raw))
    if "<!--" in text:
        raise BadInput(f"{path}: an HTML comment is not closed (`<!--` without `-->`)")
    wanted = set(PLACEHOLDER.findall(text))
    missing, unused = sorted(wanted - values.keys()), sorted(values.keys() - wanted)
    if missing:
        raise BadInput(f"{path}: no value for placeholder(s) {', '.join(missing)}")
    if unused:
        raise BadInput(f"{path}: value(s) {', '.join(unused)} given but the template has no such placeholder")
    filled = PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), text)
    return Rendered(filled, name, hashlib.sha256(raw.encode()).hexdigest()[:12])
