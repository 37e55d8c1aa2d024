"""Block-style YAML for JSON-like data (a recipe), written without PyYAML's slow representer.

The output reads like `yaml.safe_dump(data, sort_keys=False)` and `yaml.safe_load` gives
back the same data: strings are plain only when nothing in YAML 1.1 could read them as
another type (else JSON-quoted, which is valid YAML), floats always carry a `.`, and
keys keep their order. tests/archive/test_yamlout.py round-trips a corpus and random data.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import yaml

PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_./-]*")
NOT_PRINTABLE = re.compile("[\x7f-\x84\x86-\x9f\ud800-\udfff\ufffe\uffff]")  # YAML streams may not hold these
SPECIAL = {"y", "n", "yes", "no", "true", "false", "on", "off", "null", "nan", "inf"}


def dump(data: Any) -> str:
    text = "\n".join(_lines(data, 0)) + "\n"
    if NOT_PRINTABLE.search(text):  # rare: let PyYAML choose the escapes
        return yaml.dump(data, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper), sort_keys=False, allow_unicode=True)
    return text


def _lines(value: Any, indent: int) -> list[str]:
    pad = " " * indent
    if isinstance(value, dict) and value:
        out = []
        for key, item in value.items():
            head = f"{pad}{_scalar(str(key) if not isinstance(key, str) else key)}:"
            if _is_block(item):
                out += [head, *_lines(item, indent + 2 if isinstance(item, dict) else indent)]
            else:
                out.append(f"{head} {_scalar(item)}")
        return out
    if isinstance(value, list) and value:
        out = []
        for item in value:
            if _is_block(item):
                inner = _lines(item, indent + 2)
                out += [f"{pad}- {inner[0][indent + 2 :]}", *inner[1:]]
            else:
                out.append(f"{pad}- {_scalar(item)}")
        return out
    return [pad + _scalar(value)]


def _is_block(value: Any) -> bool:
    return isinstance(value, (dict, list)) and bool(value)


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list):
        return "[]"
    text = str(value)
    return text if PLAIN.fullmatch(text) and text.lower() not in SPECIAL else json.dumps(text, ensure_ascii=False)


def _float(value: float) -> str:
    if math.isnan(value):
        return ".nan"
    if math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    text = repr(value)
    mantissa, e, exponent = text.partition("e")
    if "." not in mantissa:
        mantissa += ".0"
    if e and exponent[0] not in "+-":
        exponent = "+" + exponent
    return mantissa + (f"e{exponent}" if e else "")
