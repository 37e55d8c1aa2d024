"""Issue 12 (fuzz, the web server): malformed requests over a real socket to a real `clade ui` server are
400 with a one-line JSON error, quickly, and never echo raw input. CASES counts the generated cases."""

from __future__ import annotations

import json
import socket

import pytest

from tests.ui.conftest import open_archive

CONTENT_LENGTHS = ["٥", "５", "۱۰", "-1", "+5", " 5x", "1e3", "0x10", "5.0", "", "99999999999999999999", "١٢"]
DEEP = [b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 50_000 + b"1" + b"}" * 50_000]
BAD_BODIES = [b"{", b"\xff\xfe\x00", b"not json", b'{"comment": "x"', b"\x00" * 10]
SPLITS = ["bogus", "<script>alert(1)</script>", "search ", "TEST", "\x00", "s" * 5000, "test\n", "séarch"]


def raw_request(running, head: str, body: bytes = b"", *, close_write: bool = False) -> tuple[int, bytes]:
    host, port = running.server.server_address[:2]
    with socket.create_connection((host, port), timeout=30) as sock:
        sock.sendall(head.encode("utf-8") + body)
        if close_write:
            sock.shutdown(socket.SHUT_WR)
        data = b""
        while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < _length(data):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    status = int(data.split(b" ", 2)[1])
    return status, data.split(b"\r\n\r\n", 1)[1]


def _length(data: bytes) -> int:
    for line in data.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":", 1)[1])
    return 0


def _body_for(length: str) -> bytes:
    """A valid JSON body of exactly int(length) bytes where Python's int() reads the header (non-ASCII digits):
    only the header's form is wrong, so a server that accepts those digits would answer 200."""
    try:
        n = int(length)
    except ValueError:
        return b'{"comment": "x"}'
    return b"{}" + b" " * (n - 2) if 2 <= n <= 100 else b'{"comment": "x"}'


def post_head(running, path: str, length: str) -> str:
    host = f"{running.server.server_name}:{running.server.server_port}"
    return (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n"
    )


def assert_bad_request(status: int, body: bytes, *, not_echoed: str | None = None) -> None:
    assert status == 400, body[:300]
    error = json.loads(body)["error"]
    assert "\n" not in error and "Traceback" not in error
    if not_echoed:
        assert not_echoed not in body.decode("utf-8", "replace")


@pytest.mark.parametrize("length", CONTENT_LENGTHS)
def test_content_length_that_is_no_ascii_byte_count(running, lineage, length):
    before = open_archive_state(running)
    status, body = raw_request(running, post_head(running, f"/api/candidate/{lineage['good']}/approve", length), _body_for(length))
    assert_bad_request(status, body)
    assert open_archive_state(running) == before


@pytest.mark.parametrize("body", DEEP + BAD_BODIES, ids=lambda b: repr(b[:12]))
def test_deep_or_broken_json_body(running, lineage, body):
    before = open_archive_state(running)
    status, reply = raw_request(running, post_head(running, f"/api/candidate/{lineage['good']}/approve", str(len(body))), body)
    assert_bad_request(status, reply)
    assert open_archive_state(running) == before


@pytest.mark.parametrize("short", [0, 1, 15])
def test_body_shorter_than_its_content_length(running, lineage, short):
    body = b'{"comment": "x"}'[:short]
    status, reply = raw_request(running, post_head(running, f"/api/candidate/{lineage['good']}/approve", "16"), body, close_write=True)
    assert_bad_request(status, reply)


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("page", ["/api/overview", "/api/graph", "/api/pareto", "/api/candidate/{good}"])
def test_unknown_split_is_refused_without_echo(running, lineage, split, page):
    from urllib.parse import quote

    host = f"{running.server.server_name}:{running.server.server_port}"
    path = page.format(**lineage) + "?split=" + quote(split)
    status, body = raw_request(running, f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
    assert_bad_request(status, body, not_echoed="<script>" if "<" in split else None)
    assert b"split" in body


BAD_IDS = ["zzzz", "12", "%ff", "..", "ffffffff", "a" * 3000, "%3Cscript%3E", "f" * 41, "%00"]


@pytest.mark.parametrize("ref", BAD_IDS)
@pytest.mark.parametrize("page", ["/api/candidate/{}", "/api/compare/{}/{}", "/api/candidate/{}/approve"])
def test_bad_candidate_ids(running, lineage, ref, page):
    before = open_archive_state(running)
    path = page.format(ref, ref)
    if page.endswith("approve"):
        status, body = raw_request(running, post_head(running, path, "2"), b"{}")
    else:
        host = f"{running.server.server_name}:{running.server.server_port}"
        status, body = raw_request(running, f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
    assert_bad_request(status, body, not_echoed="<script>")
    assert open_archive_state(running) == before


def open_archive_state(running) -> tuple:
    with open_archive(running.server.state.workspace.root) as archive:
        return archive.notes.head(), tuple(sorted(archive.refs.candidate_ids()))


CASES = len(CONTENT_LENGTHS) + len(DEEP) + len(BAD_BODIES) + 3 + len(SPLITS) * 4 + len(BAD_IDS) * 3
