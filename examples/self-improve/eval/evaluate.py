"""The judge of the self-improve example (read-only to candidates; not in their tree).

    python eval/evaluate.py --zoo ZOO_DIR --split search|test [--candidates N] [--tasks add ...] [--examples K]

Runs in the candidate's tree, which holds `planner.yaml` (a clade.yaml `planner:` section)
and `prompts/` (copies of Clade's planner templates). It writes a fresh workspace in the
job's temporary directory: the tiny zoo's sources and suite (absolute, read-only paths), the
candidate's planner settings with the judge's budget, seed and no LLM, and sandbox isolation
`none` (this job is already inside the sandbox). Then it runs `clade run --json` there and
reads the inner archive. The score is the search's efficiency:
- split search: `fitness` = the best search-split fitness the inner session found in
  N candidates (inner seed 0);
- split test: `fitness` = the held-out (test split) fitness of the inner session's best
  candidate, from a session with another seed (1000), so the held-out figure is neither the
  data nor the run the search was selected on.
A planner.yaml the inner session refuses, or a session that finds nothing, scores 0.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

JUDGE_OWNS = ("budget", "seed", "llm", "brief", "prompts_dir")
SEEDS = {"search": 0, "test": 1000}


def planner_settings(tree: Path, prompts_supported: bool) -> dict:
    settings = yaml.safe_load((tree / "planner.yaml").read_text(encoding="utf-8")) or {}
    if not isinstance(settings, dict):
        raise SystemExit("planner.yaml: expected a mapping (a clade.yaml planner: section)")
    settings = {k: v for k, v in settings.items() if k not in JUDGE_OWNS}
    if prompts_supported and (tree / "prompts").is_dir():
        settings["prompts_dir"] = str(tree / "prompts")
    return settings


def inner_workspace(zoo: Path, settings: dict, root: Path, args) -> Path:
    config = yaml.safe_load((zoo / "clade.yaml").read_text(encoding="utf-8"))
    config["base"] = str(zoo / config["base"])
    config["sources"] = [{**s, "path": str(zoo / s["path"])} for s in config["sources"]]
    evaluation = config["evaluation"]
    evaluation["tasks"] = [str(zoo / t) for t in evaluation["tasks"] if not args.tasks or Path(t).stem in args.tasks]
    evaluation["weights"] = {k: v for k, v in evaluation["weights"].items() if not args.tasks or k in args.tasks}
    if args.examples:  # a first pass on the first N search records only (the full pass is never reached)
        evaluation["cascade"] = {"examples": args.examples, "threshold": 1e9}
    config.update(
        name="self-improve-inner",
        planner=settings,
        sandbox={"isolation": "none", "cgroups": "off", "jobs_dir": str(root / "jobs"), "limits": {"wall_s": 900}},
    )
    root.mkdir(parents=True)
    (root / "clade.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    return root


def run_inner(workspace: Path, candidates: int, seed: int) -> dict:
    argv = [
        sys.executable,
        "-m",
        "agents.cli",
        "run",
        "--workspace",
        str(workspace),
        "--budget",
        str(candidates),
        "--seed",
        str(seed),
        "--json",
    ]
    proc = subprocess.run(argv, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
    if proc.returncode != 0:
        raise SystemExit(f"the inner search session failed (exit {proc.returncode}); see its output above")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def best_search_fitness(workspace: Path, session: str) -> float:
    from archive.store import Archive

    with Archive.open(workspace / "archive") as archive:
        found = [archive.get(c).fitness("search") for c in archive.session_candidates(session)]
    return max((f for f in found if f is not None), default=0.0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--zoo", type=Path, required=True)
    parser.add_argument("--split", default="search", choices=sorted(SEEDS))
    parser.add_argument("--candidates", type=int, default=6)
    parser.add_argument("--tasks", nargs="*", help="only these tiny-zoo tasks (cheaper runs, e.g. for tests)")
    parser.add_argument("--examples", type=int, help="score search candidates on the first N records per task only")
    args = parser.parse_args()
    from agents.planner_config import PlannerConfig

    settings = planner_settings(Path.cwd(), "prompts_dir" in PlannerConfig.model_fields)
    with tempfile.TemporaryDirectory() as tmp:
        workspace = inner_workspace(args.zoo.resolve(), settings, Path(tmp) / "inner", args)
        summary = run_inner(workspace, args.candidates, SEEDS[args.split])
        best = best_search_fitness(workspace, summary["session"])
    held_out = summary.get("best_test_fitness", summary.get("best_fitness")) or 0.0
    print(
        json.dumps(
            {
                "fitness": best if args.split == "search" else held_out,
                "best_search": best,
                "held_out": held_out,
                "succeeded": summary["succeeded"],
                "candidates": summary["candidates"],
            }
        )
    )


if __name__ == "__main__":
    main()
