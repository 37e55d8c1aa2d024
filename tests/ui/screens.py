"""Screenshots of the page at a given archive size, to look at before changing it (issue 18).

    python -m tests.ui.screens OUT_DIR [--candidates 10 1000]

For each size it builds a tiny-zoo workspace in a temporary directory with an archive of that
many candidates shaped like real searches (sessions of CMA-ES generations over the three
sources, some failed, invalid and duplicate, a few reviewed, LLM spend in one session), then
serves the page and saves PNGs of the overview, a candidate page and a comparison, taken in
headless Chromium (Debian's /usr/bin/chromium through Playwright).
"""

from __future__ import annotations

import argparse
import random
import tempfile
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from agents.budget import BudgetConfig
from agents.init_cmd import copy_example
from agents.session import records
from agents.workspace import load_workspace
from archive import Archive, Candidate, Proposer, ResultEvent, Review, SplitMetrics
from archive.secrets import Redactor

TASKS = ("add", "reverse", "sort")
SOURCES = {"adder": (0.59, 0.99, 0.82), "reverser": (0.45, 1.0, 0.78), "sorter": (0.46, 0.98, 0.96)}
START = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def scores(rng: random.Random, base: tuple[float, ...], spread: float) -> dict[str, float]:
    return {t: min(1.0, max(0.0, b + rng.gauss(0, spread))) for t, b in zip(TASKS, base)}


def metrics(task_scores: dict[str, float]) -> SplitMetrics:
    return SplitMetrics(
        fitness=sum(task_scores.values()) / len(task_scores),
        tasks={t: {"char_accuracy": v, "exact_match": max(0.0, v - 0.3)} for t, v in task_scores.items()},
    )


def recipe(weights: list[float]) -> dict:
    models = [{"model": name, "parameters": {"weight": round(w, 4)}} for name, w in zip(SOURCES, weights)]
    return {"merge_method": "task_arithmetic", "base_model": "base", "models": [{"model": "base"}, *models], "parameters": {"lambda": 0.8}}


def build(root: Path, count: int, seed: int = 0) -> dict[str, str]:
    """A tiny-zoo workspace at `root` whose archive holds `count` candidates (three of them sources)."""
    copy_example("tiny-zoo", root)
    workspace, rng = load_workspace(root), random.Random(seed)
    ids: dict[str, str] = {}
    with Archive.open(root / "archive", create=True, redactor=Redactor()) as archive:
        for k, (name, base) in enumerate(SOURCES.items()):
            ids[name] = archive.record(
                Candidate(kind="source", genotype={"name": name, "path": f"models/{name}"}, created_at=START + timedelta(seconds=k))
            )
            s = scores(rng, base, 0.0)
            archive.attach_result(
                ids[name],
                ResultEvent(
                    status="succeeded", metrics={"search": metrics(s), "test": metrics(scores(rng, base, 0.01))}, cost={"compute_s": 3.0}
                ),
            )
        sessions = max(1, min(5, (count - 3) // 40))
        per = [(count - 3) // sessions + (1 if i < (count - 3) % sessions else 0) for i in range(sessions)]
        for i, n in enumerate(per):
            _session(
                workspace,
                archive,
                rng,
                f"s-2026112{i}-0900-{i:04x}",
                n,
                START + timedelta(hours=2 * i),
                list(ids.values()),
                llm=(i == 1),
                ids=ids,
            )
    return ids


def _session(
    workspace, archive, rng: random.Random, sid: str, n: int, start: datetime, parents: list[str], *, llm: bool, ids: dict
) -> None:
    records.save(
        workspace,
        records.SessionRecord(
            id=sid,
            strategy="hybrid" if llm else "evolution",
            seed=rng.randrange(100),
            backend="local",
            status="finished",
            budget=BudgetConfig(candidates=n, dollars=2.0 if llm else None),
            stop_reason=f"budget reached (candidates: {n} of {n} used)",
            runs=[records.Run(started_at=start, wall_s=n * 2.1, ended=True)],
        ),
    )
    for k in range(n):
        generation, index = divmod(k, 8)
        weights = [max(0.0, 0.8 + rng.gauss(0, 0.25)) for _ in SOURCES]
        proposer = Proposer(
            strategy="hybrid" if llm else "evolution",
            model="openai/gpt-4o-mini" if llm else None,
            session=sid,
            rationale=f"CMA-ES run evolution/parameters, generation {generation}, member {index}",
            params={"run": "evolution/parameters", "generation": generation, "index": index},
        )
        cid = archive.record(
            Candidate(
                kind="merge",
                parents=parents,
                genotype={"recipe": recipe(weights)},
                proposer=proposer,
                created_at=start + timedelta(seconds=2.1 * k),
            )
        )
        ids.setdefault("first", cid)
        _result(archive, rng, cid, k, generation, llm)


def _result(archive, rng: random.Random, cid: str, k: int, generation: int, llm: bool) -> None:
    cost = {"compute_s": 2.5 + rng.random(), "llm_tokens": 900 if llm else 0, "dollars": 0.0004 if llm else 0.0}
    draw = rng.random()
    if draw < 0.04:
        archive.attach_result(cid, ResultEvent(status="failed", reason="worker ran out of memory", cost=cost, logs="MemoryError"))
    elif draw < 0.06:
        archive.attach_result(cid, ResultEvent(status="invalid", reason="weights sum to 0", cost=cost))
    else:
        gain = min(0.05, 0.004 * generation)
        s = scores(rng, (0.55 + gain, 0.99, 0.9 + gain / 2), 0.03)
        archive.attach_result(cid, ResultEvent(status="succeeded", metrics={"search": metrics(s)}, cost=cost))
        if k % 97 == 5:
            archive.attach_review(cid, Review(verdict="approved" if k % 2 else "rejected", comment="checked by hand", who="ana"))


def shoot(root: Path, ids: dict[str, str], out: Path, tag: str) -> list[Path]:
    from playwright.sync_api import sync_playwright

    from agents.ui.server import build_server

    server = build_server(load_workspace(root), port=0, who="screens")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    shots = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--headless=new", "--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(60_000)
            page.goto(server.url)
            page.wait_for_selector("#graph[data-count]")
            page.wait_for_selector("#spend-plot[data-sessions]")
            shots.append(_save(page, out / f"{tag}-page.png"))
            for part in ("overview", "pareto", "graph-box"):
                page.locator(f"#{part}").screenshot(path=str(out / f"{tag}-{part}.png"))
                shots.append(out / f"{tag}-{part}.png")
            page.goto(server.url + f"#/candidate/{ids['first']}")
            page.wait_for_selector(f"#candidate-view[data-id='{ids['first']}']:not([hidden])")
            shots.append(_save(page, out / f"{tag}-candidate.png"))
            page.goto(server.url + f"#/compare/sorter/{ids['first']}")
            page.wait_for_selector("#compare-view:not([hidden]) #cmp-table")
            shots.append(_save(page, out / f"{tag}-compare.png"))
            browser.close()
    finally:
        server.shutdown()
        server.close()
    return shots


def _save(page, path: Path) -> Path:
    page.screenshot(path=str(path), full_page=True)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--candidates", type=int, nargs="+", default=[10, 1000])
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for count in args.candidates:
        with tempfile.TemporaryDirectory(prefix="clade-screens-") as tmp:
            ids = build(Path(tmp) / "ws", count)
            for shot in shoot(Path(tmp) / "ws", ids, args.out, f"{count}"):
                print(shot)


if __name__ == "__main__":
    main()
