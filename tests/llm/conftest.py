"""Fixtures for the LLM client and the llm/hybrid strategies: the stub server, client configs, workspaces."""

from __future__ import annotations

import pytest

from agents.llm.config import LLMConfig
from tests.llm_stub import StubServer

FAKE_KEY = "sk-clade-test-0123456789-SECRET"
KEY_ENV = "CLADE_TEST_LLM_KEY"


@pytest.fixture
def stub():
    with StubServer() as server:
        yield server


@pytest.fixture
def llm_config(stub) -> LLMConfig:
    return LLMConfig(model="openai/stub-model", api_base=stub.url, api_key_env=KEY_ENV, timeout_s=5,
                     max_retries=3, backoff_s=0.5, input_per_mtok=1.0, output_per_mtok=2.0)


class SleepLog(list):
    """A sleep that records how long it was asked to wait and returns at once (the retries' clock)."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> SleepLog:
    return SleepLog()
