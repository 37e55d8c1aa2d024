"""The composite zoo's table: sources, the hand recipe, and each search at several budgets, on the composite task.

    OMP_NUM_THREADS=1 nice python benchmarks/composite_table.py [WORKSPACE] [--task kel_add]
        [--skills adder=add,reader=read] [--seeds 3] [--budgets 25,50,100,200]
        [--strategies random,evolution,evolution:paths,evolution:both,gradient] [--json] [--out FILE.json]
    python benchmarks/composite_table.py --combine A.json B.json ...   # one table from several --out reports

WORKSPACE (default examples/composite-zoo) is a workspace with a `base`, experts as `sources`
and a composite task (`--task`) that needs the experts' skills together; `--skills` names each
expert's own task. Each strategy (`NAME[:SPACE]`: evolution or random in that
`planner.evolution.space`; every other setting is the workspace's clade.yaml `planner:`) runs
in-process as a session drives it (search_drive.py), once per seed, for the largest budget. At
each budget the best candidate so far *by search-split fitness* (the session's own objective, the
clade.yaml task weights; nothing picks by the composite task) is scored on the held-out `test`
split. The hand recipe is hand_grid.py's: the best of its 34 uniform recipes on the search split,
by the composite task's score (the most favourable choice for it).

The table gives, per strategy and budget, the held-out composite score (mean over seeds, with
its 95% interval: paired bootstrap over examples, averaged over seeds, tools/evaluate/bootstrap.py),
the difference from the hand recipe on the composite task with its interval, the range over
seeds (the intervals cover the noise of the examples only, not of the seeds), and each expert's
own task. Then issue 15's targets, for every strategy at the largest budget (no strategy is
picked by its held-out score): the best source's composite score at most half of the search's,
the search at least 10 points above the hand recipe with its interval clear of the hand
recipe's, and no expert's own task more than 5 points below that expert's.

A strategy whose runs end before the budget (gradient stops after `planner.gradient.max_steps`)
is reported at a larger budget with its best of all it proposed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import hand_grid
from search_drive import Scorer, drive, source_recipe

DEFAULT_STRATEGIES = "random,evolution,evolution:paths,evolution:both,gradient"


def planner_for(workspace, strategy: str, seed: int):
    """The workspace's planner configuration with this seed, and the space a `NAME:SPACE` strategy names."""
    name, _, space = strategy.partition(":")
    config = workspace.config.planner
    update = {"seed": seed}
    if space:
        update["evolution"] = config.evolution.model_copy(update={"space": space})
    return name, config.model_copy(update=update)


def run_strategy(workspace, scorer: Scorer, strategy: str, seeds: int, budgets: list[int]) -> list[dict]:
    from agents.strategies.registry import make_strategy

    runs = []
    for seed in range(seeds):
        name, config = planner_for(workspace, strategy, seed)
        workspace.config.planner = config  # what the session's selection and lessons read
        started, points, candidates = time.perf_counter(), {}, 0
        # `both` splits the budget between its phases, so each budget is a run of its own; the
        # other strategies do not look at the budget, so one run's prefixes are their budgets
        separate = config.evolution.space == "both" and name in ("evolution", "random")
        for k in budgets if separate else [max(budgets)]:
            run = drive(make_strategy(name, config, workspace), workspace, scorer, budget=k, slots=2, seed=seed)
            candidates += len(run.scored)
            for point in [k] if separate else budgets:
                ok = [item for item in run.scored[:point] if item[0] != float("-inf")]
                best = max(ok, key=lambda item: item[0], default=None)
                points[point] = None if best is None else {"search": best[0], "recipe": best[1]}
        seconds = time.perf_counter() - started
        runs.append({"seed": seed, "points": points, "candidates": candidates, "seconds": seconds})
        shown = {
            k: None if v is None else round(scorer.result(v["recipe"], "test").per_example[TASK].value(), 3) for k, v in points.items()
        }
        print(f"# {strategy} seed {seed}: held-out {TASK} {shown}, {candidates} candidates in {seconds:.0f} s", file=sys.stderr)
    return runs


TASK = "kel_add"


def summarise(scorer: Scorer, runs: list[dict], hand: dict, skills: dict[str, str], budgets: list[int]) -> dict:
    from tools.evaluate.bootstrap import mean_difference_interval

    out = {}
    for k in budgets:
        if any(r["points"][k] is None for r in runs):
            out[k] = None
            continue
        results = [scorer.result(r["points"][k]["recipe"], "test") for r in runs]
        hand_scores = scorer.result(hand["recipe"], "test").per_example
        row = {
            "fitness": statistics.mean(r.fitness for r in results),
            TASK: mean_difference_interval([({TASK: r.per_example[TASK]}, None) for r in results], {TASK: 1.0}).to_json(),
            "vs_hand": mean_difference_interval(
                [({TASK: r.per_example[TASK]}, {TASK: hand_scores[TASK]}) for r in results], {TASK: 1.0}
            ).to_json(),
            "skills": {task: statistics.mean(r.per_example[task].value() for r in results) for task in skills.values()},
            "seeds": [r.per_example[TASK].value() for r in results],
        }
        out[k] = row
    return out


def checked(args, workspace, task_names: list[str]) -> tuple[dict[str, str], list[int], list[str]]:
    """--skills, --budgets and --strategies, checked before any search runs (exit 2, one line)."""
    from agents.evolution.config import EvolutionConfig
    from agents.strategies.registry import MERGE_STRATEGIES

    where = args.workspace / "clade.yaml"
    experts = [s.name for s in workspace.config.sources]
    if args.task not in task_names:
        fail(f"--task {args.task}: not a task of {where} ({', '.join(task_names)})")
    skills = {}
    for item in filter(None, args.skills.split(",")):
        expert, sep, task = item.partition("=")
        if not sep or expert not in experts or task not in task_names:
            fail(f"--skills {item}: want EXPERT=TASK with EXPERT one of {', '.join(experts)} and TASK one of {', '.join(task_names)}")
        skills[expert] = task
    try:
        budgets = sorted({int(b) for b in args.budgets.split(",")})
    except ValueError:
        fail(f"--budgets {args.budgets}: want positive integers separated by commas")
    if not budgets or budgets[0] <= 0:
        fail(f"--budgets {args.budgets}: want positive integers separated by commas")
    spaces = EvolutionConfig.model_fields["space"].annotation.__args__
    strategies = [s for s in args.strategies.split(",") if s]
    for strategy in strategies:
        name, _, space = strategy.partition(":")
        if (
            name not in MERGE_STRATEGIES
            or name in ("llm", "hybrid")
            or (space and (space not in spaces or name not in ("evolution", "random")))
        ):
            fail(
                f"--strategies {strategy}: want NAME[:SPACE], NAME one of evolution, random, gradient, SPACE (evolution, random) one of {', '.join(spaces)}"
            )
    return skills, budgets, strategies


def fail(message: str):
    print(f"composite_table: {message}", file=sys.stderr)
    raise SystemExit(2)


def measure(args) -> dict:
    from agents.workspace import load_workspace

    global TASK
    TASK = args.task
    workspace = load_workspace(args.workspace)
    experts = [s.name for s in workspace.config.sources]
    scorer = Scorer(workspace)
    skills, budgets, chosen = checked(args, workspace, [t.name for t in scorer.suite.tasks])
    sources = {}
    for n in ("base", *experts):
        result = scorer.result(source_recipe(n), "test")
        sources[n] = {"fitness": result.fitness, "tasks": {t: s.value() for t, s in result.per_example.items()}}
    hand_report = {label: {"search": scorer.result(r, "search"), "recipe": r} for label, r in hand_grid.grid("base", experts).items()}
    hand_label = max(
        hand_report, key=lambda label: (hand_report[label]["search"].per_example[TASK].value(), hand_report[label]["search"].fitness)
    )
    hand = {"label": hand_label, "recipe": hand_report[hand_label]["recipe"]}
    hand_test = scorer.result(hand["recipe"], "test")
    from tools.evaluate.bootstrap import fitness_interval

    hand |= {
        "fitness": hand_test.fitness,
        "tasks": {t: s.value() for t, s in hand_test.per_example.items()},
        TASK: fitness_interval({TASK: hand_test.per_example[TASK]}, {TASK: 1.0}).to_json(),
    }
    strategies = {}
    for strategy in chosen:
        runs = run_strategy(workspace, scorer, strategy, args.seeds, budgets)
        strategies[strategy] = {
            "runs": [
                {k: v for k, v in r.items() if k != "points"} | {"recipes": {b: p and p["recipe"] for b, p in r["points"].items()}}
                for r in runs
            ],
            "per_min": statistics.mean(60 * r["candidates"] / r["seconds"] for r in runs),
            "budgets": summarise(scorer, runs, hand, skills, budgets),
        }
    return {
        "workspace": str(args.workspace),
        "task": TASK,
        "skills": skills,
        "seeds": args.seeds,
        "budgets": budgets,
        "grid_size": len(hand_report),
        "sources": sources,
        "hand": hand,
        "strategies": strategies,
    }


def table(report: dict) -> str:
    task, skills, budgets = report["task"], report["skills"], report["budgets"]
    lines = [f"held-out (test split), {report['seeds']} seed(s); composite task `{task}`", ""]
    lines.append(f"{'model':<36}{'fitness':>9}" + "".join(f"{t:>9}" for t in report["hand"]["tasks"]))
    for name, row in report["sources"].items():
        lines.append(f"{'source ' + name:<36}{row['fitness']:>9.3f}" + "".join(f"{v:>9.3f}" for v in row["tasks"].values()))
    hand = report["hand"]
    lines.append(f"{'hand: ' + hand['label']:<36}{hand['fitness']:>9.3f}" + "".join(f"{v:>9.3f}" for v in hand["tasks"].values()))
    lines.append(
        f"  (best of {report['grid_size']} uniform recipes by search-split {task}; held-out {task} "
        f"{hand[task]['estimate']:.3f}, 95% CI {hand[task]['low']:.3f}-{hand[task]['high']:.3f})"
    )
    lines += [
        "",
        f"{'strategy':<22}{'@':>5}{task:>8}{'95% CI':>15}{'vs hand':>9}{'95% CI':>17}"
        + "".join(f"{t:>8}" for t in skills.values())
        + f"{'fitness':>9}",
    ]
    for name, row in report["strategies"].items():
        for k in budgets:
            cell = row["budgets"].get(k, row["budgets"].get(str(k)))
            label = f"{name}" if k == budgets[0] else ""
            if cell is None:
                lines.append(f"{label:<22}{k:>5}{'-':>8}")
                continue
            c, d = cell[task], cell["vs_hand"]
            lines.append(
                f"{label:<22}{k:>5}{c['estimate']:>8.3f}{c['low']:>8.3f}-{c['high']:.3f}{d['estimate']:>+9.3f}{d['low']:>+9.3f}-{d['high']:+.3f}"
                + "".join(f"{cell['skills'][t]:>8.3f}" for t in skills.values())
                + f"{cell['fitness']:>9.3f}"
                + f"   {min(cell['seeds']):.3f}-{max(cell['seeds']):.3f}"
            )
        lines.append(f"{'':<22}({row['per_min']:.0f} candidates/min)")
    return "\n".join(lines + [""] + targets(report))


def targets(report: dict) -> list[str]:
    """Issue 15's targets for every strategy at the largest budget it reached (none is picked by held-out scores)."""
    task, skills, hand = report["task"], report["skills"], report["hand"]
    name_of, top = max(report["sources"].items(), key=lambda item: item[1]["tasks"][task])
    top_score = top["tasks"][task]
    lines = [
        f"targets at the largest budget (held-out {task}; hand recipe {hand[task]['estimate']:.3f}, 95% CI "
        f"{hand[task]['low']:.3f}-{hand[task]['high']:.3f}; best source {name_of} {top_score:.3f}):"
    ]
    for name, row in report["strategies"].items():
        reached = [(int(k), cell) for k, cell in row["budgets"].items() if cell is not None]
        if not reached:
            lines.append(f"  {name}: no valid candidate")
            continue
        k, cell = max(reached, key=lambda item: item[0])
        score, d = cell[task]["estimate"], cell["vs_hand"]
        checks = {
            "best source <= half": top_score <= score / 2,
            "+10 points over the hand recipe": d["estimate"] >= 0.10,
            "interval clear of the hand recipe's": cell[task]["low"] > hand[task]["high"],
            **{
                f"{expert}'s {t} within 5 points": cell["skills"][t] >= report["sources"][expert]["tasks"][t] - 0.05
                for expert, t in skills.items()
            },
        }
        verdict = "all met" if all(checks.values()) else "missed: " + ", ".join(c for c, ok in checks.items() if not ok)
        lines.append(
            f"  {name} @{k}: {score:.3f} ({cell[task]['low']:.3f}-{cell[task]['high']:.3f}), {d['estimate']:+.3f} over the hand recipe "
            f"({d['low']:+.3f} to {d['high']:+.3f}); " + ", ".join(f"{t} {cell['skills'][t]:.3f}" for t in skills.values()) + f": {verdict}"
        )
    return lines


def combine(paths: list[Path]) -> dict:
    """One report from several --out reports of the same workspace, task and budgets (their strategies side by side)."""
    reports = [json.loads(p.read_text(encoding="utf-8")) for p in paths]
    first = reports[0]
    for path, other in zip(paths[1:], reports[1:]):
        for field in ("workspace", "task", "budgets", "seeds"):
            if other[field] != first[field]:
                fail(f"{path}: its {field} {other[field]} differs from {paths[0]}'s {first[field]}")
    out = dict(first, strategies={})
    for other in reports:
        out["strategies"].update(other["strategies"])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workspace", nargs="?", type=Path, default=ROOT / "examples" / "composite-zoo")
    parser.add_argument("--task", default="kel_add", help="the composite task")
    parser.add_argument("--skills", default="adder=add,reader=read", help="each expert's own task: EXPERT=TASK,...")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--budgets", default="25,50,100,200")
    parser.add_argument("--strategies", default=DEFAULT_STRATEGIES, help="NAME[:SPACE],...")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--out", type=Path, help="also write the report as JSON here")
    parser.add_argument("--combine", type=Path, nargs="+", metavar="REPORT", help="print one table from these --out reports")
    args = parser.parse_args()
    report = combine(args.combine) if args.combine else measure(args)
    if args.out:
        args.out.write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
    print(json.dumps(report, indent=2, default=str) if args.json else table(report))


if __name__ == "__main__":
    main()
