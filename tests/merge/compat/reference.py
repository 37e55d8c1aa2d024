"""Producing mergekit's outputs for the cases (used by regenerate.py and the live test).

mergekit 0.1.5 with transformers 5 writes a LLaVA's vision tower and projector under the names
transformers uses in memory (`model.vision_tower...`) and skips the language model entirely
(its inferred architecture marks those weights optional and finds none under the in-memory
names). So each multi-part case also runs on text-only copies of the models (the language model
as a LlamaForCausalLM), which gives mergekit's tensors for the language part: `rename` maps both
back to the checkpoint names Clade keeps.
"""

from __future__ import annotations

import copy
import json
import subprocess
import tempfile
from pathlib import Path

from tests.merge.compat.cases import Case

RUNNER = Path(__file__).with_name("mergekit_runner.py")
VLM_PREFIX = "vlm_"


def with_paths(value, zoo: dict[str, Path]):
    """The recipe with every zoo model name (and each part of a MODEL+ADAPTER) replaced by its directory."""

    def path(v):
        return "+".join(str(zoo[p]) for p in v.split("+")) if all(p in zoo for p in v.split("+")) else v

    if isinstance(value, dict):
        return {
            k: (path(v) if isinstance(v, str) and k in ("model", "base_model", "tokenizer_source", "source") else with_paths(v, zoo))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [with_paths(v, zoo) for v in value]
    return value


def text_only(case: Case) -> Case:
    recipe = json.loads(json.dumps(case.recipe).replace('"vlm_', '"text_vlm_'))
    return Case(case.name + "#text", case.suite, recipe, case.error, case.random, case.mergekit_options, case.twin_of)


def extract_text_model(vlm: Path, out: Path) -> Path:
    """The language model of a LLaVA checkpoint as a standalone Llama model."""
    from safetensors.torch import load_file, save_file

    config = json.loads((vlm / "config.json").read_text())
    text = config["text_config"] | {"architectures": ["LlamaForCausalLM"], "model_type": "llama"}
    tensors = {
        k.removeprefix("language_model."): v for k, v in load_file(vlm / "model.safetensors").items() if k.startswith("language_model.")
    }
    out.mkdir(parents=True, exist_ok=True)
    save_file(tensors, out / "model.safetensors", metadata={"format": "pt"})
    (out / "config.json").write_text(json.dumps(text, indent=1))
    return out


def renamer(input_names: set[str], text: bool):
    def rename(name: str) -> str:
        if text:
            return "language_model." + name
        stripped = name.removeprefix("model.")
        return stripped if name not in input_names and stripped in input_names else name

    return rename


def run_mergekit(python: str, cases: list[Case], zoo: dict[str, Path], work: Path) -> dict[str, dict]:
    jobs = [
        {"name": c.name, "recipe": with_paths(copy.deepcopy(c.recipe), zoo), "out": str(work / c.name), "options": c.mergekit_options}
        for c in cases
    ]
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "jobs.json").write_text(json.dumps(jobs))
        subprocess.run([python, "-P", str(RUNNER), str(Path(tmp) / "jobs.json"), str(Path(tmp) / "results.json")], check=True, cwd=tmp)
        return json.loads((Path(tmp) / "results.json").read_text())


def mergekit_cases(cases: list[Case]) -> list[Case]:
    """The cases plus a text-only twin of each multi-part one."""
    return cases + [text_only(c) for c in cases if any(m.startswith(VLM_PREFIX) for m in c.models)]


def text_zoo(zoo: dict[str, Path], root: Path) -> dict[str, Path]:
    return {f"text_{name}": extract_text_model(path, root / f"text_{name}") for name, path in zoo.items() if name.startswith(VLM_PREFIX)}
