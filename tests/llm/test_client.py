"""The litellm client through the real litellm path against the local stub server."""

from __future__ import annotations

import logging
import traceback

import pytest

from agents.errors import LLMUnavailable
from agents.llm.client import make_model
from tests.llm.conftest import FAKE_KEY, KEY_ENV
from tools.errors import BadInput

HELLO = [{"role": "user", "content": "hello"}]
ENV = {KEY_ENV: FAKE_KEY}


def test_valid_reply_has_text_tokens_dollars_and_model(stub, llm_config, sleeps):
    stub.reply("a fine answer", prompt_tokens=1000, completion_tokens=500)
    reply = make_model(llm_config, ENV, sleep=sleeps).query(HELLO)
    assert reply.text == "a fine answer"
    assert (reply.prompt_tokens, reply.completion_tokens) == (1000, 500)
    assert reply.dollars == pytest.approx((1000 * 1.0 + 500 * 2.0) / 1e6)
    assert reply.model == "openai/stub-model"
    request = stub.requests[0]
    assert request.messages == HELLO and request.body["model"] == "stub-model"
    assert request.headers["Authorization"] == f"Bearer {FAKE_KEY}"
    assert sleeps == []


def test_malformed_body_is_retried_then_succeeds(stub, llm_config, sleeps):
    stub.malformed().reply("ok")
    model = make_model(llm_config, ENV, sleep=sleeps)
    assert model.query(HELLO).text == "ok"
    assert model.retries == 1 and sleeps == [0.5]


def test_429_then_success_honours_retry_after(stub, llm_config, sleeps):
    stub.error(429, retry_after=7).error(429).reply("after the rate limit")
    model = make_model(llm_config, ENV, sleep=sleeps)
    assert model.query(HELLO).text == "after the rate limit"
    assert model.retries == 2 and len(stub.requests) == 3
    assert sleeps == [7.0, 1.0]  # Retry-After, then the second exponential step (0.5 * 2)


def test_retry_after_is_capped(stub, llm_config, sleeps):
    stub.error(429, retry_after=3600).reply("ok")
    make_model(llm_config.model_copy(update={"retry_after_cap_s": 30}), ENV, sleep=sleeps).query(HELLO)
    assert sleeps == [30]


def test_500s_until_giving_up(stub, llm_config, sleeps):
    for _ in range(4):
        stub.error(500, message="upstream exploded")
    with pytest.raises(LLMUnavailable) as caught:
        make_model(llm_config, ENV, sleep=sleeps).query(HELLO)
    assert "openai/stub-model: HTTP 500" in str(caught.value)
    assert "gave up after 4 tries (3 retries)" in str(caught.value)
    assert sleeps == [0.5, 1.0, 2.0] and stub.pending == 0


def test_timeout_is_retried(stub, llm_config, sleeps):
    stub.hang(30).reply("in time")
    model = make_model(llm_config.model_copy(update={"timeout_s": 0.5}), ENV, sleep=sleeps)
    assert model.query(HELLO).text == "in time"
    assert model.retries == 1


def test_timeout_gives_up_with_reason(stub, llm_config, sleeps):
    stub.hang(30)
    model = make_model(llm_config.model_copy(update={"timeout_s": 0.5, "max_retries": 0}), ENV, sleep=sleeps)
    with pytest.raises(LLMUnavailable, match=r"timed out after 0.5 s; gave up after 1 tries"):
        model.query(HELLO)


def test_401_fails_at_once_without_leaking_the_key(stub, llm_config, sleeps, caplog):
    stub.error(401, message=f"Incorrect API key provided: {FAKE_KEY}").reply("never served")
    caplog.set_level(logging.DEBUG)
    model = make_model(llm_config, ENV, sleep=sleeps)
    with pytest.raises(LLMUnavailable) as caught:
        model.query(HELLO)
    assert "HTTP 401" in str(caught.value) and "not retried" in str(caught.value)
    assert len(stub.requests) == 1 and sleeps == []
    _assert_no_key(caught.value, caplog.text, repr(model))


def test_key_never_leaks_when_retries_run_out(stub, llm_config, sleeps, caplog, capsys):
    for _ in range(4):
        stub.error(503, message=f"bad gateway for key {FAKE_KEY}")
    caplog.set_level(logging.DEBUG)
    with pytest.raises(LLMUnavailable) as caught:
        make_model(llm_config, ENV, sleep=sleeps).query(HELLO)
    out = capsys.readouterr()
    _assert_no_key(caught.value, caplog.text, out.out, out.err)


def _assert_no_key(exc: BaseException, *texts: str) -> None:
    printed = "".join(traceback.format_exception(exc))  # what a person sees, causes included
    assert "***" in str(exc)  # the server's message named the key: it was scrubbed, not lost
    for text in (printed, repr(exc), *texts):
        assert FAKE_KEY not in text


def test_missing_key_variable_is_bad_input(llm_config):
    with pytest.raises(BadInput, match=f"{KEY_ENV} is not set"):
        make_model(llm_config, {})


def test_local_server_without_key_gets_a_placeholder(stub, llm_config, sleeps):
    stub.reply("no key needed")
    model = make_model(llm_config.model_copy(update={"api_key_env": None}), {}, sleep=sleeps)
    assert model.query(HELLO).text == "no key needed"


def test_unpriced_model_costs_zero_and_says_why(stub, llm_config, sleeps):
    stub.reply("free")
    model = make_model(llm_config.model_copy(update={"input_per_mtok": None, "output_per_mtok": None}), ENV, sleep=sleeps)
    assert model.query(HELLO).dollars == 0.0
    assert model.pricing.source.startswith("none: openai/stub-model is not in litellm's cost map")


def test_connection_refused_is_retried_then_given_up(llm_config, sleeps):
    import socket

    with socket.socket() as s:  # a port nobody listens on once this closes
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = llm_config.model_copy(update={"api_base": f"http://127.0.0.1:{port}/v1", "max_retries": 2})
    with pytest.raises(LLMUnavailable, match="connection failed .*gave up after 3 tries"):
        make_model(config, ENV, sleep=sleeps).query(HELLO)
    assert sleeps == [0.5, 1.0]


def test_stub_streams_and_answers_on_both_paths(stub):
    import os

    os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    import litellm

    stub.reply("a streamed reply, longer than one chunk").reply("plain")
    chunks = litellm.completion(model="openai/stub", api_base=stub.root, api_key="k", messages=HELLO, stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "a streamed reply, longer than one chunk"
    plain = litellm.completion(model="openai/stub", api_base=stub.url, api_key="k", messages=HELLO)
    assert plain.choices[0].message.content == "plain"
    assert [r.path for r in stub.requests] == ["/chat/completions", "/v1/chat/completions"]
    assert stub.requests[0].body["stream"] is True


@pytest.mark.parametrize("sent", ["authorization", "Authorization", "AUTHORIZATION"])
def test_the_stub_reads_header_names_case_insensitively(stub, sent):
    """HTTP header names are case-insensitive (RFC 9110): whatever case a client sends, tests read one name."""
    import json
    import urllib.request

    stub.reply("ok")
    request = urllib.request.Request(
        stub.url + "/chat/completions",
        data=json.dumps({"messages": HELLO}).encode(),
        headers={sent: "Bearer x", "Content-Type": "application/json"},
    )
    urllib.request.urlopen(request, timeout=10).read()
    seen = stub.requests[0].headers
    assert seen["Authorization"] == seen["authorization"] == seen.get("AUTHORIZATION") == "Bearer x"
    assert "authorization" in seen and "Authorization" in seen
