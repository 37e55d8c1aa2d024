"""Redaction of secrets from everything the archive writes.

Two nets: the values of environment variables whose names look like credentials
(KEY, TOKEN, SECRET, PASSWORD, CREDENTIAL, AUTH ...; values of 8 characters or more, so
that `HF_TOKEN=1` does not blank every "1"), and key-shaped strings whatever their origin
(OpenAI/Anthropic `sk-...`, GitHub `ghp_...`/`github_pat_...`, Hugging Face `hf_...`,
AWS `AKIA...`, Slack `xox?-...`, Google `AIza...`, GitLab `glpat-...`, PEM private keys).
The environment is read once, by `Redactor.from_environ` at the edge (`Archive.open`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

REDACTED = "[REDACTED]"
MIN_SECRET_LEN = 8
SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSW|PASSPHRASE|CREDENTIAL|AUTH|PRIVATE|COOKIE|SESSION", re.I)
KEY_SHAPES = re.compile(
    r"(?<![A-Za-z0-9])(?:"
    r"sk-[A-Za-z0-9_\-]{16,}"
    r"|gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}"
    r"|hf_[A-Za-z0-9]{20,}"
    r"|(?:AKIA|ASIA)[0-9A-Z]{16}"
    r"|xox[abprs]-[A-Za-z0-9\-]{10,}"
    r"|AIza[0-9A-Za-z_\-]{35}"
    r"|glpat-[A-Za-z0-9_\-]{20,}"
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----"
    r")"
)


class Redactor:
    def __init__(self, secrets: list[str] = ()):
        values = {s for s in secrets if len(s) >= MIN_SECRET_LEN}
        values |= {json.dumps(s, ensure_ascii=False)[1:-1] for s in values}  # as they appear inside JSON text
        ordered = sorted(values, key=len, reverse=True)
        self._values = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> "Redactor":
        return cls(cls.from_environ_values(environ))

    @staticmethod
    def from_environ_values(environ: Mapping[str, str]) -> list[str]:
        """Values of the environment variables whose names say they hold a secret."""
        return [value for name, value in environ.items() if SECRET_NAME.search(name)]

    def text(self, value: str) -> str:
        if self._values is not None:
            value = self._values.sub(REDACTED, value)
        return KEY_SHAPES.sub(REDACTED, value)

    def json(self, text: str) -> Any:
        """Parse JSON text with every string redacted (one pass over the text; falls back to `data`)."""
        try:
            return json.loads(self.text(text))
        except ValueError:  # a secret-looking run crossed JSON syntax (say, a number): redact value by value
            return self.data(json.loads(text))

    def data(self, value: Any) -> Any:
        """A JSON-like value with every string (keys included) redacted."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(k) if isinstance(k, str) else k: self.data(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.data(v) for v in value]
        return value
