"""Search efficiency on a zoo workspace: evolution (CMA-ES), random search, gradient, and any LLM planner, at equal candidate budgets.

    OMP_NUM_THREADS=1 nice python benchmarks/search_efficiency.py [WORKSPACE] [--seeds 3] [--budget 100]
        [--method M] [--layer-groups G] [--population P] [--sigma S] [--space parameters|paths|both]
        [--llm-model MODEL [--llm-base URL] [--llm-key-env VAR] [--llm-prices IN,OUT] [--llm-strategies llm,hybrid] [--reflect]]
        [--strategies evolution,random,gradient] [--gradient-lr LR] [--gradient-steps K] [--gradient-batch B] [--gradient-ends shared|separate]
        [--slots 2] [--json]

Each strategy runs in-process as a session drives it (search_drive.py: a real archive, the
session's own context with parents, lessons and budget, `--slots` proposals at a time) but
without the sandbox: merges through the merge engine's ResidentMerger, scored with
tools.evaluate on the `search` split. At each checkpoint (10, 25, 50, 100 candidates, and the
budget) the best candidate so far *on the search split* is scored on the held-out `test`
split; the table gives that held-out fitness averaged over seeds, and candidates per minute
(proposing, LLM calls included, + merging + search-split scoring; test scoring excluded).

With `--llm-model` (any litellm model string; `--llm-base` for an OpenAI-compatible server such
as vLLM, Ollama or llama.cpp; the key from the environment variable `--llm-key-env`), the `llm`
and `hybrid` strategies run too, with the same budget and seeds, and their LLM tokens and
dollars are listed. Every claim the table makes that one strategy beats another comes with a
95% bootstrap interval over the held-out examples (paired: the same resampled examples for
both, averaged over seeds; tools/evaluate/bootstrap.py).

WORKSPACE (default examples/tiny-zoo; `--workspace` says the same) is any workspace whose
clade.yaml names a `base` and its experts as `sources`, e.g. examples/composite-zoo: the
uniform baselines merge every source, and after the table each baseline's and each strategy's
final best candidate is listed task by task (held-out fitness metric of each task).

Uniform baselines (held-out): task arithmetic weight 1 at lambda 1.0 and 0.8 (the zoo README's
demo recipe), TIES density 0.5 weight 1 (normalize false, as in the zoo README), linear
average, and the best source. Method, layer groups, population, sigma and space default to
`planner.evolution`'s defaults; the gradient strategy's lr, steps per candidate and batch size
`planner.gradient`'s (its optimisation runs in this process, as in a session's planner). Targets: evolution reaches 95% of its 100-candidate best within
50 candidates and beats random search at every budget.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
CHECKPOINTS = (10, 25, 50, 100)
EXPERTS: tuple[str, ...] = ()  # the workspace's source names, set by measure()
REFERENCE = "task_arithmetic w=1 lambda=0.8"  # the hand-tuned uniform merge every strategy is compared with

from search_drive import Scorer, drive, source_recipe


def checkpoints(scored: list, scorer: Scorer, points) -> dict[int, dict]:
    """Held-out fitness (and the recipe) of the best-on-search candidate among the first k, for each k."""
    out = {}
    for k in points:
        ok = [item for item in scored[:k] if item[0] != float("-inf")]
        best = max(ok, key=lambda item: item[0], default=None)  # none: every one of the first k was invalid or a duplicate
        out[k] = {"heldout": None, "recipe": None} if best is None else {"heldout": scorer.fitness(best[1], "test"), "recipe": best[1]}
    return out


def baseline_recipes() -> dict[str, dict]:
    def models(**params):
        return [{"model": n, "parameters": dict(params)} for n in EXPERTS]

    return {
        "task_arithmetic w=1 lambda=1.0": {"merge_method": "task_arithmetic", "base_model": "base", "models": models(weight=1.0)},
        REFERENCE: {"merge_method": "task_arithmetic", "base_model": "base", "models": models(weight=1.0), "parameters": {"lambda": 0.8}},
        "ties density=0.5 w=1": {
            "merge_method": "ties",
            "base_model": "base",
            "models": models(weight=1.0, density=0.5),
            "parameters": {"normalize": False},
        },
        "linear average": {"merge_method": "linear", "models": models(weight=1.0)},
    }


def baselines(scorer: Scorer) -> dict[str, dict]:
    rows = {name: {"heldout": scorer.fitness(r, "test"), "recipe": r} for name, r in baseline_recipes().items()}
    sources = {n: scorer.fitness(source_recipe(n), "test") for n in ("base", *EXPERTS)}
    best = max(sources, key=sources.get)
    rows[f"best source ({best})"] = {"heldout": sources[best], "recipe": source_recipe(best)}
    return rows


def planner(args, seed: int):
    from agents.llm.config import LLMConfig
    from agents.planner_config import PlannerConfig

    evolution = {
        "method": args.method,
        "layer_groups": args.layer_groups,
        "population": args.population,
        "sigma": args.sigma,
        "space": args.space,
    }
    prices = dict(zip(("input_per_mtok", "output_per_mtok"), map(float, args.llm_prices.split(",")))) if args.llm_prices else {}
    llm = (
        LLMConfig(model=args.llm_model, api_base=args.llm_base, api_key_env=args.llm_key_env, timeout_s=args.llm_timeout, **prices)
        if args.llm_model
        else None
    )
    gradient = gradient_settings(args)
    return PlannerConfig(
        seed=seed, evolution=evolution, gradient=gradient, llm=llm, hybrid_generations=args.hybrid_generations, reflect=args.reflect
    )


GRADIENT_FLAGS = {
    "lr": "--gradient-lr",
    "steps_per_candidate": "--gradient-steps",
    "batch_size": "--gradient-batch",
    "ends": "--gradient-ends",
}


def gradient_settings(args) -> dict:
    """planner.gradient's fields set by the --gradient-* flags."""
    return {field: getattr(args, flag.removeprefix("--").replace("-", "_")) for field, flag in GRADIENT_FLAGS.items()}


def check_gradient_flags(parser, args) -> None:
    """The --gradient-* values as planner.gradient takes them: a bad one is argparse's one-line error (exit 2)
    naming the flag, before any search starts."""
    from pydantic import ValidationError

    from agents.gradient.config import GradientConfig

    try:
        GradientConfig(**gradient_settings(args))
    except ValidationError as exc:
        error = exc.errors()[0]
        flag = GRADIENT_FLAGS.get(error["loc"][0] if error["loc"] else "", "/".join(GRADIENT_FLAGS.values()))
        parser.error(f"{flag} {getattr(args, flag.removeprefix('--').replace('-', '_'), '')}: {error['msg']}")


def measure(args) -> dict:
    from agents.strategies.registry import make_strategy
    from agents.workspace import load_workspace

    global EXPERTS
    workspace = load_workspace(args.workspace)
    EXPERTS = tuple(s.name for s in workspace.config.sources)
    scorer = Scorer(workspace)
    points = sorted({k for k in CHECKPOINTS if k <= args.budget} | {args.budget})
    results = {}
    for name in strategies(args):
        runs = []
        for seed in range(args.seeds):
            config = planner(args, seed)
            workspace.config.planner = config  # what the session's selection and lessons read
            model = llm_model(config) if name in ("llm", "hybrid") else None
            run = drive(
                make_strategy(name, config, workspace),
                workspace,
                scorer,
                budget=args.budget,
                slots=args.slots,
                seed=seed,
                model=model,
                reflect=args.reflect,
            )
            runs.append(
                {
                    "seed": seed,
                    "checkpoints": checkpoints(run.scored, scorer, points),
                    "per_min": 60 * len(run.scored) / run.seconds,
                    "tokens": run.tokens,
                    "dollars": run.dollars,
                }
            )
            print(
                f"# {name} seed {seed}: {json.dumps({k: v['heldout'] for k, v in runs[-1]['checkpoints'].items()})} "
                f"{runs[-1]['per_min']:.1f}/min",
                file=sys.stderr,
            )
        results[name] = runs
    report = {
        "points": points,
        "strategies": results,
        "baselines": baselines(scorer),
        "settings": vars(args) | {"workspace": str(args.workspace)},
    }
    report["comparisons"] = comparisons(report, scorer, workspace)
    report["per_task"] = per_task(report, scorer)
    report["materialised_merges"] = scorer.builds  # space both: merges built into the cache (once per distinct merge)
    return report


def strategies(args) -> list[str]:
    names = [s for s in args.strategies.split(",") if s]
    return names + ([s for s in args.llm_strategies.split(",") if s] if args.llm_model else [])


def llm_model(config):
    from agents.llm.client import make_model

    return make_model(config.llm, os.environ)


def comparisons(report: dict, scorer: Scorer, workspace) -> list[dict]:
    """Each strategy against evolution and against the reference uniform merge, at every checkpoint:
    the mean over seeds of the held-out difference, with its paired 95% interval over examples."""
    from agents.strategies.fitness_tasks import task_weights
    from tools.evaluate.bootstrap import mean_difference_interval

    weights, out = task_weights(workspace), []
    reference = scorer.result(report["baselines"][REFERENCE]["recipe"], "test").per_example
    for name, runs in report["strategies"].items():
        others = [("evolution", report["strategies"].get("evolution"))] if name != "evolution" else []
        for k in report["points"]:
            if any(r["checkpoints"][k]["recipe"] is None for r in runs) or any(
                t["checkpoints"][k]["recipe"] is None for _, their in others if their for t in their
            ):
                continue  # a seed with nothing valid by then: no comparison to make
            mine = [scorer.result(r["checkpoints"][k]["recipe"], "test").per_example for r in runs]
            pairs = {REFERENCE: [(m, reference) for m in mine]}
            for other, their in others:
                if their is not None:
                    pairs[other] = [(m, scorer.result(t["checkpoints"][k]["recipe"], "test").per_example) for m, t in zip(mine, their)]
            for against, paired in pairs.items():
                found = mean_difference_interval(paired, weights)
                out.append({"strategy": name, "against": against, "at": k, **found.to_json()})
    return out


def table(report: dict) -> str:
    points = report["points"]
    lines = [f"{'strategy':<34}" + "".join(f"{'@' + str(k):>9}" for k in points) + f"{'cand/min':>10}", "-" * (34 + 9 * len(points) + 10)]
    for name, runs in report["strategies"].items():
        means = [_mean([r["checkpoints"][k]["heldout"] for r in runs]) for k in points]
        rate = statistics.mean(r["per_min"] for r in runs)
        lines.append(
            f"{name + f' ({len(runs)} seeds)':<34}"
            + "".join(f"{m:>9.4f}" if m is not None else f"{'-':>9}" for m in means)
            + f"{rate:>10.1f}"
        )
    for name, row in report["baselines"].items():
        lines.append(f"{name:<34}" + f"{row['heldout']:>9.4f}" * len(points))
    return "\n".join(lines + _spend(report) + _intervals(report) + _targets(report) + report.get("per_task", []))


def per_task(report: dict, scorer: Scorer) -> list[str]:
    """Held-out score of each task (its fitness metric) for every baseline and each strategy's best at the budget (seed 0)."""
    rows = [(name, row["recipe"]) for name, row in report["baselines"].items()]
    last = report["points"][-1]
    rows += [
        (f"{name} @{last} seed 0", runs[0]["checkpoints"][last]["recipe"])
        for name, runs in report["strategies"].items()
        if runs[0]["checkpoints"][last]["recipe"] is not None
    ]
    lines = []
    for name, recipe in rows:
        result = scorer.result(recipe, "test")
        cells = "  ".join(f"{task} {scores.value():.3f}" for task, scores in result.per_example.items())
        lines.append(f"  {name:<40} {cells}")
    return ["held-out per task (each task's fitness metric):"] + lines if lines else []


def _mean(values: list) -> float | None:
    """The mean over seeds; None when a seed found nothing valid (the table shows "-")."""
    return None if any(v is None for v in values) else statistics.mean(values)


def _spend(report: dict) -> list[str]:
    return [
        f"{name}: {sum(r['tokens'] for r in runs):,} LLM tokens, ${sum(r['dollars'] for r in runs):.4f} over {len(runs)} seed(s)"
        for name, runs in report["strategies"].items()
        if any(r["tokens"] for r in runs)
    ]


def _intervals(report: dict) -> list[str]:
    lines = ["held-out differences (mean over seeds; 95% CI, paired bootstrap over examples):"]
    for c in report["comparisons"]:
        verdict = "better" if c["low"] > 0 else "worse" if c["high"] < 0 else "not distinguishable"
        lines.append(f"  {c['strategy']} - {c['against']} @{c['at']}: {c['estimate']:+.4f} ({c['low']:+.4f} to {c['high']:+.4f}) {verdict}")
    return lines


def _targets(report: dict) -> list[str]:
    points, runs = report["points"], report["strategies"]
    if "evolution" not in runs or "random" not in runs:
        return []
    mean = {n: {k: _mean([r["checkpoints"][k]["heldout"] for r in runs[n]]) for k in points} for n in ("evolution", "random")}
    if any(v is None for m in mean.values() for v in m.values()):
        return []
    lines = []
    if 50 in points and 100 in points:
        lines.append(f"evolution @50 / @100 = {mean['evolution'][50] / mean['evolution'][100]:.4f} (target >= 0.95)")
    beats = all(mean["evolution"][k] > mean["random"][k] for k in points)
    lines.append(f"evolution's mean beats random's at every budget: {beats} (see the intervals above for how sure)")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "workspace", type=Path, nargs="?", default=ROOT / "examples" / "tiny-zoo", help="the zoo workspace (default examples/tiny-zoo)"
    )
    parser.add_argument("--workspace", dest="workspace_option", type=Path, help="the same as WORKSPACE")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--budget", type=int, default=100)
    parser.add_argument("--slots", type=int, default=2, help="proposals asked for at a time, as a session with this many slots")
    parser.add_argument(
        "--strategies", default="evolution,random", help="comma-separated strategies without an LLM (evolution, random, gradient)"
    )
    from agents.evolution.config import EvolutionConfig

    defaults = EvolutionConfig()
    parser.add_argument("--method", default=defaults.method)
    parser.add_argument("--layer-groups", type=int, default=defaults.layer_groups)
    parser.add_argument("--population", type=int, default=defaults.population)
    parser.add_argument("--sigma", type=float, default=defaults.sigma)
    parser.add_argument("--space", default=defaults.space, choices=["parameters", "paths", "both"])
    parser.add_argument("--hybrid-generations", type=int, default=2)
    from agents.gradient.config import GradientConfig

    gradient = GradientConfig()
    parser.add_argument("--gradient-lr", type=float, default=gradient.lr, help="gradient: Adam's learning rate")
    parser.add_argument("--gradient-steps", type=int, default=gradient.steps_per_candidate, help="gradient: steps per candidate")
    parser.add_argument("--gradient-batch", type=int, default=gradient.batch_size, help="gradient: examples per task per step")
    parser.add_argument(
        "--gradient-ends",
        default=gradient.ends,
        choices=("shared", "separate"),
        help="gradient: shared | separate coefficients for embeddings and head",
    )
    parser.add_argument("--llm-model", help="litellm model string, e.g. openai/gpt-4o-mini, or openai/<name> with --llm-base")
    parser.add_argument("--llm-base", help="an OpenAI-compatible endpoint, e.g. http://localhost:8000/v1")
    parser.add_argument("--llm-key-env", help="environment variable holding the API key (none: a local server)")
    parser.add_argument("--llm-timeout", type=float, default=120.0)
    parser.add_argument("--llm-prices", metavar="IN,OUT", help="dollars per million prompt and completion tokens (default: litellm's list)")
    parser.add_argument("--llm-strategies", default="llm,hybrid", help="comma-separated strategies that use --llm-model")
    parser.add_argument("--reflect", action="store_true", help="lessons written by the LLM (one more request per candidate)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    check_gradient_flags(parser, args)
    args.workspace = args.workspace_option or args.workspace
    del args.workspace_option
    import torch

    torch.set_num_threads(1)
    report = measure(args)
    print(json.dumps(report, indent=1) if args.json else table(report))
    if args.space == "both" and not args.json:
        print(f"merged candidates materialised into the cache: {report['materialised_merges']} (one per run's phase-2 merge)")


if __name__ == "__main__":
    main()
