"""Reading a task's JSONL data and rendering its records into examples (no torch).

Every problem is reported as BadInput naming the file and line, before any model runs.
"""

from __future__ import annotations

import json
import os
import stat
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.errors import BadInput
from tools.evaluate.spec import ChoiceTask, GenerationTask, PerplexityTask


@dataclass(frozen=True)
class Example:
    """One rendered record. `where` is "file:line" for error messages.

    generation: prompt, target. multiple_choice: prompt (the context), choices, gold.
    perplexity: prompt (the text to score).
    """

    where: str
    prompt: str
    target: str = ""
    choices: tuple[str, ...] = ()
    gold: int = -1


MAX_DATA_BYTES = 512 * 1024 * 1024  # one split's file
MAX_LINE_BYTES = 1024 * 1024  # one record


def read_jsonl(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """(line number, record) for each non-blank line; a malformed line is BadInput with file:line.

    Only a regular file is read (a directory, a device such as /dev/zero or a FIFO would fail, never
    end, or block), and only up to MAX_DATA_BYTES, each record up to MAX_LINE_BYTES."""
    check_data_file(path)
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_DATA_BYTES + 1)
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadInput(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise BadInput(f"{path}: cannot read the data file ({exc.strerror or exc})") from None
    if len(raw) > MAX_DATA_BYTES:
        raise BadInput(f"{path}: larger than {MAX_DATA_BYTES >> 20} MiB; split the data or sample it")
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            records.append((number, _parse_line(line, f"{path}:{number}")))
    return records


def check_data_file(path: Path) -> None:
    """BadInput unless `path` is a regular file (symbolic links followed)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise BadInput(f"{path}: no such data file (check the task's `data:` paths)") from None
    except OSError as exc:
        raise BadInput(f"{path}: cannot read the data file ({exc.strerror or exc})") from None
    if not stat.S_ISREG(mode):
        kind = "a directory" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode) else "a device or special file"
        raise BadInput(f"{path}: is {kind}, not a JSONL data file (check the task's `data:` paths)")


def _parse_line(line: str, where: str) -> dict[str, Any]:
    if len(line) > MAX_LINE_BYTES:
        raise BadInput(f"{where}: a record of {len(line)} characters, over the limit of {MAX_LINE_BYTES}; shorten it")
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise BadInput(f"{where}: malformed JSON ({exc.msg} at column {exc.colno}); fix or remove the line") from None
    except RecursionError:
        raise BadInput(f"{where}: JSON nested too deeply; fix or remove the line") from None
    if not isinstance(record, dict):
        raise BadInput(f"{where}: expected a JSON object, got {type(record).__name__}")
    return record


def render(template: str, record: dict[str, Any], where: str) -> str:
    """str.format over the record's fields; a missing field names the file:line and the field."""
    for _, field, _, _ in string.Formatter().parse(template):
        if field is not None and field.split(".")[0].split("[")[0] not in record:
            raise BadInput(f"{where}: record has no field {field!r} (used by template {template!r})")
    try:
        return template.format_map(record)
    except (IndexError, KeyError, ValueError, AttributeError) as exc:
        raise BadInput(f"{where}: cannot fill template {template!r} ({exc})") from None


def to_example(spec, record: dict[str, Any], where: str) -> Example:
    if isinstance(spec, GenerationTask):
        return Example(where, render(spec.prompt, record, where), render(spec.target, record, where))
    if isinstance(spec, ChoiceTask):
        return _choice_example(spec, record, where)
    assert isinstance(spec, PerplexityTask)
    text = render(spec.text, record, where)
    if not text.strip():
        raise BadInput(f"{where}: the text to score is empty (template {spec.text!r}); a perplexity task needs text in every record")
    return Example(where, text)


def _choice_example(spec: ChoiceTask, record: dict[str, Any], where: str) -> Example:
    choices, gold = record.get(spec.choices), record.get(spec.gold)
    if not isinstance(choices, list) or len(choices) < 2 or not all(isinstance(c, str) for c in choices):
        raise BadInput(f"{where}: field {spec.choices!r} must be a list of at least two strings")
    if isinstance(gold, bool) or not isinstance(gold, int) or not 0 <= gold < len(choices):
        raise BadInput(f"{where}: field {spec.gold!r} must be an index into {spec.choices!r} (0..{len(choices) - 1})")
    return Example(where, render(spec.prompt, record, where), choices=tuple(choices), gold=gold)


def load_examples(spec, path: Path, split: str) -> list[Example]:
    """The examples of one split; a split with no records is BadInput."""
    examples = [to_example(spec, record, f"{path}:{n}") for n, record in read_jsonl(path)]
    if not examples:
        raise BadInput(f"task {spec.name!r} has no data for split {split!r}: {path} holds no records")
    return examples


def fewshot_prefix(spec, examples: list[Example]) -> str:
    """The first `num_fewshot` examples, solved, each followed by the separator."""
    shots = examples[: spec.num_fewshot]
    if len(shots) < spec.num_fewshot:
        raise BadInput(f"task {spec.name!r}: num_fewshot is {spec.num_fewshot} but split {spec.fewshot_split!r} has {len(shots)} records")
    return "".join(_solved(spec, ex) + spec.fewshot_separator for ex in shots)


def _solved(spec, ex: Example) -> str:
    if isinstance(spec, ChoiceTask):
        return ex.prompt + spec.choice_prefix + ex.choices[ex.gold]
    return ex.prompt + ex.target
