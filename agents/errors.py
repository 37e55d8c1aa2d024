"""The planner's control-flow exceptions, caught in one place (the session graph's nodes).

- `BudgetExceeded`: a limit was reached; the session stops cleanly and says which.
- `ProposalRejected`: a proposal failed validation (schema, duplicate, novelty, static
  check); it is recorded as `invalid` or `rejected` with the reason, never dropped.
- `LLMUnavailable`: the LLM failed after its retries; the session may fall back to evolution.
"""

from __future__ import annotations

from tools.errors import CladeError


class BudgetExceeded(Exception):
    """A budget limit was reached; `str(exc)` names it, e.g. 'candidates: 40 of 40 used'."""


class ProposalRejected(Exception):
    def __init__(self, reason: str, *, status: str = "invalid"):
        super().__init__(reason)
        self.reason, self.status = reason, status


class LLMUnavailable(CladeError):
    """The LLM could not be reached or kept failing after the configured retries."""
