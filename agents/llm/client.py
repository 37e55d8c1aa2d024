"""The real LLM client: any litellm model string, with our own retries, token counts and dollars.

    model = make_model(workspace.config.planner.llm, os.environ)
    reply = model.query([{"role": "user", "content": "..."}])   # -> Reply, or raises LLMUnavailable

- litellm is imported lazily (first query), with `LITELLM_LOCAL_MODEL_COST_MAP=True` so it
  never fetches its price list, and with its own retries off (`num_retries=0`,
  `max_retries=0`): the retry loop is here (failures.py says what is retried).
- Backoff: `backoff_s * 2**k` before retry k+1; a 429's Retry-After replaces it, capped at
  `retry_after_cap_s`. After `max_retries` retries, or at once for a non-retryable error,
  `LLMUnavailable("<model>: <what happened>, <tries>")`.
- The API key is read once from `env[config.api_key_env]` (make_model) and never appears in
  an exception, a log line or a Reply: messages are scrubbed, exceptions are raised without
  their cause (whose request object holds the headers), and litellm's loggers are quiet and
  scrubbed too. With no `api_key_env` but an `api_base` (a local vLLM/Ollama-style server),
  a placeholder key is sent, since the OpenAI SDK refuses to send none.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping
from typing import Any

from agents.errors import LLMUnavailable
from agents.llm.base import Message, Reply
from agents.llm.config import LLMConfig
from agents.llm.failures import Failure, classify, provider_errors
from agents.llm.pricing import Pricing
from tools.errors import BadInput

PLACEHOLDER_KEY = "no-key"
LITELLM_LOGGERS = ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy", "litellm", "httpx", "openai")

Sleep = Callable[[float], None]


def make_model(config: LLMConfig, env: Mapping[str, str], *, sleep: Sleep = time.sleep) -> "LiteLLMModel":
    """The client for `planner.llm`; the key comes from `env` (pass os.environ at the edge)."""
    return LiteLLMModel(config, _api_key(config, env), sleep=sleep)


def _api_key(config: LLMConfig, env: Mapping[str, str]) -> str | None:
    if config.api_key_env is None:
        return PLACEHOLDER_KEY if config.api_base else None
    key = env.get(config.api_key_env, "")
    if not key:
        raise BadInput(
            f"clade.yaml planner.llm.api_key_env: the environment variable {config.api_key_env} is not set; "
            f"export it with the API key for {config.model}"
        )
    return key


class LiteLLMModel:
    """`Model` over litellm.completion; `pricing.source` says where its dollars come from."""

    def __init__(self, config: LLMConfig, api_key: str | None, *, sleep: Sleep = time.sleep):
        self.config, self.name = config, config.model
        self._key, self._sleep = api_key, sleep
        self.pricing = Pricing(config)
        self.retries = 0  # retries made over this client's life (for reports and tests)

    def __repr__(self) -> str:  # never the key
        return f"LiteLLMModel({self.name!r}, api_base={self.config.api_base!r})"

    def query(self, messages: list[Message]) -> Reply:
        tries = self.config.max_retries + 1
        for attempt in range(1, tries + 1):
            try:
                response = self._complete(messages)
            except provider_errors() as exc:
                failure = classify(exc, self.config.timeout_s)
                if not failure.retry or attempt == tries:
                    raise LLMUnavailable(self._gave_up(failure, attempt)) from None
                self.retries += 1
                self._sleep(self._delay(attempt, failure))
            else:
                return self._reply(response)
        raise AssertionError("unreachable: the loop returns or raises")

    def _complete(self, messages: list[Message]) -> Any:
        litellm = _litellm(self._key)
        c = self.config
        extra = {"api_base": c.api_base} if c.api_base else {}
        if self._key is not None:
            extra["api_key"] = self._key
        return litellm.completion(
            model=c.model,
            messages=messages,
            temperature=c.temperature,
            max_tokens=c.max_tokens,
            timeout=c.timeout_s,
            num_retries=0,
            max_retries=0,
            **extra,
        )

    def _delay(self, attempt: int, failure: Failure) -> float:
        if failure.retry_after is not None:
            return min(failure.retry_after, self.config.retry_after_cap_s)
        return self.config.backoff_s * 2 ** (attempt - 1)

    def _gave_up(self, failure: Failure, attempt: int) -> str:
        if failure.retry:
            text = f"{self.name}: {failure.what}; gave up after {attempt} tries ({attempt - 1} retries)"
        else:
            text = f"{self.name}: {failure.what} (try {attempt}, not retried)"
        return self._scrub(text)

    def _scrub(self, text: str) -> str:
        return scrub(text, self._key)

    def _reply(self, response: Any) -> Reply:
        message = response.choices[0].message if response.choices else None
        usage = getattr(response, "usage", None)
        prompt = int(getattr(usage, "prompt_tokens", 0) or 0)
        completion = int(getattr(usage, "completion_tokens", 0) or 0)
        text = (getattr(message, "content", None) or "") if message is not None else ""
        return Reply(
            text=text, model=self.name, prompt_tokens=prompt, completion_tokens=completion, dollars=self.pricing.dollars(prompt, completion)
        )


def scrub(text: str, key: str | None) -> str:
    """`text` with every occurrence of the key replaced (a placeholder key is no secret)."""
    if not key or key == PLACEHOLDER_KEY:
        return text
    return text.replace(key, "***")


class _ScrubKey(logging.Filter):
    """Drops the key from any record litellm or its HTTP stack logs (they are quiet anyway)."""

    def __init__(self, key: str):
        super().__init__()
        self.key = key

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if self.key in text:
            record.msg, record.args = scrub(text, self.key), ()
        return True


def _litellm(key: str | None) -> Any:
    """litellm, imported on first use with the local cost map and quiet, key-scrubbed logging."""
    os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    import litellm

    litellm.suppress_debug_info = True
    litellm.telemetry = False
    for name in LITELLM_LOGGERS:
        logger = logging.getLogger(name)
        logger.setLevel(max(logger.level, logging.WARNING))
        if key and key != PLACEHOLDER_KEY and not any(isinstance(f, _ScrubKey) and f.key == key for f in logger.filters):
            logger.addFilter(_ScrubKey(key))
    return litellm
