"""The judge of the merge-operator example (read-only to candidates; not in their tree).

    python eval/evaluate.py --zoo ZOO_DIR --split search|test [--quick]

Runs in the candidate's tree (the current directory). The candidate's `merge_op.py` is
imported in a separate process (eval/run_operator.py), which writes the merged tensors to a
file; this process checks them (every tensor present, same shape, finite), loads them into
the tiny zoo's base architecture and scores it with the zoo's suite on `--split`. The
candidate's code never runs in this process, so it cannot print or change the score.
Last stdout line: {"fitness": mean char accuracy, "<task>/<metric>": ...}.
With --quick only the merge and its checks run (fitness 1.0 when they pass).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

EXPERTS = ("adder", "reverser", "sorter")
HERE = Path(__file__).resolve().parent


def merged_tensors(zoo: Path, out: Path) -> dict:
    from safetensors.torch import load_file

    argv = [sys.executable, str(HERE / "run_operator.py"), str(zoo / "models"), ",".join(EXPERTS), str(out)]
    proc = subprocess.run(argv, cwd=Path.cwd(), capture_output=True, text=True)
    sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
    if proc.returncode != 0:
        raise SystemExit(f"the merge operator failed (exit {proc.returncode}); see its traceback above")
    return load_file(str(out))


def check(merged: dict, base: dict) -> None:
    import torch

    for name, tensor in base.items():
        got = merged.get(name)
        if got is None or got.shape != tensor.shape:
            raise SystemExit(f"merge returned {None if got is None else tuple(got.shape)} for {name}, expected {tuple(tensor.shape)}")
        if not torch.isfinite(got).all():
            raise SystemExit(f"merge returned non-finite values for {name}")


def score(zoo: Path, merged: dict, split: str) -> dict[str, float]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from agents.workspace import load_workspace
    from tools.evaluate.api import evaluate_module, load_suite

    model = AutoModelForCausalLM.from_pretrained(str(zoo / "models" / "base"))
    model.load_state_dict({k: v.to(model.dtype) for k, v in merged.items()}, strict=True)
    tokenizer = AutoTokenizer.from_pretrained(str(zoo / "models" / "base"))
    result = evaluate_module(model.eval(), tokenizer, load_suite(load_workspace(zoo)), split=split)
    return {"fitness": result.fitness, **{f"{t}/{m}": v for t, ms in result.tasks.items() for m, v in ms.items()}}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--zoo", type=Path, required=True)
    parser.add_argument("--split", default="search")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    import torch
    from safetensors.torch import load_file

    torch.manual_seed(0)
    torch.set_num_threads(1)  # a tiny model: more threads only contend
    base = load_file(str(args.zoo / "models" / "base" / "model.safetensors"))
    with tempfile.TemporaryDirectory() as tmp:
        merged = merged_tensors(args.zoo, Path(tmp) / "merged.safetensors")
    check(merged, base)
    print(json.dumps({"fitness": 1.0} if args.quick else score(args.zoo, merged, args.split)))


if __name__ == "__main__":
    main()
