"""Slot idle time of a search session with jobs of mixed durations.

    python benchmarks/slot_idle.py [--strategy alternating|evolution] [--extras N] [--slots 4] [--candidates 32] [--unit 1.0] [--json]

A real session (`agents.session.runner.run_session`: the graph, the archive, the executor) on a copy
of the tiny zoo, with a sandbox that stands in for the evaluation by sleeping: half the candidates
take 3 x `unit` seconds, the others `unit`. `--strategy alternating` (the default) is a stand-in
strategy whose every other proposal is heavy; `--strategy evolution` is the real CMA-ES strategy
(agents/evolution, `planner.evolution` defaults: population 8), whose proposals are heavy by the
parity of a hash of their recipe, scored by a smooth function of the recipe's weights; `--extras N`
sets its `planner.evolution.extras` (0: free slots wait for the generation's last members). Busy
time is the sum of the candidates' job durations; idle is the share of slot time with no job, from
the first candidate job's start to the last one's end (the sources' measurement before the first
round is left out); `idle_before_last_start_pct` the same up to the last candidate's start (slots
left idle while there was still work to hand out, without the unavoidable drain at the budget's
end); `refill_median_ms` the median time from a job's end to the next job's start. Synchronous rounds wait for their slowest job; a steady-state loop refills a slot as soon as
it frees. Target: under 5% idle.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents.budget import BudgetConfig
from agents.evolution.strategy import EvolutionStrategy
from agents.init_cmd import copy_example
from agents.session import records
from agents.session.display import PlainDisplay
from agents.session.runner import Session, run_session
from agents.strategy import Context, Proposal
from agents.workspace import load_workspace
from archive.secrets import Redactor
from archive.store import Archive
from sandbox.fake import FakeSandbox
from sandbox.job import Job, Result


class Alternating:
    """Linear recipes with a fresh weight each; odd ones are marked heavy (3x the evaluation cost)."""

    name = "alternating"

    def __init__(self):
        self.made = 0

    def propose(self, ctx: Context) -> list[Proposal]:
        out = []
        for _ in range(ctx.wanted):
            self.made += 1
            weight = round(self.made / 1000, 4)
            recipe = {
                "merge_method": "linear",
                "models": [{"model": "adder", "parameters": {"weight": weight}}, {"model": "sorter", "parameters": {"weight": 1 - weight}}],
            }
            out.append(
                Proposal(
                    kind="merge",
                    parents=[ctx.sources[0].id],
                    genotype={"recipe": recipe},
                    strategy=self.name,
                    params={"heavy": self.made % 2 == 1},
                )
            )
        return out


def alternating_cost(recipe: dict) -> tuple[bool, float]:
    """(heavy, fitness) of an Alternating proposal: odd thousandths of the first weight are heavy."""
    weight = recipe["models"][0]["parameters"]["weight"]
    return round(weight * 1000) % 2 == 1, 0.5 + weight / 10


def evolution_cost(recipe: dict) -> tuple[bool, float]:
    """(heavy, fitness) of a CMA-ES proposal: heavy by the parity of its recipe's hash (about half of
    them), fitness highest where every weight is 0.5 (so CMA-ES has something to climb)."""
    text = json.dumps(recipe, sort_keys=True)
    weights = [m["parameters"]["weight"] for s in recipe.get("slices", []) for m in s["sources"] if "weight" in m.get("parameters", {})]
    return hashlib.sha256(text.encode()).digest()[0] % 2 == 1, 1.0 - sum((w - 0.5) ** 2 for w in weights)


def is_source(recipe: dict) -> bool:
    return "slices" not in recipe and len(recipe.get("models", [])) == 1


def sleeping_sandbox(unit: float, spans: list[tuple[float, float]], cost=alternating_cost) -> FakeSandbox:
    lock = threading.Lock()

    def run(job: Job) -> Result:
        recipe = job.work.recipe
        source = is_source(recipe)
        heavy, score = (False, 0.5) if source else cost(recipe)
        start = time.perf_counter()
        time.sleep(unit * (3 if heavy else 1) if not source else 0.01)
        end = time.perf_counter()
        if not source and job.evaluation.split == "search":  # the held-out run of the best, after the search, is left out
            with lock:
                spans.append((start, end))
        return Result(job_id=job.id, status="ok", fitness=score, metrics={"fitness": score, "tasks": {"add": {"char_accuracy": score}}})

    return FakeSandbox(run)


def measure(slots: int, candidates: int, unit: float, strategy: str = "alternating", extras: int | None = None) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "ws"
        copy_example("tiny-zoo", root)
        text = (root / "clade.yaml").read_text()
        (root / "clade.yaml").write_text(text.replace("cpu_concurrency: 2 ", f"cpu_concurrency: {slots} "))
        workspace = load_workspace(root)
        spans: list[tuple[float, float]] = []
        record = records.SessionRecord(
            id=records.new_session_id(), strategy=strategy, seed=0, budget=BudgetConfig(candidates=candidates), backend="local"
        )
        if strategy == "evolution":
            planner = workspace.config.planner
            if extras is not None:
                planner = planner.model_copy(update={"evolution": planner.evolution.model_copy(update={"extras": extras})})
            chosen, cost = EvolutionStrategy(planner, workspace), evolution_cost
        else:
            chosen, cost = Alternating(), alternating_cost
        session = Session(
            workspace=workspace,
            record=record,
            strategy=chosen,
            backend=sleeping_sandbox(unit, spans, cost),
            display=PlainDisplay(io.StringIO()),
        )
        with Archive.open(root / "archive", create=True, redactor=Redactor()) as archive:
            run_session(session, archive)
            mine = [archive.get(c) for c in archive.session_candidates(record.id)]
        extra = sum(1 for c in mine if c.proposer.params.get("extra"))
    first, last, last_start = min(s for s, _ in spans), max(e for _, e in spans), max(s for s, _ in spans)
    wall = last - first
    busy = sum(e - s for s, e in spans)
    refill = sum(max(0.0, min(e, last_start) - s) for s, e in spans)  # busy time while candidates were still to start
    ends = sorted(e for _, e in spans)
    gaps = sorted(s - max(e for e in ends if e <= s) for s, _ in sorted(spans)[slots:] if ends[0] <= s)  # a job's end -> the next start
    return {
        "strategy": strategy if strategy != "evolution" or extras is None else f"evolution (extras {extras})",
        "slots": slots,
        "candidates": len(spans),
        "extras": extra,
        "unit_s": unit,
        "wall_s": round(wall, 3),
        "busy_s": round(busy, 3),
        "ideal_wall_s": round(busy / slots, 3),
        "idle_pct": round(100 * (1 - busy / (slots * wall)), 2),
        "idle_before_last_start_pct": round(100 * (1 - refill / (slots * (last_start - first))), 2),
        "refill_median_ms": round(1000 * gaps[len(gaps) // 2], 1) if gaps else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strategy", choices=("alternating", "evolution"), default="alternating")
    parser.add_argument("--extras", type=int, default=None, help="evolution: planner.evolution.extras (default: the config's)")
    parser.add_argument("--slots", type=int, default=4)
    parser.add_argument("--candidates", type=int, default=32)
    parser.add_argument("--unit", type=float, default=1.0, help="seconds of a light candidate's evaluation (heavy: 3x)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    figures = measure(args.slots, args.candidates, args.unit, args.strategy, args.extras)
    if args.json:
        print(json.dumps(figures))
    else:
        width = max(len(k) for k in figures)
        print("\n".join(f"{k:<{width}}  {v}" for k, v in figures.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
