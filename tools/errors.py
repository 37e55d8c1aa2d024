"""The error family every Clade layer raises, and the exit codes the command line maps them to.

`BadInput` is for anything the user can fix (a file, field, tensor or candidate that is wrong):
its message is one line naming the culprit and what to do, and the command exits 2.
`CladeError` is an internal failure (exit 1). Nothing else is caught by the command line.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import ValidationError


class CladeError(Exception):
    """An internal failure that is not the user's input: exit code 1."""

    exit_code = 1


class BadInput(CladeError):
    """Input the user can fix; the message names the file, field, tensor or candidate."""

    exit_code = 2


def describe_validation_error(
    exc: ValidationError, skip_leading: frozenset[str] = frozenset(), tags: Mapping[str, frozenset[str]] = MappingProxyType({})
) -> str:
    """A pydantic ValidationError as one line: `field a.b: reason` for its first error, plus a count.

    `skip_leading` drops a leading location part such as a discriminated union's tag; `tags` names
    the discriminated unions further in (dotted field -> its tags), whose tag pydantic puts after
    the field (`work.merge.recipe` is said `work.recipe`). A discriminator that is missing or
    unknown is named as a field of its own (`work.kind`). A value that fits none of a union's forms
    is said once, in words (`is none of the accepted forms: a number, a list, ...`), never with
    pydantic's internal member names (`weight.Conditional`, `list[str]`).
    """
    errors = exc.errors()
    loc = _without_tags([str(p) for p in errors[0]["loc"]], tags)
    if loc and loc[0] in skip_leading:
        loc = loc[1:]
    if errors[0]["type"] in ("union_tag_invalid", "union_tag_not_found"):
        return _tag_error(loc, errors[0], exc.error_count())
    tag = next((i for i, part in enumerate(loc) if _is_type_tag(part)), None)
    if tag is not None:
        return _union_error(loc[:tag], errors, len(errors[0]["loc"]) - len(loc))
    message = errors[0]["msg"].removeprefix("Value error, ")
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"field {'.'.join(loc) or '(top level)'}: {message}{more}"


FORMS = {
    "bool": "true or false",
    "int": "a number",
    "float": "a number",
    "str": "a string",
    "dict": "a mapping",
    "list": "a list",
    "none": "null",
}


def _without_tags(loc: list[str], tags: Mapping[str, frozenset[str]]) -> list[str]:
    kept: list[str] = []
    for part in loc:
        if not (kept and part in tags.get(".".join(kept), ())):
            kept.append(part)
    return kept


def _tag_error(loc: list[str], error: Mapping[str, Any], count: int) -> str:
    """`field work.kind: 'poem' is none of 'merge', 'code', 'command'` (or: is missing)."""
    ctx = error.get("ctx", {})
    key = ctx.get("discriminator", "").strip("'")
    where = ".".join([*loc, key] if key.isidentifier() else loc) or "(top level)"
    said = f"{ctx['tag']!r} is none of {ctx['expected_tags']}" if "tag" in ctx else "is missing; it says which form this is"
    more = f" (and {count - 1} more)" if count > 1 else ""
    return f"field {where}: {said}{more}"


def _is_type_tag(part: str) -> bool:
    """A location part pydantic adds for a union member: `Conditional`, `list[float]`, `int`, `function-after[...]`."""
    return part[:1].isupper() or "[" in part or part in FORMS


def _union_error(field: list[str], errors: list, skipped: int) -> str:
    where = ".".join(field) or "(top level)"
    mine = [e for e in errors if [str(p) for p in e["loc"][skipped : skipped + len(field)]] == field]
    checked = [e for e in mine if e.get("type") == "value_error"]
    if checked:  # the value has one form's shape and failed that form's own check: say what the check said
        return f"field {where}: {checked[0]['msg'].removeprefix('Value error, ')}"
    tags = [str(e["loc"][skipped + len(field)]) for e in mine if len(e["loc"]) > skipped + len(field)]
    forms = list(dict.fromkeys(_form(t) for t in tags))
    shown = repr(mine[0].get("input")) if mine else "the value"
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    more = len(errors) - len(mine)
    return f"field {where}: {shown} is none of the accepted forms ({', '.join(forms)})" + (f" (and {more} more)" if more else "")


def _form(tag: str) -> str:
    if tag.startswith("function-") and tag.endswith("]"):  # a validated member: function-after[check(), Model]
        tag = tag[:-1].rsplit(",", 1)[-1].strip()
    base = tag.split("[", 1)[0].lower()
    if base in FORMS:
        return FORMS[base]
    return "a mapping" if tag[:1].isupper() else tag
