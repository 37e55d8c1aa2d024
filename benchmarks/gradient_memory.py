"""Peak memory of the gradient strategy's build (loading the base and the sources into task vectors).

    OMP_NUM_THREADS=1 nice python benchmarks/gradient_memory.py [--hidden 512] [--layers 8] [--sources 1,3] [--json]

Writes a copy of the tiny zoo whose four models (base and three sources, random Llama weights of
`--hidden` width and `--layers` layers, float32) are large enough for the memory to show, then for
each number of sources builds the optimiser (agents/gradient/optimise.py `build`, device cpu) in a
fresh process and reports the process's resident memory before the build, at its peak (ru_maxrss)
and after it, in MiB and in multiples of one model's size. The design target: the sources are read
one at a time and dropped once their task vectors are taken, so the build's peak is about
(2 + sources) x the model plus allocator and loader overhead (it was (1 + 2 x sources) x).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("adder", "reverser", "sorter")


def write_zoo(ws: Path, hidden: int, layers: int) -> float:
    """The tiny zoo at `ws` with larger random models; one model's size in MiB."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    from agents.init_cmd import copy_example

    copy_example("tiny-zoo", ws)
    config = AutoConfig.from_pretrained(ws / "models" / "base")
    config.hidden_size, config.intermediate_size, config.num_hidden_layers = hidden, hidden * 11 // 4, layers
    config.head_dim = hidden // config.num_attention_heads
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config)
    for name in ("base", *SOURCES):
        with torch.no_grad():
            for p in model.parameters():
                p.add_(torch.randn_like(p) * 0.01)
        model.save_pretrained(ws / "models" / name)
    return sum(p.numel() * p.element_size() for p in model.parameters()) / 2**20


def child(ws: Path, sources: int) -> None:
    import resource

    import torch

    from agents.gradient.config import GradientConfig
    from agents.gradient.optimise import build
    from agents.workspace import load_workspace
    from tools.evaluate.api import load_suite

    torch.set_num_threads(1)
    workspace = load_workspace(ws)
    suite = load_suite(workspace)

    def rss() -> float:
        return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

    before = rss()
    optimiser = build(GradientConfig(), 0, list(SOURCES[:sources]), workspace.model_paths(), suite)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"before": before, "peak": peak, "after": rss(), "tensors": len(optimiser.base)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--layers", type=int, default=8)
    parser.add_argument("--sources", default="1,3", help="comma-separated source counts (1 to 3)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child", nargs=2, metavar=("WS", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(Path(args.child[0]), int(args.child[1]))
        return
    counts = [int(n) for n in args.sources.split(",")]
    if any(not 1 <= n <= len(SOURCES) for n in counts):
        parser.error(f"--sources {args.sources}: each count must be 1 to {len(SOURCES)}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        ws = Path(tmp) / "ws"
        size = write_zoo(ws, args.hidden, args.layers)
        env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
        for n in counts:
            out = subprocess.run(
                [sys.executable, __file__, "--child", str(ws), str(n)], env=env, capture_output=True, text=True, check=True
            ).stdout
            got = json.loads(out.strip().splitlines()[-1])
            rows.append({"sources": n, "model_mib": size, **got})
    if args.json:
        print(json.dumps(rows, indent=1))
        return
    print(f"{'sources':>7} {'model MiB':>9} {'peak - before MiB':>17} {'x model':>7} {'target (2+N)x':>13} {'kept after MiB':>14}")
    for r in rows:
        grow = r["peak"] - r["before"]
        print(
            f"{r['sources']:>7} {r['model_mib']:>9.0f} {grow:>17.0f} {grow / r['model_mib']:>7.1f} "
            f"{2 + r['sources']:>13} {r['after'] - r['before']:>14.0f}"
        )


if __name__ == "__main__":
    main()
