"""Merge methods alone, tensor by tensor: Clade's method functions against mergekit 0.1.5's.

For every tensor of a Llama-shaped model (hidden 768, 12 layers, vocab 32000, intermediate
2048: 134M parameters) it makes a base and fine-tune-like inputs (base + 1e-3·noise, fp32:
task vectors of limited precision, so equal magnitudes at a top-k threshold do occur, as in
real fine-tunes), runs one method in Clade and, with --mergekit, in mergekit (method object
called in-process: no IO, no graph), and prints per method the wall and CPU seconds of each,
the speed-up, and the max abs difference of the outputs. Deterministic methods should agree
to 1e-5; for top-k methods the number of entries whose kept/dropped choice differs only among
equal magnitudes at the threshold is reported separately (mergekit's argsort picks arbitrary
ones among equals; Clade keeps the later flat indices). --tie-free uses base 0 (task vectors
are plain normal draws, no equal magnitudes) to show exact agreement.

    nice /tmp/mk-venv/bin/python benchmarks/merge_methods.py --mergekit --threads 2

--parity instead runs every method and parameter variant on small random tensors in float32,
bfloat16 and float16 and prints the max abs difference to mergekit ("mk NaN": mergekit's output
holds NaN, Clade's does not; "N tie picks": entries kept by one and dropped by the other, all
equal to the threshold magnitude). For DARE: the kept fraction, Clade/mergekit; for DELLA: the
kept fraction in the lowest and highest rank deciles, Clade/mergekit.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tools.merge.methods import METHODS, TensorTask  # noqa: E402

HIDDEN, LAYERS, VOCAB, INTER = 768, 12, 32000, 2048
CASES = {
    "linear": ([{"weight": 0.6}, {"weight": 0.4}], {}),
    "task_arithmetic": ([{"weight": 0.6}, {"weight": 0.4}], {}),
    "ties": ([{"weight": 0.6, "density": 0.5}, {"weight": 0.4, "density": 0.3}], {}),
    "breadcrumbs_ties": ([{"weight": 0.6, "density": 0.5}, {"weight": 0.4, "density": 0.8, "gamma": 0.05}], {}),
    "dare_ties": ([{"weight": 0.6, "density": 0.5}, {"weight": 0.4, "density": 0.3}], {}),
    "della": ([{"weight": 0.6, "density": 0.5}, {"weight": 0.4, "density": 0.3}], {}),
    "slerp": ([{}], {"t": 0.3}),
    "nuslerp": ([{"weight": 0.6}, {"weight": 0.4}], {}),
    "model_stock": ([{}, {}], {}),
    "passthrough": ([{"scale": 0.5}], {}),
}
TOP_K = {"ties", "breadcrumbs_ties"}
RANDOM = {"dare_ties", "della"}


def shapes() -> list[tuple[str, tuple[int, ...]]]:
    out = [("embed_tokens", (VOCAB, HIDDEN))]
    for i in range(LAYERS):
        out += [(f"layers.{i}.{p}", (HIDDEN, HIDDEN)) for p in ("q", "k", "v", "o")]
        out += [(f"layers.{i}.{p}", (INTER, HIDDEN)) for p in ("gate", "up")] + [(f"layers.{i}.down", (HIDDEN, INTER))]
        out += [(f"layers.{i}.norm{j}", (HIDDEN,)) for j in (1, 2)]
    return out + [("norm", (HIDDEN,)), ("lm_head", (VOCAB, HIDDEN))]


def inputs(index: int, shape, count: int, tie_free: bool):
    g = torch.Generator().manual_seed(index)
    base = torch.zeros(shape) if tie_free else 0.02 * torch.randn(shape, generator=g)
    return base, [base + 1e-3 * torch.randn(shape, generator=g) for _ in range(count)]


def clade(name, base, tensors, model_params, params):
    spec = METHODS[name]
    full = {p.name: p.default for p in spec.params} | params
    mps = [{p.name: p.default for p in spec.model_params} | mp for mp in model_params]
    generator = torch.Generator().manual_seed(0) if spec.random else None
    use_base = base if spec.base != "none" else None
    with torch.no_grad():
        return spec.fn(TensorTask("w", tensors, use_base, mps, full, generator))


def mergekit(name, base, tensors, model_params, params):
    from mergekit.merge_methods import registry
    from mergekit.merge_methods.base import TensorGroup

    method = registry.get(name)
    with_base = METHODS[name].base != "none"
    group = TensorGroup.from_tensors(([base] if with_base else []) + tensors, base_index=0 if with_base else None, name="w")
    specs = {p.name: p for p in method.spec.parameters}
    kwargs = dict(params)
    for key in {k for mp in model_params for k in mp}:
        kwargs[key] = {i + with_base: mp.get(key, specs[key].default) for i, mp in enumerate(model_params)}
    with torch.no_grad():
        (out,) = method((group,), parameters=kwargs)
    return out


def tie_only_differences(base, tensors, model_params) -> int:
    """Entries where Clade's and mergekit's top-k choice differ; fails unless all sit at a tie."""
    from tools.merge.methods.select import Magnitudes, top_cut

    total = 0
    for t, p in zip(tensors, model_params):
        w = Magnitudes(t, base).range(0, t.numel())
        n, k = w.numel(), max(1, int(p["density"] * w.numel()))
        ours = top_cut(Magnitudes(t, base), k).keep(w, 0)
        theirs = torch.zeros(n, dtype=torch.bool)
        theirs[torch.argsort(w, descending=True)[:k]] = True  # mergekit's selection, verbatim
        differ = ours ^ theirs
        assert int(ours.sum()) == k, "Clade kept a different number of entries"
        assert bool((w[differ] == w[theirs].min()).all()), "a kept/dropped difference away from the threshold"
        total += int(differ.sum())
    return total


def timed(fn, *args):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn(*args)
    return out, time.perf_counter() - wall, time.process_time() - cpu


def bench(name: str, with_mergekit: bool, tie_free: bool) -> dict:
    model_params, params = CASES[name]
    row = dict(method=name, clade_wall=0.0, clade_cpu=0.0, mk_wall=0.0, mk_cpu=0.0, maxdiff=0.0, ties=0)
    for index, (_, shape) in enumerate(shapes()):
        base, tensors = inputs(index, shape, len(model_params), tie_free)
        ours, wall, cpu = timed(clade, name, base, tensors, model_params, params)
        row["clade_wall"] += wall
        row["clade_cpu"] += cpu
        if with_mergekit:
            theirs, wall, cpu = timed(mergekit, name, base, tensors, model_params, params)
            row["mk_wall"] += wall
            row["mk_cpu"] += cpu
            if name not in RANDOM:
                row["maxdiff"] = max(row["maxdiff"], float((ours.float() - theirs.float()).abs().max()))
            if name == "ties" and not tie_free:
                row["ties"] += tie_only_differences(base, tensors, model_params)
    return row


VARIANTS = [
    ("linear", [{"weight": 0.3}, {"weight": 0.5}, {"weight": 0.7}], {}),
    ("linear", [{"weight": 0.3}, {"weight": 0.5}, {"weight": 0.7}], {"normalize": False}),
    ("task_arithmetic", [{"weight": 0.3}, {"weight": 0.5}, {"weight": -0.7}], {"lambda": 0.8}),
    ("task_arithmetic", [{"weight": 0.3}, {"weight": 0.5}, {"weight": 0.7}], {"normalize": True}),
    ("ties", [{"weight": 0.3, "density": 0.5}, {"weight": 0.5, "density": 0.3}, {"weight": 0.7, "density": 0.9}], {}),
    (
        "ties",
        [{"weight": 0.3, "density": 0.5}, {"weight": -0.5, "density": 0.3}, {"weight": 0.7}],
        {"normalize": False, "lambda": 1.3, "rescale": True},
    ),
    (
        "breadcrumbs",
        [{"weight": 0.3, "density": 0.5}, {"weight": 0.5, "density": 0.3, "gamma": 0.1}, {"weight": 0.7, "density": 0.95, "gamma": 0.2}],
        {},
    ),
    (
        "breadcrumbs_ties",
        [{"weight": 0.3, "density": 0.5}, {"weight": 0.5, "density": 0.3, "gamma": 0.1}, {"weight": 0.7, "density": 0.95, "gamma": 0.2}],
        {"normalize": True, "rescale": True},
    ),
    ("slerp", [{}], {"t": 0.3}),
    ("nuslerp", [{"weight": 0.3}, {"weight": 0.6}], {}),
    ("nuslerp", [{"weight": 0.3}, {"weight": 0.6}], {"nuslerp_flatten": False}),
    ("nuslerp", [{"weight": 0.3}, {"weight": 0.6}], {"nuslerp_flatten": False, "nuslerp_row_wise": True}),
    ("model_stock", [{}, {}, {}], {}),
    ("model_stock", [{}, {}, {}], {"filter_wise": True}),
    ("passthrough", [{"scale": 0.5}], {}),
    ("dare_linear", [{"weight": 1.0, "density": 0.3}], {}),
    ("della_linear", [{"weight": 1.0, "density": 0.5, "epsilon": 0.3}], {}),
]


def parity() -> None:
    print(f"{'method':18s} {'parameters':48s} {'float32':>9s} {'bfloat16':>9s} {'float16':>9s}")
    for name, model_params, params in VARIANTS:
        cells = [_parity_cell(name, model_params, params, dtype) for dtype in (torch.float32, torch.bfloat16, torch.float16)]
        print(f"{name:18s} {str(params or ''):48s} " + " ".join(f"{c:>9s}" for c in cells))


def _parity_cell(name, model_params, params, dtype) -> str:
    """Base 0 for the sparsifying methods: task vectors are plain normal draws, so float32 has
    no equal magnitudes at a threshold (float16/bfloat16 always do: few distinct values)."""
    g = torch.Generator().manual_seed(1234)  # not a method seed: draws must not correlate with data
    base = torch.randn(512, 768, generator=g)
    tensors = [(base + 0.05 * torch.randn(512, 768, generator=g)).to(dtype) for _ in model_params]
    base = (torch.zeros_like(base) if name in SPARSIFYING else base).to(dtype)
    ours = clade(name, base, tensors, model_params, params)
    torch.manual_seed(0)
    theirs = mergekit(name, base, tensors, model_params, params)
    if name not in RANDOM_VARIANTS:
        if bool(torch.isnan(theirs).any()) and not bool(torch.isnan(ours).any()):
            return "mk NaN"
        diff = f"{float((ours.float() - theirs.float()).abs().max()):.1e}"
        if name == "ties" and not params and dtype != torch.float32:
            diff += f" ({tie_only_differences(base, tensors, model_params)} tie picks)"
        return diff
    delta = tensors[0].float() - base.float()
    if name == "dare_linear":
        return f"{float((ours != base).float().mean()):.3f}/{float((theirs != base).float().mean()):.3f}"
    ranks = delta.abs().argsort(dim=1).argsort(dim=1)
    low, high = ranks < 77, ranks >= 768 - 77
    kept = lambda out, where: float((out != base)[where].float().mean())  # noqa: E731
    return f"{kept(ours, low):.2f}-{kept(ours, high):.2f}/{kept(theirs, low):.2f}-{kept(theirs, high):.2f}"


SPARSIFYING = {"ties", "breadcrumbs", "breadcrumbs_ties", "dare_linear", "della_linear"}
RANDOM_VARIANTS = {"dare_linear", "della_linear"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mergekit", action="store_true", help="also run mergekit 0.1.5 (must be importable)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--tie-free", action="store_true", help="base 0: task vectors without equal magnitudes")
    parser.add_argument("--methods", nargs="*", default=list(CASES))
    parser.add_argument("--parity", action="store_true", help="max abs difference to mergekit per method, variant and dtype")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.parity:
        return parity()
    params = sum(torch.Size(s).numel() for _, s in shapes())
    print(
        f"{params / 1e6:.0f}M parameters per model, fp32, {args.threads} threads, {'tie-free' if args.tie_free else 'fine-tune-like'} inputs"
    )
    print(
        f"{'method':18s} {'clade s':>8s} {'(cpu)':>7s} {'mergekit s':>10s} {'(cpu)':>7s} {'speed-up':>8s} {'max |diff|':>10s} {'tie picks':>9s}"
    )
    for name in args.methods:
        r = bench(name, args.mergekit, args.tie_free)
        speed = f"{r['mk_wall'] / r['clade_wall']:.1f}x" if args.mergekit else "-"
        diff = "random" if name in RANDOM else f"{r['maxdiff']:.2e}" if args.mergekit else "-"
        ties = str(r["ties"]) if name == "ties" and args.mergekit and not args.tie_free else "-"
        print(
            f"{name:18s} {r['clade_wall']:8.2f} {r['clade_cpu']:7.2f} {r['mk_wall']:10.2f} {r['mk_cpu']:7.2f} {speed:>8s} {diff:>10s} {ties:>9s}",
            flush=True,
        )


if __name__ == "__main__":
    main()
