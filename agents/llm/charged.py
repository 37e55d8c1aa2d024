"""One LLM call inside the budget: the one place a strategy's model call is checked and charged."""

from __future__ import annotations

from agents.budget import Budget
from agents.llm.base import Message, Model
from archive.record import Cost


def charged_query(model: Model, budget: Budget, messages: list[Message], spent: Cost) -> tuple[str, Cost]:
    """The reply's text and the candidate's spend with it added. The budget is checked before the call
    (the session's limits, and `spent` so far on the candidate being proposed) and charged after it."""
    budget.check_llm(spent.llm_tokens, spent.dollars)
    reply = model.query(messages)
    budget.charge_llm(reply.tokens, reply.dollars)
    return reply.text, spent + Cost(llm_tokens=reply.tokens, dollars=reply.dollars)
