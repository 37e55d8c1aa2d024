"""Dollars for a reply: clade.yaml's prices when set, else litellm's local cost map, else 0 (said once).

`Pricing.source` says where the numbers come from ("clade.yaml", "litellm cost map", or
"none: <why>"), so a session can report that its dollar budget is not being counted.
"""

from __future__ import annotations

import logging

from agents.llm.config import LLMConfig

log = logging.getLogger("clade.llm")


class Pricing:
    def __init__(self, config: LLMConfig):
        self.config = config
        configured = config.input_per_mtok is not None or config.output_per_mtok is not None
        self.source = "clade.yaml" if configured else "litellm cost map"

    def dollars(self, prompt_tokens: int, completion_tokens: int) -> float:
        if self.source == "clade.yaml":
            c = self.config
            return (prompt_tokens * (c.input_per_mtok or 0.0) + completion_tokens * (c.output_per_mtok or 0.0)) / 1e6
        if self.source == "litellm cost map":
            return self._from_cost_map(prompt_tokens, completion_tokens)
        return 0.0

    def _from_cost_map(self, prompt_tokens: int, completion_tokens: int) -> float:
        import litellm  # imported by the client first, with the local cost map

        try:
            prompt, completion = litellm.cost_per_token(
                model=self.config.model, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
            )
        except Exception as exc:  # litellm raises several types for "not in the map"; the reason is kept
            self.source = f"none: {self.config.model} is not in litellm's cost map ({type(exc).__name__})"
            log.warning(
                "%s: dollars are counted as 0; set planner.llm.input_per_mtok and output_per_mtok in clade.yaml to count them", self.source
            )
            return 0.0
        return float(prompt) + float(completion)
