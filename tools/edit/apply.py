"""Apply parsed edits to an in-memory tree (relative path -> text); pure, nothing is written.

The matching ladder for a SEARCH text, tried in order, each rung exact at its own level:
1. exact: the SEARCH lines appear verbatim in the file;
2. uniform indentation offset: they appear with the same leading whitespace added to (or
   removed from) every non-blank line; the REPLACE lines get the same shift;
3. stray blank line: blank lines at the start or end of the SEARCH (and REPLACE) text are
   dropped and rungs 1-2 are tried again;
then stop: no similarity matching. A SEARCH that matches more than once on the rung that
found it is an error (add context lines to make it unique). An empty SEARCH creates a file
that does not exist yet.

Every edit is tried, in order, on the tree as the edits before it left it. The outcome says
which applied and which failed, with the closest real lines of the file for a failure; the
caller decides what to keep (the code operators keep the tree only when nothing failed, and
send the failures back to the LLM, naming what already applied).
"""

from __future__ import annotations

import difflib
import fnmatch
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from tools.edit.parse import Edit
from tools.tree_paths import plain_path

CLOSEST_CONTEXT = 2  # lines shown around the closest match


@dataclass(frozen=True)
class Failure:
    edit: Edit
    reason: str  # for the LLM: what went wrong and what to do
    closest: str = ""  # the file's lines most like the SEARCH text, numbered


@dataclass
class Outcome:
    files: dict[str, str]  # the tree with every edit that applied
    applied: list[Edit] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures and bool(self.applied)


def apply_edits(files: dict[str, str], edits: list[Edit], editable: list[str] | None = None) -> Outcome:
    """Apply `edits` in order to a copy of `files`; `editable` globs (fnmatch) limit which paths may change."""
    outcome = Outcome(files=dict(files))
    for edit in edits:
        try:
            outcome.files[edit.path] = apply_one(outcome.files, edit, editable)
            outcome.applied.append(edit)
        except EditFailed as failed:
            outcome.failures.append(failed.failure)
    return outcome


class EditFailed(Exception):
    def __init__(self, failure: Failure):
        super().__init__(failure.reason)
        self.failure = failure


def apply_one(files: dict[str, str], edit: Edit, editable: list[str] | None) -> str:
    """The new text of `edit.path`; raises EditFailed."""
    _check_path(edit, files, editable)
    current = files.get(edit.path)
    if edit.kind == "file":
        return edit.replace
    if current is None:
        if edit.search.strip():
            raise EditFailed(Failure(edit, f"{edit.path} does not exist; files you may edit: {_listing(files, editable)}"))
        return edit.replace + ("\n" if edit.replace and not edit.replace.endswith("\n") else "")
    if not edit.search.strip():
        raise EditFailed(
            Failure(
                edit,
                f"the SEARCH text is empty but {edit.path} exists; copy the lines to change "
                "into SEARCH, or rewrite the whole file with a FILE block",
            )
        )
    return replace_text(current, edit)


def _check_path(edit: Edit, files: dict[str, str], editable: list[str] | None) -> None:
    pure = PurePosixPath(edit.path)
    if not plain_path(edit.path) or edit.path != str(pure):
        raise EditFailed(Failure(edit, f"{edit.path!r} is not a plain relative path; use one of: {_listing(files, editable)}"))
    if editable is not None and not any(glob_matches(edit.path, glob) for glob in editable):
        raise EditFailed(Failure(edit, f"{edit.path} may not be edited; files you may edit: {_listing(files, editable)}"))


def glob_matches(path: str, glob: str) -> bool:
    """A glob matched part by part, so `*` never crosses a `/` (`*.py` is top-level files only;
    `**` matches any number of directories)."""
    return _match(PurePosixPath(path).parts, PurePosixPath(glob).parts)


def _match(parts: tuple[str, ...], globs: tuple[str, ...]) -> bool:
    if not globs:
        return not parts
    if globs[0] == "**":
        return any(_match(parts[i:], globs[1:]) for i in range(len(parts) + 1))
    return bool(parts) and fnmatch.fnmatchcase(parts[0], globs[0]) and _match(parts[1:], globs[1:])


def _listing(files: dict[str, str], editable: list[str] | None) -> str:
    names = [p for p in sorted(files) if editable is None or any(fnmatch.fnmatchcase(p, g) for g in editable)]
    return ", ".join(names) or f"none yet (paths matching {', '.join(editable or [])})"


def replace_text(text: str, edit: Edit) -> str:
    """`text` with the one match of the SEARCH lines replaced, by the ladder; raises EditFailed."""
    lines = text.split("\n")
    search, replace = edit.search.split("\n"), edit.replace.split("\n") if edit.replace else []
    for s, r in _rungs(search, replace):
        for find in (_exact, _shifted):
            found = find(lines, s, r)
            if len(found) > 1:
                starts = ", ".join(str(at + 1) for at, _ in found)
                raise EditFailed(
                    Failure(
                        edit,
                        f"the SEARCH text matches {len(found)} places in {edit.path} (lines {starts}); "
                        "add surrounding lines to SEARCH so it matches exactly one",
                    )
                )
            if found:
                at, new = found[0]
                return "\n".join(lines[:at] + new + lines[at + len(s) :])
    raise EditFailed(
        Failure(
            edit,
            f"the SEARCH text does not match {edit.path} exactly; copy the lines from the file "
            "character for character, with their indentation",
            closest_lines(lines, search),
        )
    )


def _rungs(search: list[str], replace: list[str]) -> list[tuple[list[str], list[str]]]:
    stripped_s, stripped_r = _strip_blank(search), _strip_blank(replace)
    rungs = [(search, replace)]
    if stripped_s and (stripped_s, stripped_r) != (search, replace):
        rungs.append((stripped_s, stripped_r))
    return rungs


def _strip_blank(lines: list[str]) -> list[str]:
    start, end = 0, len(lines)
    while start < end and not lines[start].strip():
        start += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    return lines[start:end]


def _exact(lines: list[str], search: list[str], replace: list[str]) -> list[tuple[int, list[str]]]:
    n = len(search)
    return [(at, list(replace)) for at in range(len(lines) - n + 1) if lines[at : at + n] == search]


def _shifted(lines: list[str], search: list[str], replace: list[str]) -> list[tuple[int, list[str]]]:
    """Matches where every non-blank line differs by one leading-whitespace prefix, added or removed."""
    n, found = len(search), []
    for at in range(len(lines) - n + 1):
        shift = _offset(lines[at : at + n], search)
        if shift is not None:
            new = _reindent(replace, shift)
            if new is not None:
                found.append((at, new))
    return found


def _offset(window: list[str], search: list[str]) -> tuple[str, str] | None:
    """(add, remove): the prefix to add to / remove from each search line to get the window's line."""
    pairs = [(w, s) for w, s in zip(window, search) if s.strip() or w.strip()]
    if not pairs or any(not w.strip() or not s.strip() for w, s in pairs):
        return None
    w0, s0 = pairs[0]
    if len(w0) > len(s0) and w0.endswith(s0):
        shift = (w0[: -len(s0)], "")
    elif len(s0) > len(w0) and s0.endswith(w0):
        shift = ("", s0[: -len(w0)])
    else:
        return None
    if shift[0].strip() or shift[1].strip():
        return None
    return shift if all(_shift(s, shift) == w for w, s in pairs) else None


def _shift(line: str, shift: tuple[str, str]) -> str | None:
    add, remove = shift
    if not line.strip():
        return line
    if remove:
        return line[len(remove) :] if line.startswith(remove) else None
    return add + line


def _reindent(replace: list[str], shift: tuple[str, str]) -> list[str] | None:
    new = [_shift(line, shift) for line in replace]
    return None if any(line is None for line in new) else new


def closest_lines(lines: list[str], search: list[str]) -> str:
    """The window of the file most like the SEARCH text, numbered, with a little context (a hint only)."""
    n = max(1, len(_strip_blank(search)) or 1)
    target = "\n".join(_strip_blank(search))
    best, best_at = 0.0, 0
    for at in range(max(1, len(lines) - n + 1)):
        ratio = difflib.SequenceMatcher(None, target, "\n".join(lines[at : at + n]), autojunk=False).ratio()
        if ratio > best:
            best, best_at = ratio, at
    lo, hi = max(0, best_at - CLOSEST_CONTEXT), min(len(lines), best_at + n + CLOSEST_CONTEXT)
    return "\n".join(f"{i + 1:>4}| {lines[i]}" for i in range(lo, hi))
