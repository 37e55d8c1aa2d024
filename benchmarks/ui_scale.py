"""The page at scale: each endpoint's time, and the page load until the graph is drawn, for N candidates.

    python benchmarks/ui_scale.py --n 10000 [--json]

The archive is the one `tests/ui/screens.py` builds (a tiny-zoo workspace; five sessions of
CMA-ES generations over three sources, ~4% failed, ~2% invalid, a few reviews, one session
paying an LLM). Each endpoint is timed cold (the first request after the archive changed: the
page's memo is empty) and warm (median of 5). The page load is Chromium's (Debian's
/usr/bin/chromium through Playwright) from `goto` until the lineage graph, the Pareto plot
and the spend plot are drawn. Prints a table; the machine's load average goes with it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents.ui.server import build_server  # noqa: E402
from agents.workspace import load_workspace  # noqa: E402
from tests.ui.screens import build  # noqa: E402

ENDPOINTS = ("/api/version", "/api/overview", "/api/graph", "/api/pareto", "/api/spend")


def get(url: str) -> float:
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=600) as res:
        res.read()
    return time.perf_counter() - started


def page_load(url: str) -> float | None:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--headless=new", "--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(600_000)
        started = time.perf_counter()
        page.goto(url)
        page.wait_for_selector("#graph[data-count]")
        page.wait_for_selector("#pareto[data-front]")
        page.wait_for_selector("#spend-plot[data-sessions]")
        took = time.perf_counter() - started
        browser.close()
    return took


def measure(n: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="clade-ui-scale-") as tmp:
        started = time.perf_counter()
        ids = build(Path(tmp) / "ws", n)
        built = time.perf_counter() - started
        server = build_server(load_workspace(Path(tmp) / "ws"), port=0, who="bench")
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            rows = {
                path: {
                    "cold_s": get(server.url.rstrip("/") + path),
                    "warm_s": statistics.median(get(server.url.rstrip("/") + path) for _ in range(5)),
                }
                for path in ENDPOINTS
            }
            rows["/api/candidate/ID"] = {"cold_s": get(server.url + f"api/candidate/{ids['first']}"), "warm_s": None}
            rows["/api/compare/A/B"] = {"cold_s": get(server.url + f"api/compare/sorter/{ids['first']}"), "warm_s": None}
            load = page_load(server.url)
        finally:
            server.shutdown()
            server.close()
    return {"n": n, "build_s": built, "endpoints": rows, "page_load_s": load, "loadavg": os.getloadavg()}


def table(result: dict) -> str:
    f = lambda v: "-" if v is None else f"{v * 1000:.0f} ms" if v < 1 else f"{v:.2f} s"
    lines = [
        f"{result['n']} candidates (archive built in {result['build_s']:.0f} s); load average {' '.join(f'{x:.1f}' for x in result['loadavg'])}",
        "| request | first for a version | again (median of 5) |",
        "|---|---|---|",
    ]
    lines += [f"| `GET {path}` | {f(r['cold_s'])} | {f(r['warm_s'])} |" for path, r in result["endpoints"].items()]
    lines.append(f"| page load until graph, Pareto and spend plots are drawn (Chromium) | {f(result['page_load_s'])} | |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = measure(args.n)
    print(json.dumps(result) if args.json else table(result))


if __name__ == "__main__":
    main()
