"""Run the candidate's merge operator in its own process (called by evaluate.py).

    python eval/run_operator.py MODELS_DIR adder,reverser,sorter OUT.safetensors

Imports ./merge_op.py from the candidate's tree and calls `merge(base, deltas, name)` for
every tensor of the base; writes the results to OUT. Whatever it prints is only a log.
"""

import importlib.util
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file


def main(models: Path, experts: list[str], out: Path) -> None:
    spec = importlib.util.spec_from_file_location("merge_op", Path.cwd() / "merge_op.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    torch.manual_seed(0)
    torch.set_num_threads(1)
    base = load_file(str(models / "base" / "model.safetensors"))
    tuned = [load_file(str(models / e / "model.safetensors")) for e in experts]
    merged = {}
    with torch.no_grad():
        for name, tensor in base.items():
            result = module.merge(tensor.clone(), [t[name] - tensor for t in tuned], name)
            merged[name] = torch.as_tensor(result).detach().to(torch.float32).contiguous()
    save_file(merged, str(out))


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2].split(","), Path(sys.argv[3]))
