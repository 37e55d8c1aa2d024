"""Parse an LLM reply into edits: SEARCH/REPLACE blocks and whole-file rewrites (pure, no IO).

The format (tools/edit/README.md is the one copy the prompts show):

    path/to/file.py
    <<<<<<< SEARCH
    lines copied from the file
    =======
    the lines that replace them
    >>>>>>> REPLACE

    path/to/other.py
    <<<<<<< FILE
    the whole new content of the file
    >>>>>>> FILE

The path is the last non-blank line before the opening marker that is not a code fence,
alone on its line (backticks, asterisks and a trailing colon around it are dropped). A block
without its own path line edits the previous block's file. Prose and code fences between
blocks are ignored. A block that opens and never closes is an error (the reply was cut off),
never a silently shorter edit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

OPEN = {"SEARCH": re.compile(r"^\s*<{5,9} ?SEARCH\s*$"), "FILE": re.compile(r"^\s*<{5,9} ?FILE\s*$")}
DIVIDER = re.compile(r"^\s*={5,9}\s*$")
CLOSE = {"SEARCH": re.compile(r"^\s*>{5,9} ?REPLACE\s*$"), "FILE": re.compile(r"^\s*>{5,9} ?FILE\s*$")}
FENCE = re.compile(r"^\s*(```|~~~)")
PATH_STRIP = "`*'\" \t"


class EditParseError(ValueError):
    """The reply holds no usable edit; the message is written for the LLM that must resend it."""


@dataclass(frozen=True)
class Edit:
    index: int  # 1-based position in the reply, for messages ("block 2")
    path: str
    kind: Literal["replace", "file"]
    search: str  # "" for a whole-file rewrite
    replace: str  # the new text (replace) or the whole file (file)

    def label(self) -> str:
        return f"block {self.index} ({self.path})"


def parse_edits(reply: str) -> list[Edit]:
    """Every edit block in `reply`, in order; EditParseError when there is none or one is malformed."""
    lines = reply.replace("\r\n", "\n").split("\n")
    edits: list[Edit] = []
    i = after_last = 0
    while i < len(lines):
        kind = _opening(lines[i])
        if kind is None:
            i += 1
            continue
        found = _path_before(lines, i, after_last)
        path = found or (edits[-1].path if found is False and edits else None)
        if not path:
            raise EditParseError(
                f"block {len(edits) + 1}: no file path before `{lines[i].strip()}`; put the file path alone on the line just above it"
            )
        edit, i = _read_block(lines, i, kind, path, len(edits) + 1)
        edits.append(edit)
        after_last = i
    if not edits:
        raise EditParseError(
            "no edit blocks found; write each change as a SEARCH/REPLACE block or a FILE block exactly as the format shows"
        )
    return edits


FILE_MENTION = re.compile(r"[\w-]+(/[\w.-]+)*\.[A-Za-z0-9]{1,8}\b|[\w.-]+/[\w./-]+")


def _opening(line: str) -> str | None:
    return next((kind for kind, pattern in OPEN.items() if pattern.match(line)), None)


def _path_before(lines: list[str], at: int, since: int) -> str | None | bool:
    """What names this block's file, looking up from the opening marker to the previous block (`since`),
    past blank and fence lines: the path alone on a line; None when the nearest other line is prose that
    mentions a file (ambiguous: never guess); False when there is no such mention, so the block continues
    the previous block's file."""
    for line in reversed(lines[since:at]):
        if not line.strip() or FENCE.match(line):
            continue
        candidate = line.strip().strip(PATH_STRIP).removesuffix(":").strip(PATH_STRIP)
        if _looks_like_path(candidate):
            return candidate
        return None if FILE_MENTION.search(line) else False
    return False


def _looks_like_path(text: str) -> bool:
    return (
        bool(text)
        and not any(c.isspace() for c in text)
        and not DIVIDER.match(text)
        and _opening(text) is None
        and not any(p.match(text) for p in CLOSE.values())
    )


def _read_block(lines: list[str], start: int, kind: str, path: str, index: int) -> tuple[Edit, int]:
    """Read the block opened at `start`; return it and the index of the line after it."""
    where = f"block {index} ({path})"
    body, divider = [], None
    for j in range(start + 1, len(lines)):
        line = lines[j]
        if CLOSE[kind].match(line):
            return _finish(kind, path, index, body, divider, where), j + 1
        if kind == "SEARCH" and DIVIDER.match(line) and divider is None:
            divider = len(body)
            continue
        if _opening(line) is not None:
            raise EditParseError(
                f"{where}: a new block starts before this one's `{_closing_text(kind)}` line; close every block before the next"
            )
        body.append(line)
    raise EditParseError(
        f"{where}: truncated, no `{_closing_text(kind)}` line after `{lines[start].strip()}` "
        "(the reply was cut off); resend the whole block"
    )


def _finish(kind: str, path: str, index: int, body: list[str], divider: int | None, where: str) -> Edit:
    if kind == "FILE":
        return Edit(index, path, "file", "", _text(body, trailing_newline=True))
    if divider is None:
        raise EditParseError(f"{where}: no `=======` line between the SEARCH and the REPLACE text")
    return Edit(index, path, "replace", _text(body[:divider]), _text(body[divider:]))


def _text(lines: list[str], trailing_newline: bool = False) -> str:
    text = "\n".join(lines)
    return text + "\n" if trailing_newline and lines else text


def _closing_text(kind: str) -> str:
    return ">>>>>>> REPLACE" if kind == "SEARCH" else ">>>>>>> FILE"
