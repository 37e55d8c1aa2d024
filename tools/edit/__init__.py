"""Parsing and applying LLM code edits: SEARCH/REPLACE blocks and whole-file rewrites (pure functions).

edits = parse_edits(reply)                       # EditParseError: nothing usable in the reply
outcome = apply_edits(files, edits, editable)    # Outcome(files, applied, failures); nothing written
failure_report(outcome)                          # what the LLM is told when a block failed
format_instructions()                            # the format text every prompt shows (README.md)
"""

from tools.edit.apply import Failure, Outcome, apply_edits
from tools.edit.feedback import failure_report
from tools.edit.format import format_instructions
from tools.edit.parse import Edit, EditParseError, parse_edits

__all__ = ["Edit", "EditParseError", "Failure", "Outcome", "apply_edits", "failure_report", "format_instructions", "parse_edits"]
