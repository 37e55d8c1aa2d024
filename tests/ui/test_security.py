"""Loopback by default, a token elsewhere, and no way in for other web pages."""

from __future__ import annotations

import http.client
import urllib.request

import pytest

from agents.ui.security import is_loopback
from agents.ui.server import build_server
from agents.workspace import load_workspace
from tests.ui.conftest import serve
from tools.errors import BadInput

TOKEN = "tok-123456789"


@pytest.fixture
def guarded(workspace_dir, lineage):
    r = serve(workspace_dir, token=TOKEN)
    yield r
    r.stop()


def raw_get(running, path: str, headers: dict | None = None) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", running.server.server_port, timeout=30)
    conn.request("GET", path, headers=headers or {})
    return conn.getresponse()


@pytest.mark.parametrize(
    "host, loop",
    [
        ("127.0.0.1", True),
        ("127.8.0.2", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("192.168.1.4", False),
        ("example.org", False),
    ],
)
def test_loopback_addresses(host, loop):
    assert is_loopback(host) is loop


def test_elsewhere_than_loopback_needs_a_token(workspace_dir):
    with pytest.raises(BadInput, match="needs a token"):
        build_server(load_workspace(workspace_dir), host="0.0.0.0", port=0, token=None)


def test_every_request_needs_the_token(guarded):
    assert guarded.get("/api/version")[0] == 401
    assert raw_get(guarded, "/").status == 401
    assert guarded.get("/api/version", headers={"X-Clade-Token": TOKEN})[0] == 200
    assert guarded.get("/api/version", headers={"X-Clade-Token": "wrong"})[0] == 401
    assert guarded.post("/api/chat", {"text": "hi"})[0] == 401


def test_the_printed_link_sets_a_cookie_and_drops_the_token_from_the_address(guarded):
    assert guarded.server.login_url.endswith(f"/?token={TOKEN}")
    res = raw_get(guarded, f"/?token={TOKEN}")
    assert res.status == 303 and res.getheader("Location") == "/"
    cookie = res.getheader("Set-Cookie")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    again = raw_get(guarded, "/", {"Cookie": cookie.split(";")[0]})
    assert again.status == 200 and b"app.js" in again.read()


def test_a_foreign_host_header_is_refused_on_loopback(running):
    res = raw_get(running, "/api/version", {"Host": "evil.example:80"})
    assert res.status == 403 and b"not this server" in res.read()
    assert raw_get(running, "/api/version", {"Host": f"localhost:{running.server.server_port}"}).status == 200


def test_posts_must_be_json_from_this_origin(running, lineage, workspace_dir):
    url = f"/api/candidate/{lineage['good']}/approve"
    status, d = running.request("POST", url, raw=b"comment=x", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 403 and "application/json" in d["error"]
    status, d = running.post(url, {"comment": "x"}, headers={"Origin": "http://evil.example"})
    assert status == 403 and "cross-origin" in d["error"]
    from tests.ui.conftest import open_archive

    with open_archive(workspace_dir) as archive:
        assert archive.get(lineage["good"]).reviews == []
    assert running.post(url, {"comment": "x"}, headers={"Origin": running.url.rstrip("/")})[0] == 200


def test_request_lines_are_not_logged(guarded, capfd):
    urllib.request.urlopen(urllib.request.Request(guarded.url + f"api/version?token={TOKEN}")).read()
    assert TOKEN not in capfd.readouterr().err


@pytest.mark.parametrize("length", ["-1", "abc"])
def test_a_bad_content_length_is_refused_at_once(running, lineage, length):
    conn = http.client.HTTPConnection("127.0.0.1", running.server.server_port, timeout=10)
    conn.putrequest("POST", f"/api/candidate/{lineage['good']}/approve")
    for key, value in {"Content-Type": "application/json", "Content-Length": length}.items():
        conn.putheader(key, value)
    conn.endheaders()
    res = conn.getresponse()  # within the 10 s timeout: the server did not wait for a body
    assert res.status == 400 and b"not a byte count" in res.read()
