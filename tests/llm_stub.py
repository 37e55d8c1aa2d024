"""A local OpenAI-compatible chat server for tests: the real LLM client path, no network.

    from tests.llm_stub import StubServer

    with StubServer() as stub:                      # 127.0.0.1, a free port, a daemon thread
        stub.reply('{"method": "ties", ...}')       # queue behaviours, served in order
        stub.error(429, retry_after=0)              # HTTP 429 with a Retry-After header
        stub.error(500)                             # HTTP 500 (any status; 401 for a bad key)
        stub.malformed()                            # HTTP 200 whose body is not JSON
        stub.hang(5.0)                              # answer nothing for 5 s (past the client's timeout)
        stub.respond(lambda request: "text")        # a reply computed from the request body
        config = LLMConfig(model="openai/stub", api_base=stub.url)
        ...
        stub.requests                               # every request received: StubRequest(path, headers, body)
        stub.served                                 # how many behaviours were consumed

It serves POST /v1/chat/completions and POST /chat/completions (so `api_base` may be
`stub.url` (ending in /v1) or `stub.root`). A request with `"stream": true` gets the reply
as server-sent events (OpenAI chunk format, then `data: [DONE]`); errors are never streamed.
`StubServer(default=...)` sets a behaviour served whenever the queue is empty (e.g. for a
page that may ask any number of times); without one, an empty queue answers HTTP 500 with
"stub: no scripted behaviour left" and the request is still recorded, so a test can see
that the code asked once too often. `stop()` (or leaving the `with`) wakes hanging handlers.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PATHS = ("/v1/chat/completions", "/chat/completions")


class Headers(dict):
    """HTTP header fields: names are case-insensitive (RFC 9110), so lookups lower-case them."""

    def __init__(self, items=()):
        super().__init__((name.lower(), value) for name, value in items)

    def __getitem__(self, name: str) -> str:
        return super().__getitem__(name.lower())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and super().__contains__(name.lower())

    def get(self, name: str, default: Any = None) -> Any:
        return super().get(name.lower(), default)


@dataclass(frozen=True)
class StubRequest:
    path: str
    headers: Headers
    body: dict[str, Any]

    @property
    def messages(self) -> list[dict[str, Any]]:
        return self.body.get("messages", [])


@dataclass(frozen=True)
class Reply:
    text: str | Callable[[dict[str, Any]], str]
    prompt_tokens: int = 11
    completion_tokens: int = 7


@dataclass(frozen=True)
class Error:
    status: int
    retry_after: float | None = None
    message: str = "stub error"


@dataclass(frozen=True)
class Malformed:
    body: str = '{"id": "chatcmpl-stub", "choices": [ {"mess'


@dataclass(frozen=True)
class Hang:
    seconds: float


Behaviour = Reply | Error | Malformed | Hang


@dataclass
class _State:
    queue: list[Behaviour] = field(default_factory=list)
    requests: list[StubRequest] = field(default_factory=list)
    served: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)


class StubServer:
    """An OpenAI-compatible /chat/completions server on 127.0.0.1 serving a queue of scripted behaviours."""

    def __init__(self, default: Behaviour | None = None, *, model: str = "stub"):
        self.default, self.model = default, model
        self._state = _State()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- queueing behaviours ---------------------------------------------------------------
    def reply(self, text: str, *, prompt_tokens: int = 11, completion_tokens: int = 7) -> "StubServer":
        return self._push(Reply(text, prompt_tokens, completion_tokens))

    def respond(self, fn: Callable[[dict[str, Any]], str]) -> "StubServer":
        """A reply computed from the request's JSON body (e.g. echoing the last message)."""
        return self._push(Reply(fn))

    def error(self, status: int, *, retry_after: float | None = None, message: str = "stub error") -> "StubServer":
        return self._push(Error(status, retry_after, message))

    def malformed(self, body: str = Malformed.body) -> "StubServer":
        return self._push(Malformed(body))

    def hang(self, seconds: float) -> "StubServer":
        return self._push(Hang(seconds))

    def _push(self, behaviour: Behaviour) -> "StubServer":
        with self._state.lock:
            self._state.queue.append(behaviour)
        return self

    # -- what happened ---------------------------------------------------------------------
    @property
    def requests(self) -> list[StubRequest]:
        with self._state.lock:
            return list(self._state.requests)

    @property
    def served(self) -> int:
        return self._state.served

    @property
    def pending(self) -> int:
        with self._state.lock:
            return len(self._state.queue)

    # -- lifecycle -------------------------------------------------------------------------
    @property
    def root(self) -> str:
        if self._server is None:
            raise RuntimeError("StubServer: not started (use `with StubServer() as stub:` or call start())")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def url(self) -> str:
        return f"{self.root}/v1"

    def start(self) -> "StubServer":
        handler = type("Handler", (_Handler,), {"stub": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="llm-stub", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._state.stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=10)
            self._server = None

    def __enter__(self) -> "StubServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _take(self, request: StubRequest) -> Behaviour | None:
        with self._state.lock:
            self._state.requests.append(request)
            behaviour = self._state.queue.pop(0) if self._state.queue else self.default
            self._state.served += behaviour is not None
            return behaviour


class _Handler(BaseHTTPRequestHandler):
    stub: StubServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read stub.requests instead
        pass

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.rstrip("/") not in PATHS:
            return self._json(404, {"error": {"message": f"stub: no route {self.path}", "type": "not_found"}})
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            return self._json(400, {"error": {"message": "stub: request body is not JSON", "type": "invalid_request_error"}})
        behaviour = self.stub._take(StubRequest(self.path, Headers(self.headers.items()), body))
        try:
            self._serve(behaviour, body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout): nothing left to tell it

    def _serve(self, behaviour: Behaviour | None, body: dict[str, Any]) -> None:
        if behaviour is None:
            return self._json(500, {"error": {"message": "stub: no scripted behaviour left", "type": "server_error"}})
        if isinstance(behaviour, Hang):
            self.stub._state.stopping.wait(behaviour.seconds)
            return self._json(500, {"error": {"message": "stub: hung past the client's timeout", "type": "server_error"}})
        if isinstance(behaviour, Error):
            headers = {} if behaviour.retry_after is None else {"Retry-After": f"{behaviour.retry_after:g}"}
            return self._json(
                behaviour.status, {"error": {"message": behaviour.message, "type": "stub_error", "code": str(behaviour.status)}}, headers
            )
        if isinstance(behaviour, Malformed):
            return self._send(200, behaviour.body.encode(), "application/json")
        text = behaviour.text(body) if callable(behaviour.text) else behaviour.text
        if body.get("stream"):
            return self._stream(text, body)
        self._json(200, _completion(text, body.get("model", self.stub.model), behaviour))

    def _stream(self, text: str, body: dict[str, Any]) -> None:
        model = body.get("model", self.stub.model)
        pieces = [text[i : i + 16] for i in range(0, len(text), 16)] or [""]
        events = [_chunk(model, {"role": "assistant", "content": p} if i == 0 else {"content": p}, None) for i, p in enumerate(pieces)]
        events.append(_chunk(model, {}, "stop"))
        payload = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
        self._send(200, payload.encode(), "text/event-stream")

    def _json(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json", headers)

    def _send(self, status: int, data: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


def _completion(text: str, model: str, reply: Reply) -> dict[str, Any]:
    usage = {
        "prompt_tokens": reply.prompt_tokens,
        "completion_tokens": reply.completion_tokens,
        "total_tokens": reply.prompt_tokens + reply.completion_tokens,
    }
    return {
        "id": "chatcmpl-stub",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": usage,
    }


def _chunk(model: str, delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-stub",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
