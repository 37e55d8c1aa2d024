"""What an LLM is told when its edit did not apply: which block failed, the closest real lines,
and what already applied (so it resends only the failed blocks)."""

from __future__ import annotations

from tools.edit.apply import Outcome


def failure_report(outcome: Outcome) -> str:
    """A message for the LLM about `outcome`'s failed blocks (empty when nothing failed)."""
    if not outcome.failures:
        return ""
    parts = [f"{len(outcome.failures)} of {len(outcome.failures) + len(outcome.applied)} edit blocks failed."]
    for failure in outcome.failures:
        parts.append(f"\n{failure.edit.label()} failed: {failure.reason}")
        if failure.closest:
            parts.append(f"The closest lines in {failure.edit.path} are:\n```\n{failure.closest}\n```")
    if outcome.applied:
        done = ", ".join(edit.label() for edit in outcome.applied)
        parts.append(f"\nAlready applied (do not resend them): {done}.")
    parts.append("Resend only the failed blocks, corrected, in the same format.")
    return "\n".join(parts)
