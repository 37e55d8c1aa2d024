"""Novelty checks, made before a child costs a sandbox run.

- identical: a child whose genotype (whole tree and command) equals an archived candidate's
  is rejected, naming that candidate (the archive's genotype hash; the session's dedupe
  uses the same key);
- too similar: with `code.novelty.max_similarity`, a child whose tree is at least that
  similar to its parent's is rejected. Similarity is difflib's ratio over the lines of the
  two trees (each file's path line, then its lines, files in path order): 1.0 is identical.
  Text similarity only; an embedding model is not used (none is bundled or downloaded).
"""

from __future__ import annotations

import difflib

from archive.record import CodeGenotype, genotype_hash


def tree_lines(files: dict[str, str]) -> list[str]:
    return [line for path in sorted(files) for line in (f"=== {path}", *files[path].split("\n"))]


def similarity(a: dict[str, str], b: dict[str, str]) -> float:
    return difflib.SequenceMatcher(None, tree_lines(a), tree_lines(b), autojunk=False).ratio()


def identical_to(archive, files: dict[str, str], command: list[str]) -> str | None:
    """The id of an archived candidate with exactly this workspace and command, if any."""
    found = archive.find_genotype(genotype_hash("code", CodeGenotype(files=files, command=command)))
    if found:
        return found[0]
    # The seed workspace is a `source` (another genotype kind): a child that reverts to it is no news either.
    return next((s.id for s in archive.candidates(kind="source") if archive.get(s.id).genotype.files == files), None)


def novelty_problem(archive, parent: dict[str, str], child: dict[str, str], command: list[str], max_similarity: float | None) -> str | None:
    """Why the child is not novel enough (for the LLM and the record), or None."""
    if child == parent:
        return "the edit leaves the workspace identical to its parent; make a real change"
    twin = identical_to(archive, child, command)
    if twin is not None:
        return f"the edited workspace is identical to archived candidate {twin}; try a different change"
    if max_similarity is not None:
        ratio = similarity(parent, child)
        if ratio >= max_similarity:
            return (
                f"the edit is too small: the workspace is {ratio:.4f} similar to its parent "
                f"(code.novelty.max_similarity is {max_similarity}); make a more substantial change"
            )
    return None
