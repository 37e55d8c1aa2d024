"""Memory of a search over 1.1B models: `clade run` with two resident workers, and the warm merge.

    nice python benchmarks/resident_memory.py [--cache /work/cache/resident-memory] [--budget 6]
                                              [--memory-mb 9000] [--skip-session] [--skip-merge]

Builds a base and three TinyLlama-1.1B-shaped models (bfloat16, random weights, 2.2 GB each;
written once into the cache, as benchmarks/merge_speed.py builds its models) and a workspace
with one small perplexity task (the tiny zoo's word-level tokenizer: the models are random, the
point is memory), then:
1. runs `clade run --planner evolution --budget N` with two resident workers (cpu_concurrency 2)
   and samples, every 0.5 s: the machine's used memory (`free`'s used: total - free - buffers -
   cache, so the page cache holding mapped sources is not in it), the session's process tree
   (PSS summed over the tree from /proc/PID/smaps_rollup, so pages two workers share count once,
   and its anonymous part; plus RSS summed, which counts shared pages once per process), and the
   per-job memory cgroups of the workers (memory.usage_in_bytes / memory.current, page cache
   charged to them included). Reports the peaks, candidates failed and wall time. The machine is
   shared with other work: the tree's PSS is this benchmark's own figure, `used` is everybody's.
2. times one recipe (task_arithmetic over the three sources) three ways: `clade merge` as a
   process (reads with pread, writes 2.2 GB), the same plan streamed in-process without writing
   (the merge minus its output I/O; the sources are in the page cache), and ResidentMerger.apply
   cold and warm (a second recipe with other weights), with the in-process peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

CODE = REPO  # the checkout `clade` runs from (--code)
NAMES = ("base", "src1", "src2", "src3")
GB = 1e9


def build_models(cache: Path) -> dict[str, Path]:
    """Base + three fine-tune-like models of TinyLlama-1.1B's shape in bfloat16 (merge_speed's writer)."""
    paths = {name: cache / "models" / name for name in NAMES}
    if all((p / "model.safetensors").is_file() and (p / "tokenizer.json").is_file() for p in paths.values()):
        return paths
    import torch
    import transformers
    from merge_speed import SIZES, _write_model

    s = SIZES["1.1b"]
    config = transformers.LlamaConfig(
        hidden_size=s["hidden"],
        num_hidden_layers=s["layers"],
        vocab_size=s["vocab"],
        intermediate_size=s["inter"],
        num_attention_heads=s["heads"],
        num_key_value_heads=s["kv_heads"],
        tie_word_embeddings=False,
        architectures=["LlamaForCausalLM"],
        dtype="bfloat16",
        bos_token_id=2,
        eos_token_id=3,
        pad_token_id=0,
        max_position_embeddings=2048,
    )
    with torch.device("meta"):
        shapes = {k: tuple(v.shape) for k, v in transformers.LlamaForCausalLM(config).state_dict().items()}
    tokenizer = REPO / "examples" / "tiny-zoo" / "models" / "base"
    for index, (name, path) in enumerate(paths.items()):
        if not (path / "model.safetensors").is_file():
            print(f"building {name} ({path})", file=sys.stderr, flush=True)
            _write_model(path, shapes, torch.bfloat16, index)
        config.save_pretrained(path)
        for file in ("tokenizer.json", "tokenizer_config.json"):
            shutil.copy(tokenizer / file, path / file)
    return paths


def make_workspace(root: Path, models: dict[str, Path], memory_mb: int | None) -> Path:
    """A workspace over the models with one perplexity task (16 short texts per split)."""
    if root.exists():
        shutil.rmtree(root)
    (root / "data").mkdir(parents=True)
    zoo = REPO / "examples" / "tiny-zoo" / "data"
    for split in ("search", "test"):
        lines = (zoo / f"add.{split}.jsonl").read_text().splitlines()[:16]
        texts = [json.dumps({"text": json.loads(line)["prompt"] + json.loads(line)["answer"]}) for line in lines]
        (root / "data" / f"sums.{split}.jsonl").write_text("\n".join(texts) + "\n")
    (root / "sums.yaml").write_text(
        'name: sums\nkind: perplexity\ndata: {search: data/sums.search.jsonl, test: data/sums.test.jsonl}\ntext: "{text}"\n'
    )
    limits = f"\n  limits: {{memory_mb: {memory_mb}}}" if memory_mb else ""
    sources = "\n".join(f"  - {{name: {n}, path: {models[n]}}}" for n in NAMES[1:])
    (root / "clade.yaml").write_text(
        f"version: 1\nname: resident-memory\nbase: {models['base']}\nsources:\n{sources}\n"
        f"evaluation:\n  tasks: [sums.yaml]\n  batch_size: 16\n"
        f"sandbox:\n  cpu_concurrency: 2\n  threads: 1{limits}\n"
    )
    return root


class Sampler:
    """Peaks of system used memory, the process tree's PSS / anon PSS / RSS, and its job cgroups."""

    def __init__(self, pid: int, period: float = 0.5):
        self.pid, self.period, self.peaks = pid, period, {"used": 0, "pss": 0, "pss_anon": 0, "rss": 0, "cgroups": 0}
        self.own_cgroup = _cgroup_file(os.getpid())
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._stop.wait(self.period):
            sample = {"used": system_used(), **tree_memory(self.pid, self.own_cgroup)}
            for key, value in sample.items():
                self.peaks[key] = max(self.peaks[key], value)


def system_used() -> int:
    info = {}
    for line in Path("/proc/meminfo").read_text().splitlines():
        key, value = line.split(":", 1)
        info[key] = int(value.split()[0]) * 1024
    return info["MemTotal"] - info["MemFree"] - info["Buffers"] - info["Cached"] - info.get("SReclaimable", 0)


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def tree_memory(pid: int, own_cgroup: Path | None) -> dict[str, int]:
    totals = {"pss": 0, "pss_anon": 0, "rss": 0, "cgroups": 0}
    groups = set()
    for p in descendants(pid):
        try:
            rollup = Path(f"/proc/{p}/smaps_rollup").read_text()
        except OSError:
            continue
        fields = {line.split(":")[0]: int(line.split()[1]) * 1024 for line in rollup.splitlines()[1:] if line.split()[-1] == "kB"}
        totals["pss"] += fields.get("Pss", 0)
        totals["pss_anon"] += fields.get("Pss_Anon", 0)
        totals["rss"] += fields.get("Rss", 0)
        group = _cgroup_file(p)
        if group is not None and group != own_cgroup:
            groups.add(group)
    groups = {
        g for g in groups if not any(o != g and g.parent.is_relative_to(o.parent) for o in groups)
    }  # v1 usage is hierarchical: top-most only
    for group in groups:
        try:
            totals["cgroups"] += int(group.read_text())
        except (OSError, ValueError):
            pass
    return totals


def _cgroup_file(pid: int) -> Path | None:
    """The memory usage file of the process's memory cgroup (v1 or v2)."""
    try:
        lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            return Path(f"/sys/fs/cgroup/memory{path}/memory.usage_in_bytes")
        if controllers == "" and Path(f"/sys/fs/cgroup{path}/memory.current").is_file():
            return Path(f"/sys/fs/cgroup{path}/memory.current")
    return None


def clade(workspace: Path, *argv: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(CODE), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "agents.cli", *argv], cwd=workspace, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def run_session(workspace: Path, budget: int) -> dict:
    start = time.perf_counter()
    proc = clade(workspace, "run", "--planner", "evolution", "--budget", str(budget), "--json")
    with Sampler(proc.pid) as sampler:
        stdout, stderr = proc.communicate()
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"clade run failed ({proc.returncode}):\n{stderr[-3000:]}")
    listed = clade(workspace, "candidates", "--json").communicate()[0]
    rows = json.loads(listed)
    rows = rows["candidates"] if isinstance(rows, dict) else rows
    made = [r for r in rows if r.get("kind") != "source"]
    failed = [r for r in made if r.get("status") not in ("succeeded",)]
    return {
        "wall": wall,
        "peaks": sampler.peaks,
        "candidates": len(made),
        "failed": len(failed),
        "reasons": sorted({str(r.get("reason") or r.get("failure") or r.get("status")) for r in failed}),
    }


def recipe(models: dict[str, Path], weights: tuple[float, float, float]) -> dict:
    return {
        "merge_method": "task_arithmetic",
        "base_model": str(models["base"]),
        "dtype": "bfloat16",
        "models": [{"model": str(models[n]), "parameters": {"weight": w}} for n, w in zip(NAMES[1:], weights)],
    }


def time_merges(models: dict[str, Path], work: Path) -> dict:
    """`clade merge` as a process, the same plan streamed in-process without writing, and the resident merger cold and warm."""
    import resource

    import yaml

    first = recipe(models, (0.5, 0.3, 0.2))
    work.mkdir(parents=True, exist_ok=True)
    (work / "recipe.yaml").write_text(yaml.safe_dump(first))
    proc = clade(work, "merge", str(work / "recipe.yaml"), str(work / "out"), "--json")
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"clade merge failed:\n{err[-3000:]}")
    shutil.rmtree(work / "out", ignore_errors=True)
    figures = {"clade_merge_s": json.loads(out)["seconds"]}

    from tools.merge.api import ResidentMerger, load_recipe
    from tools.merge.execute import TensorReader, stream
    from tools.merge.prepare import prepare

    prepared = prepare(load_recipe(first))
    start = time.perf_counter()
    for _ in stream(prepared.plans, TensorReader(prepared.sources, "cpu"), prepared.method, 0, workers=2):
        pass
    figures["stream_no_write_s"] = time.perf_counter() - start
    merger = ResidentMerger({n: models[n] for n in NAMES})
    with Sampler(os.getpid(), period=0.2) as sampler:
        _apply_timed(merger, models, figures)
    figures["in_process_peak_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / GB
    figures["resident_peak_anon_gb"] = sampler.peaks["pss_anon"] / GB
    return figures


def _apply_timed(merger, models: dict[str, Path], figures: dict) -> None:
    from tools.merge.api import load_recipe

    for label, weights in (
        ("resident_cold_s", (0.5, 0.3, 0.2)),
        ("resident_warm_s", (0.2, 0.3, 0.5)),
        ("resident_warm2_s", (0.4, 0.4, 0.2)),
    ):
        start = time.perf_counter()
        merger.apply(load_recipe(recipe(models, weights)))
        figures[label] = time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=Path("/work/cache/resident-memory"))
    parser.add_argument("--budget", type=int, default=6)
    parser.add_argument("--memory-mb", type=int, default=None, help="sandbox.limits.memory_mb of each job (default: none)")
    parser.add_argument("--skip-session", action="store_true")
    parser.add_argument("--skip-merge", action="store_true")
    parser.add_argument(
        "--code", type=Path, default=REPO, help="the Clade checkout to measure (default: this one; e.g. a main checkout for a baseline)"
    )
    args = parser.parse_args()
    global CODE
    CODE = args.code.resolve()
    sys.path.insert(0, str(CODE))
    models = build_models(args.cache)
    if not args.skip_session:
        s = run_session(make_workspace(args.cache / "workspace", models, args.memory_mb), args.budget)
        p = s["peaks"]
        print(f"\nclade run --planner evolution --budget {args.budget}, two resident workers ({CODE}; memory_mb {args.memory_mb})")
        print(f"{'wall s':>8}{'failed':>8}{'used GB':>9}{'tree PSS':>10}{'anon PSS':>10}{'tree RSS':>10}{'job cgroups':>13}")
        print(
            f"{s['wall']:>8.0f}{s['failed']:>5}/{s['candidates']:<2}{p['used'] / GB:>9.1f}{p['pss'] / GB:>10.1f}{p['pss_anon'] / GB:>10.1f}"
            f"{p['rss'] / GB:>10.1f}{p['cgroups'] / GB:>13.1f}"
        )
        for reason in s["reasons"]:
            print(f"  failed: {reason[:200]}")
    if not args.skip_merge:
        f = time_merges(models, args.cache / "merge")
        print("\ntask_arithmetic, base + 3 sources, 1.1B bfloat16 (seconds)")
        print(
            f"{'clade merge':>12}{'no write':>10}{'res. cold':>11}{'res. warm':>11}{'warm 2':>8}{'warm/no write':>15}{'peak RSS GB':>13}{'anon GB':>9}"
        )
        print(
            f"{f['clade_merge_s']:>12.1f}{f['stream_no_write_s']:>10.1f}{f['resident_cold_s']:>11.1f}{f['resident_warm_s']:>11.1f}"
            f"{f['resident_warm2_s']:>8.1f}{f['resident_warm_s'] / f['stream_no_write_s']:>15.2f}{f['in_process_peak_rss_gb']:>13.1f}{f['resident_peak_anon_gb']:>9.1f}"
        )


if __name__ == "__main__":
    main()
