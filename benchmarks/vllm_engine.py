"""The vLLM evaluation engine against Clade's own loop on one merged candidate (a GPU check).

    python benchmarks/vllm_engine.py WORKSPACE [--recipe RECIPE.yaml] [--split search] [--device cuda] [--repeat 3]

Merges the recipe resident (default: an equal-weight linear merge of the workspace's sources),
evaluates it `--repeat` times with Clade's loop and with vLLM (tools/evaluate/vllm_engine.py:
weights pushed through collective_rpc + load_weights), and prints one JSON object: each path's
fitness and seconds per evaluation (the first warms up), whether every example's score agreed
(token for token on generation tasks), and the device. Exit code 1 when they disagree. Where
vLLM is absent it says so in one line and runs Clade's loop only.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch


def main(argv: list[str] | None = None) -> int:
    import argparse
    import json

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workspace")
    parser.add_argument("--recipe", help="a merge recipe (YAML file); default: equal-weight linear over the sources")
    parser.add_argument("--split", default="search")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--repeat", type=int, default=3, help="evaluate this many times with each path (the first warms up)")
    args = parser.parse_args(argv)
    from agents.workspace import load_workspace
    from tools.evaluate.loading import load_tokenizer
    from tools.evaluate.suite import load_suite
    from tools.evaluate.vllm_engine import VllmEngine, evaluate_with_engine
    from tools.merge.resident import ResidentMerger

    workspace = load_workspace(args.workspace)
    models = {name: str(path) for name, path in workspace.model_paths().items()}
    names = [s.name for s in workspace.config.sources]
    recipe = (
        Path(args.recipe)
        if args.recipe
        else {"merge_method": "linear", "models": [{"model": n, "parameters": {"weight": 1 / len(names)}} for n in names]}
    )
    merger = ResidentMerger(models, device=args.device)
    prepared = merger.prepare(recipe)  # planned once for the merge, its tokenizer and its config template
    module = merger.apply(prepared)
    tokenizer, suite = load_tokenizer(merger.tokenizer_dir(prepared)), load_suite(workspace)
    template = prepared.template.path
    engine = VllmEngine.start(template, device=args.device)
    seconds, results = {"clade": [], "vllm": []}, {}
    for name, run in (
        ("clade", lambda: evaluate_with_engine(None, module, tokenizer, suite, split=args.split, device=args.device)),
        ("vllm", lambda: evaluate_with_engine(engine, module, tokenizer, suite, split=args.split, device=args.device)),
    ):
        if name == "vllm" and engine is None:
            continue
        for _ in range(args.repeat):
            start = time.perf_counter()
            results[name] = run()
            seconds[name].append(time.perf_counter() - start)
    report = {name: {"fitness": r.fitness, "seconds": [round(s, 3) for s in seconds[name]]} for name, r in results.items()}
    if "vllm" in results:
        report["same_per_example"] = results["vllm"].per_example == results["clade"].per_example
        report["same_fitness"] = results["vllm"].fitness == results["clade"].fitness
    report["device"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    print(json.dumps(report, indent=2))
    return 0 if report.get("same_per_example", True) else 1


if __name__ == "__main__":
    sys.exit(main())
