"""Merge speed and memory: `clade merge` per method, optionally side by side with mergekit.

Builds a base and two fine-tune-like Llama models (hidden 768, 12 layers, vocab 32000: about
134M parameters each, fp32) into a cache directory, then for each method times `clade merge`
as a whole subprocess (start-up included) and reports its in-process merge time, throughput
(GB of input read per second of process wall time) and peak RSS. `--baseline` also times a
process that only reads the inputs and writes an output of the same size. With
`--mergekit-python PATH` (a separate venv holding mergekit) each recipe also runs through
mergekit in-process (imports not counted), and the outputs are compared tensor by tensor.

    nice python benchmarks/merge_speed.py --mergekit-python /tmp/mk-venv/bin/python
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

RANDOM = {"dare_ties", "dare_linear", "della", "della_linear"}
SIZES = {
    "full": dict(hidden=768, layers=12, vocab=32000, inter=2048, heads=12, kv_heads=12, dtype="float32"),
    "tiny": dict(hidden=64, layers=4, vocab=512, inter=128, heads=4, kv_heads=4, dtype="float32"),
    "mid": dict(hidden=768, layers=2, vocab=32000, inter=2048, heads=12, kv_heads=12, dtype="float32"),
    # TinyLlama-1.1B's shape (1.10B parameters, 2.2 GB per model in bfloat16)
    "1.1b": dict(hidden=2048, layers=22, vocab=32000, inter=5632, heads=32, kv_heads=4, dtype="bfloat16"),
}
RSS_WRAPPER = "import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); print('RSS_KB', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(r.returncode)"
MERGEKIT_RUNNER = """
import json, sys, time, yaml
from mergekit.config import MergeConfiguration
from mergekit.merge import run_merge
from mergekit.options import MergeOptions
config = MergeConfiguration.model_validate(yaml.safe_load(open(sys.argv[1])))
start = time.perf_counter()
run_merge(config, sys.argv[2], options=MergeOptions(quiet=True, random_seed=0, copy_tokenizer=False))
print("MERGE_S", time.perf_counter() - start)
"""


def build_models(cache: Path, size: str) -> dict[str, Path]:
    """Base + two fine-tune-like models (base + 0.002·noise), written tensor by tensor with
    Clade's streaming writer so that building a 1.1B model holds one tensor at a time."""
    paths = {name: cache / size / name for name in ("base", "ft1", "ft2")}
    if all((p / "model.safetensors").is_file() for p in paths.values()):
        return paths
    import torch
    import transformers

    s = SIZES[size]
    dtype = getattr(torch, s["dtype"])
    config = transformers.LlamaConfig(
        hidden_size=s["hidden"],
        num_hidden_layers=s["layers"],
        vocab_size=s["vocab"],
        intermediate_size=s["inter"],
        num_attention_heads=s["heads"],
        num_key_value_heads=s["kv_heads"],
        tie_word_embeddings=False,
        architectures=["LlamaForCausalLM"],
        dtype=s["dtype"],
    )
    with torch.device("meta"):
        shapes = {k: tuple(v.shape) for k, v in transformers.LlamaForCausalLM(config).state_dict().items()}
    for index, path in enumerate(paths.values()):
        _write_model(path, shapes, dtype, index)
        config.save_pretrained(path)
    return paths


def _write_model(path: Path, shapes: dict, dtype, index: int) -> None:
    """Model `index` (0 = base): every tensor drawn from a generator seeded by its position."""
    import torch

    from tools.merge.tensorfile import OutSpec
    from tools.merge.writer import ShardedWriter

    path.mkdir(parents=True, exist_ok=True)
    writer = ShardedWriter(path, [OutSpec(k, dtype, shape) for k, shape in shapes.items()], max_shard_bytes=1 << 40)
    for position, (name, shape) in enumerate(shapes.items()):
        base = torch.randn(shape, generator=torch.Generator().manual_seed(position)) * 0.02
        if index:
            base += 0.002 * torch.randn(shape, generator=torch.Generator().manual_seed(1000 * index + position))
        writer.write(name, base.to(dtype))
    writer.close()


def recipes(p: dict[str, Path]) -> dict[str, dict]:
    base, a, b = (str(p[k]) for k in ("base", "ft1", "ft2"))
    dtype = json.loads((p["base"] / "config.json").read_text()).get("dtype") or "float32"

    def gta(method: str, **extra) -> dict:
        models = [{"model": m, "parameters": {"weight": w, **extra}} for m, w in ((a, 0.6), (b, 0.4))]
        return {"merge_method": method, "base_model": base, "models": models, "dtype": dtype}

    t = [{"filter": "self_attn", "value": [0, 0.5, 0.3, 0.7, 1]}, {"filter": "mlp", "value": [1, 0.5, 0.7, 0.3, 0]}, {"value": 0.5}]
    half = json.loads((p["base"] / "config.json").read_text())["num_hidden_layers"] // 2
    return {
        "linear": {
            "merge_method": "linear",
            "models": [{"model": a, "parameters": {"weight": 0.6}}, {"model": b, "parameters": {"weight": 0.4}}],
            "dtype": dtype,
        },
        "task_arithmetic": gta("task_arithmetic"),
        "ties": gta("ties", density=0.5),
        "dare_ties": gta("dare_ties", density=0.5),
        "dare_linear": gta("dare_linear", density=0.5),
        "breadcrumbs": gta("breadcrumbs", density=0.8, gamma=0.01),
        "breadcrumbs_ties": gta("breadcrumbs_ties", density=0.8, gamma=0.01),
        "della": gta("della", density=0.5, epsilon=0.1),
        "della_linear": gta("della_linear", density=0.5, epsilon=0.1),
        "slerp": {
            "merge_method": "slerp",
            "base_model": base,
            "models": [{"model": base}, {"model": a}],
            "parameters": {"t": t},
            "dtype": dtype,
        },
        "nuslerp": gta("nuslerp"),
        "model_stock": {"merge_method": "model_stock", "base_model": base, "models": [{"model": a}, {"model": b}], "dtype": dtype},
        "passthrough": {
            "merge_method": "passthrough",
            "dtype": dtype,
            "slices": [
                {"sources": [{"model": a, "layer_range": [0, half + 2]}]},
                {"sources": [{"model": b, "layer_range": [half - 2, 2 * half]}]},
            ],
        },
    }


def timed(argv: list[str]) -> tuple[float, float, str]:
    """(wall seconds, peak RSS GB, stdout) of one process."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", RSS_WRAPPER, *argv], capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"failed: {' '.join(argv)}\n{proc.stderr[-3000:]}")
    rss = int(proc.stdout.split("RSS_KB")[-1].split()[0]) / 1024**2
    return wall, rss, proc.stdout


def run_clade(recipe: Path, out: Path) -> dict:
    wall, rss, stdout = timed([sys.executable, "-m", "agents.cli", "merge", str(recipe), str(out), "--json"])
    report = json.loads(stdout.split("RSS_KB")[0])
    return {"wall": wall, "rss": rss, "merge_s": report["seconds"], "read": report["bytes_read"]}


def run_baseline(inputs: list[Path], out: Path, out_bytes: int) -> float:
    """Seconds a process takes to read the input files and write out_bytes (no math), in-process."""
    code = (
        "import sys, time; t = time.perf_counter(); n = int(sys.argv[1]); chunk = 1 << 24\n"
        "for f in sys.argv[3:]:\n  with open(f, 'rb', buffering=0) as h:\n    while h.read(chunk): pass\n"
        "buf = bytes(chunk)\nwith open(sys.argv[2], 'wb') as o:\n  while n > 0: o.write(buf[:min(n, chunk)]); n -= chunk\n"
        "print('BASE_S', time.perf_counter() - t)"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [sys.executable, "-c", code, str(out_bytes), str(out), *map(str, inputs)], capture_output=True, text=True, check=True
    )
    out.unlink()
    return float(proc.stdout.split("BASE_S")[1])


def run_mergekit_cli(python: str, recipe: Path, out: Path) -> dict:
    """mergekit-yaml as a whole process with two threads (its start-up included, like clade's)."""
    cli = str(Path(python).parent / "mergekit-yaml")
    wall, rss, _ = timed([cli, str(recipe), str(out), "--random-seed", "0", "--quiet", "-j", "2", "--no-copy-tokenizer"])
    return {"wall": wall, "rss": rss, "merge_s": wall}


def run_mergekit(python: str, recipe: Path, out: Path) -> dict:
    runner = out.parent / "mergekit_runner.py"
    runner.write_text(MERGEKIT_RUNNER)
    wall, rss, stdout = timed([python, str(runner), str(recipe), str(out)])
    return {"wall": wall, "rss": rss, "merge_s": float(stdout.split("MERGE_S")[1].split()[0])}


def max_difference(ours: Path, theirs: Path) -> float:
    from safetensors import safe_open

    worst = 0.0
    ours_files = {k: f for f in ours.glob("*.safetensors") for k in safe_open(f, "pt").keys()}
    theirs_files = {k: f for f in theirs.glob("*.safetensors") for k in safe_open(f, "pt").keys()}
    if set(ours_files) != set(theirs_files):
        raise SystemExit(f"tensor names differ: {sorted(set(ours_files) ^ set(theirs_files))[:5]}")
    for name, file in ours_files.items():
        x = safe_open(file, "pt").get_tensor(name).double()
        y = safe_open(theirs_files[name], "pt").get_tensor(name).double()
        worst = max(worst, (x - y).abs().max().item()) if x.shape == y.shape else float("inf")
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "clade-bench")
    parser.add_argument("--size", choices=sorted(SIZES), default="full")
    parser.add_argument("--methods", nargs="*", help="subset of methods (default: all)")
    parser.add_argument("--mergekit-python", help="python of a venv with mergekit installed")
    parser.add_argument(
        "--mergekit-whole", action="store_true", help="time mergekit-yaml -j 2 as a whole process (default: run_merge in-process)"
    )
    parser.add_argument("--baseline", action="store_true", help="also time reading the inputs and writing the output")
    parser.add_argument(
        "--dtype", default="float32", help="the recipes' dtype (bfloat16/float16: the 16-bit tie-pick differences of TIES/Breadcrumbs)"
    )
    args = parser.parse_args()
    paths = build_models(args.cache, args.size)
    work = args.cache / "runs"
    rows = []
    table = recipes(paths)
    for method in args.methods or list(table):  # in the order asked for
        rows.append(measure(method, table[method], work, args))
        print_row(rows[-1], flush=True)
    print_table(rows)


def measure(method: str, recipe: dict, work: Path, args) -> dict:
    import shutil

    recipe = recipe | {"dtype": args.dtype}

    work.mkdir(parents=True, exist_ok=True)
    file = work / f"{method}.yaml"
    file.write_text(yaml.safe_dump(recipe))
    shutil.rmtree(work / f"clade-{method}", ignore_errors=True)
    row = {"method": method, "load": os.getloadavg()[0], "clade": run_clade(file, work / f"clade-{method}")}
    out_bytes = sum(f.stat().st_size for f in (work / f"clade-{method}").glob("*.safetensors"))
    if args.baseline:
        inputs = sorted({Path(m) / "model.safetensors" for m in _models(recipe)})
        row["baseline_s"] = run_baseline(inputs, work / "baseline.bin", out_bytes)
    if args.mergekit_python:
        shutil.rmtree(work / f"mergekit-{method}", ignore_errors=True)
        run = run_mergekit_cli if args.mergekit_whole else run_mergekit
        row["mergekit"] = run(args.mergekit_python, file, work / f"mergekit-{method}")
        row["diff"] = None if method in RANDOM else max_difference(work / f"clade-{method}", work / f"mergekit-{method}")
        shutil.rmtree(work / f"mergekit-{method}")
    shutil.rmtree(work / f"clade-{method}")
    return row


def _models(recipe: dict) -> list[str]:
    names = [m["model"] for m in recipe.get("models", [])] + [s["model"] for sl in recipe.get("slices", []) for s in sl["sources"]]
    return names + ([recipe["base_model"]] if "base_model" in recipe else [])


HEADER = f"{'method':<17} {'load':>5} {'clade s':>8} {'(merge s)':>9} {'GB/s':>6} {'RSS GB':>7} {'read+write s':>12} {'mergekit s':>10} {'mk RSS GB':>9} {'speedup':>8} {'max |diff|':>11} {'load':>5}"


def print_row(row: dict, flush: bool = False) -> None:
    c, mk = row["clade"], row.get("mergekit")
    cells = [
        f"{row['method']:<17}",
        f"{row['load']:>5.1f}",
        f"{c['wall']:>8.1f}",
        f"{c['merge_s']:>9.1f}",
        f"{c['read'] / 1e9 / c['wall']:>6.2f}",
        f"{c['rss']:>7.2f}",
    ]
    cells.append(f"{row['baseline_s']:>12.1f}" if "baseline_s" in row else f"{'-':>12}")
    if mk:
        diff = "random" if row["method"] in RANDOM else f"{row['diff']:.1e}"
        cells += [
            f"{mk['merge_s']:>10.1f}",
            f"{mk['rss']:>9.2f}",
            f"{mk['merge_s'] / c['wall']:>7.1f}x",
            f"{diff:>11}",
            f"{os.getloadavg()[0]:>5.1f}",
        ]
    print(" ".join(cells), flush=flush)


def print_table(rows: list[dict]) -> None:
    print("\n" + HEADER)
    for row in rows:
        print_row(row)


if __name__ == "__main__":
    main()
