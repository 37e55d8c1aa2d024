"""What a failed LLM call means: retry or not, how long to wait, and how to say it.

Retried: timeouts, connection errors, HTTP 408, 429 (Retry-After honoured, capped) and
5xx (a malformed response body counts as 5xx: litellm reports it as an internal server
error). Not retried: every other 4xx (a bad key, a bad request, an unknown model), because
asking again cannot fix them. Exceptions that are not an LLM provider's errors (a bug of
ours) are not classified here: the client lets them propagate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

HINTS = {
    401: "check the API key (planner.llm.api_key_env names the variable)",
    403: "the key has no access to this model",
    404: "check planner.llm.model and planner.llm.api_base",
    400: "the server refused the request",
}


@dataclass(frozen=True)
class Failure:
    retry: bool
    what: str  # one phrase for the person reading the error, e.g. "HTTP 429 (rate limited)"
    retry_after: float | None = None  # seconds, from a Retry-After header


def provider_errors() -> tuple[type[BaseException], ...]:
    """The exception types an LLM call can raise (litellm's errors derive from openai's)."""
    import httpx
    import openai

    return openai.OpenAIError, httpx.HTTPError


def classify(exc: BaseException, timeout_s: float) -> Failure:
    import httpx
    import openai

    chain = _chain(exc)  # litellm wraps some transport failures in a 500: the cause tells
    if any(isinstance(e, (openai.APITimeoutError, httpx.TimeoutException)) for e in chain):
        return Failure(True, f"timed out after {timeout_s:g} s")
    broken = next((e for e in chain if isinstance(e, (openai.APIConnectionError, httpx.TransportError))), None)
    if broken is not None:
        return Failure(True, f"connection failed ({_first_line(chain[-1])})")
    status = getattr(exc, "status_code", None)
    if status == 429:
        return Failure(True, "HTTP 429 (rate limited)", retry_after_seconds(exc))
    if isinstance(status, int) and (status >= 500 or status == 408):
        return Failure(True, f"HTTP {status} ({_first_line(exc)})")
    if isinstance(status, int):
        return Failure(False, f"HTTP {status} ({_first_line(exc)}); {HINTS.get(status, 'not retried')}")
    return Failure(False, f"{type(exc).__name__}: {_first_line(exc)}")


def _chain(exc: BaseException, limit: int = 8) -> list[BaseException]:
    """The exception and its causes, outermost first."""
    chain = [exc]
    while len(chain) < limit and (nxt := chain[-1].__cause__ or chain[-1].__context__) is not None:
        chain.append(nxt)
    return chain


def retry_after_seconds(exc: BaseException) -> float | None:
    """Seconds from a Retry-After header (delta-seconds form; an HTTP date is ignored)."""
    for headers in (getattr(exc, "litellm_response_headers", None), _response_headers(exc)):
        value = headers.get("retry-after") if headers is not None else None
        if value is None:
            continue
        try:
            return max(0.0, float(value))
        except ValueError:
            return None
    return None


def _response_headers(exc: BaseException) -> Any:
    response = getattr(exc, "response", None)
    return getattr(response, "headers", None)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__
