"""The llm strategy through the real client (make_model, litellm) against the local stub server."""

from __future__ import annotations

import json

import pytest

from agents.llm.client import make_model
from agents.strategies.llm import LLMStrategy
from tests.llm.conftest import FAKE_KEY, KEY_ENV, make_context, planner

TIES = {
    "rationale": "ties over adder and reverser",
    "method": "ties",
    "base": "base",
    "sources": ["adder", "reverser"],
    "parameters": {"adder": {"weight": 0.9, "density": 0.5}, "reverser": {"weight": 0.7, "density": 0.5}},
}


def test_llm_strategy_through_litellm_and_the_stub(stub, llm_config, sleeps, zoo):
    stub.error(429, retry_after=0).reply('```json\n{"method": "ties",\n```').reply(f"```json\n{json.dumps(TIES)}\n```")
    model = make_model(llm_config, {KEY_ENV: FAKE_KEY}, sleep=sleeps)
    [p] = LLMStrategy(planner(), zoo).propose(make_context(zoo, model))
    assert p.invalid is None and p.model == "openai/stub-model" and p.rationale == TIES["rationale"]
    assert p.genotype["recipe"]["models"][0] == {"model": "adder", "parameters": {"weight": 0.9, "density": 0.5}}
    assert model.retries == 1 and sleeps == [0]
    assert [len(r.messages) for r in stub.requests] == [1, 1, 3]  # the 429, the first reply, the repair
    assert "the JSON is not valid" in stub.requests[2].messages[-1]["content"]
    assert p.cost.llm_tokens == 2 * 18 and p.cost.dollars == pytest.approx(2 * (11 * 1.0 + 7 * 2.0) / 1e6)
