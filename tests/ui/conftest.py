"""Fixtures for the page's tests: a real workspace and archive in tmp_path, a real server on port 0."""

from __future__ import annotations

import importlib.util
import json
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from agents.llm.scripted import ScriptedModel
from agents.workspace import load_workspace
from archive import Archive, Candidate, Proposer, ResultEvent, SplitMetrics
from archive.secrets import Redactor

CONFIG = "version: 1\nname: ui-test\n"


def recipe(*models: str, weight: float = 0.5) -> dict:
    return {"merge_method": "linear", "models": [{"model": m, "parameters": {"weight": weight}} for m in models], "dtype": "float32"}


def merge(archive: Archive, parents: list[str], weight: float, **fields) -> str:
    proposer = fields.pop("proposer", Proposer(strategy="evolution", session="s1", rationale=f"weight {weight}"))
    return archive.record(
        Candidate(kind="merge", parents=parents, genotype={"recipe": recipe(*parents, weight=weight)}, proposer=proposer, **fields)
    )


def result(archive: Archive, cid: str, fitness: float, *, split: str = "search", dollars: float = 0.0) -> None:
    metrics = {split: SplitMetrics(fitness=fitness, tasks={"add": {"acc": fitness}})}
    archive.attach_result(
        cid,
        ResultEvent(
            status="succeeded",
            metrics=metrics,
            cost={"compute_s": 2.0, "dollars": dollars, "llm_tokens": 100},
            logs=f"evaluated {cid}\nfitness {fitness}",
        ),
    )


@pytest.fixture
def workspace_dir(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "clade.yaml").write_text(CONFIG)
    return root


@pytest.fixture
def lineage(workspace_dir: Path) -> dict[str, str]:
    return make_lineage(workspace_dir)


def make_lineage(workspace_dir: Path) -> dict[str, str]:
    """Two sources, three merges (two succeeded, one failed) and one still proposed; returns name -> id."""
    with Archive.open(workspace_dir / "archive", create=True, redactor=Redactor()) as archive:
        ids = {
            "a": archive.record(Candidate(kind="source", genotype={"name": "adder", "path": "models/adder"})),
            "b": archive.record(Candidate(kind="source", genotype={"name": "sorter", "path": "models/sorter"})),
        }
        result(archive, ids["a"], 0.30)
        ids["good"] = merge(archive, [ids["a"], ids["b"]], 0.5)
        result(archive, ids["good"], 0.60, dollars=0.25)
        ids["failed"] = merge(archive, [ids["a"], ids["b"]], 0.9)
        archive.attach_result(ids["failed"], ResultEvent(status="failed", reason="merge ran out of memory", logs="Traceback: MemoryError"))
        ids["best"] = merge(archive, [ids["good"], ids["b"]], 0.3)
        result(archive, ids["best"], 0.75)
        ids["queued"] = merge(archive, [ids["good"]], 0.1, proposer=Proposer(strategy="human", rationale="try <b>bold</b>"))
    return ids


def open_archive(workspace_dir: Path) -> Archive:
    return Archive.open(workspace_dir / "archive", redactor=Redactor())


class Running:
    """A server from build_server, serving in a thread; `get`/`post` speak JSON to it."""

    def __init__(self, server):
        self.server, self.url = server, server.url
        self.thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def request(
        self, method: str, path: str, body: object = None, headers: dict | None = None, raw: bytes | None = None
    ) -> tuple[int, dict]:
        data = raw if raw is not None else None if body is None else json.dumps(body).encode()
        hdrs = {"Content-Type": "application/json", **(headers or {})} if data is not None else dict(headers or {})
        req = urllib.request.Request(self.url.rstrip("/") + path, data=data, method=method, headers=hdrs)
        try:
            with urllib.request.urlopen(req, timeout=30) as res:
                return res.status, json.loads(res.read() or b"null")
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            return exc.code, json.loads(raw) if exc.headers.get("Content-Type") == "application/json" else {"text": raw.decode()}

    def get(self, path: str, **kw) -> tuple[int, dict]:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: object, **kw) -> tuple[int, dict]:
        return self.request("POST", path, body, **kw)

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join()
        self.server.close()


def serve(workspace_dir: Path, *, model=None, token: str | None = None, host: str = "127.0.0.1", llm=None) -> Running:
    from agents.ui.server import build_server

    return Running(build_server(load_workspace(workspace_dir), host=host, port=0, token=token, model=model, llm=llm, who="tester"))


@pytest.fixture
def running(workspace_dir: Path, lineage):
    model = ScriptedModel([])
    r = serve(workspace_dir, model=model)
    r.model = model
    yield r
    r.stop()


# ---- the page in real headless Chromium (Debian's /usr/bin/chromium driven by Playwright) ----

CHROMIUM = Path("/usr/bin/chromium")
BROWSER_MARKS = [  # for the modules that drive Chromium: `pytestmark = BROWSER_MARKS`
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is missing (`make test-host` installs Debian's chromium)"),
    pytest.mark.skipif(
        importlib.util.find_spec("playwright") is None, reason="playwright is missing (`pip install -e '.[browser]'`, as `make test` does)"
    ),
]
WAIT_MS = 20_000  # generous: the runner is a shared 2-core machine


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=str(CHROMIUM), args=["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
        )
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    yield page
    context.close()
    assert page.errors == []


def node(page, cid: str):
    return page.locator(f'#graph .node[data-id="{cid}"]')
