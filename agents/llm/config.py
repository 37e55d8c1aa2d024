"""`planner.llm` in clade.yaml: which model, where, and how hard to retry.

planner:
  llm:
    model: openai/gpt-4o-mini      # any litellm model string (anthropic/..., ollama/..., openai/<name> + api_base)
    api_base: null                 # an OpenAI-compatible server, e.g. http://localhost:8000/v1
    api_key_env: OPENAI_API_KEY    # the environment variable holding the key (read on the host only)
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class LLMConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model: str = Field(min_length=1)
    api_base: str | None = None
    api_key_env: str | None = Field(None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    temperature: float = Field(0.7, ge=0, le=2)
    max_tokens: int = Field(2000, gt=0)
    timeout_s: float = Field(60.0, gt=0)
    max_retries: int = Field(4, ge=0, description="retries on timeouts, 429 and 5xx, with exponential backoff")
    backoff_s: float = Field(1.0, ge=0, description="first backoff; doubles each retry")
    fallback_after: int = Field(3, gt=0, description="consecutive failed LLM calls before the session falls back to evolution")
    input_per_mtok: float | None = Field(None, ge=0, description="$ per million prompt tokens (default: litellm's price list)")
    output_per_mtok: float | None = Field(None, ge=0, description="$ per million completion tokens")
    retry_after_cap_s: float = Field(60.0, ge=0, description="longest wait honoured from a 429's Retry-After header")
