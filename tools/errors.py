"""The error family every Clade layer raises, and the exit codes the command line maps them to.

`BadInput` is for anything the user can fix (a file, field, tensor or candidate that is wrong):
its message is one line naming the culprit and what to do, and the command exits 2.
`CladeError` is an internal failure (exit 1). Nothing else is caught by the command line.
"""


class CladeError(Exception):
    """An internal failure that is not the user's input: exit code 1."""

    exit_code = 1


class BadInput(CladeError):
    """Input the user can fix; the message names the file, field, tensor or candidate."""

    exit_code = 2
