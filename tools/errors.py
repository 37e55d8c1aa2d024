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


def describe_validation_error(exc, skip_leading: frozenset[str] = frozenset()) -> str:
    """A pydantic ValidationError as one line: `field a.b: reason` for its first error, plus a count.

    `skip_leading` drops a leading location part such as a discriminated union's tag.
    """
    err = exc.errors()[0]
    loc = [str(p) for p in err["loc"]]
    if loc and loc[0] in skip_leading:
        loc = loc[1:]
    message = err["msg"].removeprefix("Value error, ")
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"field {'.'.join(loc) or '(top level)'}: {message}{more}"
