"""Pre-flight of `clade run` (and `clade run --dry-run`): everything checkable, checked before the first job.

A session with a broken evaluation or configuration used to spend its whole budget on failed
jobs and exit 0. Here, before any job runs, the same checks `clade eval` makes on its inputs run
on the session's inputs, and a problem is one line with exit 2:

- clade.yaml: a source named `base` beside a `base:` entry (it would shadow the base);
- every model (the base and each source): a directory with config.json, weights and a tokenizer,
  none of them damaged (tools/evaluate/modelcheck.py: JSON objects, a plausible layer count,
  safetensors headers whose tensors lie inside their files);
- the evaluation suite: the `evaluation:` section lists tasks, their spec files load, their
  weights are finite and not all zero, and every split's data file reads and renders;
- the strategy's search space (evolution, random): the sources share one layer count, the layer
  groups fit it, and a method that needs a base has one; (gradient) its sources exist, there is a
  base, every source has the base's tensors with the base's shapes, the base has one stack of
  layers and (ends: separate) no embedding/head name inside a layer tensor's (headers only), and
  every search-split prompt plus answer fits the base's max_position_embeddings (its tokenizer).

Each check names the file, field or model and says what to do. Nothing is written. A code
workspace's command evaluator is checked by its own first job (agents/code).
"""

from __future__ import annotations

from pathlib import Path

from agents.config import Workspace
from tools.errors import BadInput

SPACE_STRATEGIES = ("evolution", "random")


def check_before_run(workspace: Workspace, strategy: str) -> None:
    """BadInput (exit 2, one line) naming the first problem, and how many more there are."""
    found = problems(workspace, strategy)
    if found:
        more = f" (and {len(found) - 1} more: {'; '.join(found[1:3])}{'; ...' if len(found) > 3 else ''})" if len(found) > 1 else ""
        raise BadInput(f"cannot start the session: {found[0]}{more}")


def problems(workspace: Workspace, strategy: str) -> list[str]:
    """Every problem found, in the order a user would fix them (configuration, models, tasks, space)."""
    if workspace.config.code is not None:
        return []
    found = [*_config_problems(workspace)]
    models = _model_problems(workspace)
    found += models
    suite = _collect(lambda: _check_suite(workspace))
    found += suite
    if not models and strategy in SPACE_STRATEGIES:
        found += _collect(lambda: _check_space(workspace))
    if not models and strategy == "gradient":
        found += _collect(lambda: _check_gradient(workspace, lengths=not suite))
    return found


def _collect(check) -> list[str]:
    try:
        check()
    except BadInput as exc:
        return [str(exc)]
    return []


def _config_problems(workspace: Workspace) -> list[str]:
    config, where = workspace.config, workspace.root / "clade.yaml"
    if config.base is not None and any(s.name == "base" for s in config.sources):
        return [f"{where}: a source is named `base` and `base:` is set too, so one would shadow the other; rename the source"]
    return []


def _model_problems(workspace: Workspace) -> list[str]:
    found = []
    for name, path in workspace.model_paths().items():
        found += _collect(lambda n=name, p=path: check_model(n, p))
    return found


def check_model(name: str, path: Path) -> None:
    """BadInput when model `name` at `path` is not a complete, undamaged Hugging Face model directory."""
    from tools.evaluate.loading import check_model_dir
    from tools.evaluate.modelcheck import check_model_files

    role = "base:" if name == "base" else f"source {name}:"
    if path.exists() and not path.is_dir():
        raise BadInput(f"{role} {path} is a file; `base:` and a source's `path:` name a model directory")
    try:
        check_model_dir(path)
        check_model_files(path)
    except BadInput as exc:
        raise BadInput(f"{role} {exc}") from None


def _check_suite(workspace: Workspace) -> None:
    """The suite loads, and every task's every split reads and renders (its few-shot prefix too)."""
    from tools.evaluate.suite import load_suite

    if not workspace.config.evaluation.tasks:
        raise BadInput(
            f"{workspace.root / 'clade.yaml'}: no `evaluation:` tasks, so no candidate can be scored; "
            "list task spec files under evaluation.tasks"
        )
    for task in load_suite(workspace).tasks:
        for split in task.spec.data:
            task.examples(split)
        task.fewshot_prefix()


def _check_gradient(workspace: Workspace, lengths: bool = True) -> None:
    """The gradient strategy's sources and base: configured, of one architecture tensor for tensor, one stack
    of layers, no `ends: separate` name clash, and (with `lengths`: the suite loads) every search-split
    example within the model's max positions (agents/gradient/layout.py, as the optimiser's build checks)."""
    from agents.gradient.layout import check_inputs
    from agents.gradient.strategy import check_compatible, gradient_sources

    config = workspace.config.planner.gradient
    check_compatible(workspace, gradient_sources(config, workspace))
    check_inputs(workspace, config.ends, lengths=lengths)


def _check_space(workspace: Workspace) -> None:
    """The search space a CMA-ES or random run would build at its first proposal, built now."""
    from agents.evolution.encoding import layer_count
    from agents.evolution.genome import WITH_BASE, Structure, genome_size
    from agents.evolution.paths import path_size
    from agents.evolution.strategy import check_space, search_sources, structure

    config = workspace.config.planner.evolution
    check_space(config)
    shape = structure(config, search_sources(config, workspace))
    models = workspace.model_paths()
    if not isinstance(shape, Structure):
        path_size(shape, layer_count(models, shape.models))
        return
    base = "base" if "base" in models else None
    if shape.method in WITH_BASE and base is None:
        raise BadInput(
            f"{workspace.root / 'clade.yaml'}: planner.evolution.method {shape.method} needs a base model; "
            "set `base:` or use linear or slerp"
        )
    genome_size(shape, layer_count(models, [*shape.sources, *([base] if shape.method in WITH_BASE else [])]))
