"""The page's HTTP server: the standard library's ThreadingHTTPServer, no web framework.

    server = build_server(workspace, host="127.0.0.1", port=8765, token=None, model=None)
    print(server.url); server.serve_forever()

Serves the static files (agents/ui/static: the page, its style, five scripts) and the JSON API (agents/ui/api.py);
every request passes agents/ui/security.py's Guard first. Each request runs in its own
thread; the archive is thread-safe and read live (agents.ui.state.LiveArchive).
"""

from __future__ import annotations

import errno
import json
import re
import socket
import socketserver
import sys
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from agents.config import Workspace
from agents.errors import BudgetExceeded, LLMUnavailable
from agents.ui import api
from agents.ui.security import TOKEN_HEADER, Guard, is_loopback
from agents.ui.state import UIState, build_state
from tools.errors import BadInput, CladeError

DEFAULT_PORT = 8765
MAX_BODY = 1_000_000
BODY_TIMEOUT_S = 5.0  # a body that stops arriving before its Content-Length is a bad request, not a 60 s stall
SPLITS = ("search", "test")
STATIC = Path(__file__).resolve().parent / "static"
SCRIPTS = ("common.js", "plots.js", "graph.js", "candidate.js", "app.js")  # loaded in this order (index.html)
FILES = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/static/style.css": ("style.css", "text/css; charset=utf-8"),
    **{f"/static/{name}": (name, "text/javascript; charset=utf-8") for name in SCRIPTS},
}
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
ID = r"(?P<id>[^/]+)"  # archive.resolve says what is wrong with a bad id
GET_ROUTES = [
    (re.compile(r"/api/version"), lambda s, m, q: api.version(s)),
    (re.compile(r"/api/overview"), lambda s, m, q: api.overview(s, q["split"])),
    (re.compile(r"/api/graph"), lambda s, m, q: api.graph(s, q["split"])),
    (re.compile(rf"/api/candidate/{ID}"), lambda s, m, q: api.candidate(s, m["id"], q["split"])),
    (re.compile(r"/api/compare/(?P<a>[^/]+)/(?P<b>[^/]+)"), lambda s, m, q: api.compare(s, m["a"], m["b"], q["split"])),
    (re.compile(r"/api/pareto"), lambda s, m, q: api.pareto(s, q["split"])),
    (re.compile(r"/api/spend"), lambda s, m, q: api.spend_curve(s)),
    (re.compile(r"/api/chat"), lambda s, m, q: api.chat_status(s)),
]
POST_ROUTES = [
    (re.compile(rf"/api/candidate/{ID}/approve"), lambda s, m, q, body: api.approve(s, m["id"], body, q["split"])),
    (re.compile(rf"/api/candidate/{ID}/reject"), lambda s, m, q, body: api.reject(s, m["id"], body, q["split"])),
    (re.compile(r"/api/chat"), lambda s, m, q, body: api.chat_send(s, body)),
]


class UIServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, host: str, port: int):
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        super().__init__((host.strip("[]"), port), Handler)
        self.state: UIState | None = None
        self.guard: Guard | None = None

    def server_bind(self) -> None:
        socketserver.TCPServer.server_bind(self)  # HTTPServer's would resolve the host name (getfqdn): slow, unneeded
        self.server_name, self.server_port = self.server_address[0], self.server_address[1]

    @property
    def url(self) -> str:
        host = f"[{self.server_name}]" if ":" in self.server_name else self.server_name
        return f"http://{host}:{self.server_port}/"

    @property
    def login_url(self) -> str:
        """The URL to open: with `?token=` when the page needs one."""
        return self.url + (f"?token={self.guard.token}" if self.guard.token else "")

    def close(self) -> None:
        self.server_close()
        self.state.close()


def build_server(
    workspace: Workspace,
    *,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    token: str | None = None,
    model=None,
    llm=None,
    who: str = "ui",
) -> UIServer:
    """Bind the page's server (nothing else is touched when binding fails); `model` is the chat's LLM
    (else the one `llm`, an LLMConfig, or planner.llm names)."""
    if not is_loopback(host) and not token:
        raise BadInput(f"--host {host}: not a loopback address, so the page needs a token; pass --token (or let `clade ui` make one)")
    try:
        server = UIServer(host, port)
    except OSError as exc:
        raise _bind_error(exc, host, port) from None
    server.state = build_state(workspace, model=model, llm=llm, who=who)
    server.guard = Guard(server.server_name, server.server_port, token)
    return server


def _bind_error(exc: OSError, host: str, port: int) -> Exception:
    if exc.errno == errno.EADDRINUSE:
        return BadInput(f"port {port} on {host} is in use; pass --port")
    if exc.errno == errno.EACCES:
        return BadInput(f"port {port} on {host}: permission denied (ports below 1024 need root); pass --port")
    if exc.errno == errno.EADDRNOTAVAIL or isinstance(exc, socket.gaierror):
        return BadInput(f"--host {host}: not an address of this machine ({exc.strerror}); pass one of its addresses")
    return exc


class Handler(BaseHTTPRequestHandler):
    server: UIServer
    server_version = "clade-ui"
    timeout = 60  # seconds a connection may sit idle mid-request before its thread gives up on it

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def log_message(self, format: str, *args) -> None:
        """Quiet: request lines may carry the token, and the terminal belongs to the user."""

    def _handle(self, method: str) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        guard = self.server.guard
        if not guard.host_ok(self.headers.get("Host")):
            return self._text(403, f"Host {self.headers.get('Host')!r} is not this server; open {self.server.url}\n")
        token = query.get("token", [None])[0] if method == "GET" else None
        if not guard.token_ok(self.headers, token):
            return self._refuse(url.path)
        if token is not None and url.path in FILES:  # logged in by the printed link: keep it in a cookie, out of the address bar
            return self._redirect(url.path, guard.set_cookie())
        if method == "GET" and url.path in FILES:
            return self._static(*FILES[url.path])
        if method == "POST" and (why := guard.post_ok(self.headers)):
            return self._json(403, {"error": why})
        split = query.get("split", ["search"])[0]
        if split not in SPLITS:  # never echoed: the page shows this text
            return self._json(400, {"error": f"query parameter split: give one of {', '.join(SPLITS)}"})
        self._api(method, url.path, {"split": split})

    def _api(self, method: str, path: str, query: dict) -> None:
        for pattern, fn in GET_ROUTES if method == "GET" else POST_ROUTES:
            if m := pattern.fullmatch(path):
                try:
                    args = (self.server.state, m, query) + (() if method == "GET" else (self._body(),))
                    return self._json(200, fn(*args))
                except BadInput as exc:
                    return self._json(400, {"error": str(exc)})
                except BudgetExceeded as exc:  # the chat's token budget: the conversation stops, the page does not
                    return self._json(429, {"error": f"chat stopped: {exc}"})
                except LLMUnavailable as exc:
                    return self._json(503, {"error": str(exc)})
                except CladeError as exc:
                    return self._json(500, {"error": str(exc)})
                except Exception as exc:  # a bug: the traceback goes to the terminal, the page gets one line
                    traceback.print_exc(file=sys.stderr)
                    return self._json(
                        500, {"error": f"internal error ({type(exc).__name__}: {exc}); the traceback is on the `clade ui` terminal"}
                    )
        self._json(404, {"error": f"no such page: {method} {path}"})

    def _body(self) -> object:
        raw = (self.headers.get("Content-Length") or "0").strip()
        # ASCII digits only (str.isdigit takes Arabic-Indic and other digits too); negative or not a number: refused,
        # never read (a read of -1 would wait for the socket to close)
        if not re.fullmatch(r"[0-9]{1,12}", raw):
            raise BadInput("header Content-Length: not a byte count (ASCII digits)")
        length = int(raw)
        if length > MAX_BODY:
            raise BadInput(f"request body of {length} bytes is over the {MAX_BODY}-byte limit")
        data = self._read(length)
        try:
            return json.loads(data or b"null")
        except RecursionError:
            raise BadInput("request body: JSON nested too deeply") from None
        except ValueError as exc:
            raise BadInput(f"request body is not JSON ({str(exc).splitlines()[0]})") from None

    def _read(self, length: int) -> bytes:
        """`length` bytes of body, or BadInput when fewer arrive (the client closed, or stopped sending)."""
        self.connection.settimeout(BODY_TIMEOUT_S)
        try:
            data = self.rfile.read(length)
        except (TimeoutError, OSError):
            data = None
        finally:
            self.connection.settimeout(self.timeout)
        if data is None or len(data) < length:
            self.close_connection = True  # the stream is out of step with its requests: end it
            got = "" if data is None else f" after {len(data)} bytes"
            raise BadInput(f"request body ended{got}, before its Content-Length of {length} bytes")
        return data

    def _refuse(self, path: str) -> None:
        why = f"this Clade page needs its token: open the address `clade ui` printed (with ?token=), or send the {TOKEN_HEADER} header"
        if path.startswith("/api/"):
            return self._json(401, {"error": why})
        self._text(401, why + "\n")

    def _static(self, name: str, kind: str) -> None:
        self._send(200, (STATIC / name).read_bytes(), kind)

    def _json(self, status: int, payload: object) -> None:
        self._send(status, json.dumps(payload, default=str).encode(), "application/json")

    def _text(self, status: int, text: str) -> None:
        self._send(status, text.encode(), "text/plain; charset=utf-8")

    def _redirect(self, path: str, cookie: str) -> None:
        self.send_response(303)
        self.send_header("Location", path)
        self.send_header("Set-Cookie", cookie)
        self.send_header("Content-Length", "0")
        for key, value in SECURITY_HEADERS.items():
            self.send_header(key, value)
        self.end_headers()

    def _send(self, status: int, body: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        for key, value in SECURITY_HEADERS.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)
