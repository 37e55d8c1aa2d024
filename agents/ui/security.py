"""Who may use the page: the loopback default, the token, and checks against other web pages.

- Bound to a loopback address (the default, 127.0.0.1), no token is needed, but the `Host`
  header must name this server (`127.0.0.1:PORT`, `localhost:PORT`, `[::1]:PORT`), which
  stops a web page from reaching it through DNS rebinding.
- Bound anywhere else, a token is required (`--token`, or one generated and printed). Every
  request must carry it: `?token=` once (the page then sets an HttpOnly, SameSite=Strict
  cookie and drops it from the address), the cookie, or an `X-Clade-Token` header.
- POSTs (approve, reject, chat) must be `application/json` (a cross-site form cannot send
  that without a CORS preflight, which this server never grants) and, when the browser
  sends an `Origin`, it must be this server's.
"""

from __future__ import annotations

import hmac
import ipaddress
from http.cookies import CookieError, SimpleCookie
from urllib.parse import urlsplit

TOKEN_HEADER = "X-Clade-Token"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class Guard:
    def __init__(self, host: str, port: int, token: str | None):
        self.host, self.port, self.token = host, port, token
        self.cookie = f"clade_ui_token_{port}"  # cookies ignore ports: one name per server

    def host_ok(self, header: str | None) -> bool:
        """The Host header names this server (checked on loopback; with a token the token decides)."""
        if self.token is not None:
            return True
        names = {"127.0.0.1", "localhost", "[::1]", self.host if ":" not in self.host else f"[{self.host}]"}
        return (header or "").lower() in {f"{name}:{self.port}" for name in names}

    def token_ok(self, headers, query_token: str | None = None) -> bool:
        if self.token is None:
            return True
        offered = [headers.get(TOKEN_HEADER), query_token, self._cookie_token(headers.get("Cookie"))]
        return any(t is not None and hmac.compare_digest(t.encode(), self.token.encode()) for t in offered)

    def post_ok(self, headers) -> str | None:
        """Why a POST is refused (None: accepted)."""
        kind = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if kind != "application/json":
            return "POST requests must be application/json"
        origin = headers.get("Origin")
        if origin is not None and urlsplit(origin).netloc.lower() != (headers.get("Host") or "").lower():
            return f"cross-origin request from {origin} refused"
        return None

    def set_cookie(self) -> str:
        return f"{self.cookie}={self.token}; HttpOnly; SameSite=Strict; Path=/"

    def _cookie_token(self, header: str | None) -> str | None:
        if not header:
            return None
        jar = SimpleCookie()
        try:
            jar.load(header)
        except CookieError:  # a malformed Cookie header (another page's cookies): no token in it
            return None
        morsel = jar.get(self.cookie)
        return morsel.value if morsel else None
