"""The differentiable merge and its optimisation (imports torch; loaded only when the strategy proposes).

    merged[name] = θ₀[name] + Σₛ λ[l(name), s] · τₛ[name]      τₛ = θₛ − θ₀, sources in config order

with l(name) the tensor's layer; outside the layers, embeddings (names holding `embed`, `wte`,
`wpe`: tools.merge.plan.PRE_MARKERS) take layer 0's coefficients and everything else (final
norm, head) the last layer's, as the merge engine plans a `slices` recipe; with `ends: separate`
they have rows of their own (n_layers: embeddings, n_layers + 1: head), written into the first
and last slices as `{filter: TENSOR NAME, value}` entries. The arithmetic is the
engine's task_arithmetic with normalize false, in its order (tools/merge/methods/generalized.py:
each δ times its weight, summed in model order, then added to the base), so the recipe of a
candidate merges into exactly the tensors the loss saw (tests/gradient).

The loss is token cross-entropy on each search-split example's answer given its prompt, both
encoded as the evaluator encodes them (tools.evaluate.prepare.scored_pairs), with EOS appended
to a generation task's answer when the tokenizer has one (the evaluator's generation stops
there): the mean over the answer tokens of each task, then the mean over tasks weighted by
evaluation.weights. Only the `search` split is read.
"""

from __future__ import annotations

import gc
import os
import random
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import torch

from agents.gradient.config import GradientConfig
from agents.gradient.layout import WHERE, encoded_rows, layout
from tools.errors import BadInput


@dataclass
class TaskData:
    name: str
    weight: float
    rows: list[tuple[list[int], int]]  # (token ids, index of the first answer token)


@dataclass
class Snapshot:
    step: int
    weights: list[list[float]]  # [layer][source]
    loss: float  # the search split's loss at these weights


@dataclass
class Optimiser:
    """One session's optimisation: the models, the search data, λ, Adam, and the snapshots taken so far."""

    config: GradientConfig
    seed: int
    sources: list[str]
    module: torch.nn.Module
    base: dict[str, torch.Tensor]
    deltas: dict[str, list[torch.Tensor]]  # name -> τ per source
    layer_of: dict[str, int]  # name -> its row of λ
    n_layers: int
    ends: tuple[list[str], list[str]] | None  # ends: separate: the embedding and the head tensors (rows n_layers, n_layers + 1)
    tasks: list[TaskData]
    pad_id: int
    device: torch.device
    raw: torch.Tensor = field(init=False)
    adam: torch.optim.Optimizer = field(init=False)
    step: int = 0
    snapshots: list[Snapshot] = field(default_factory=list)

    def __post_init__(self) -> None:
        c = self.config
        rows = self.n_layers + (2 if self.ends else 0)
        start = torch.full((rows, len(self.sources)), float(c.init), dtype=torch.float32, device=self.device)
        if c.bounds == "sigmoid":
            start = torch.logit(start / c.weight_max)
        self.raw = start.clone().requires_grad_(True)
        self.adam = torch.optim.Adam([self.raw], lr=c.lr)

    # -- the merge -------------------------------------------------------------------------------
    def coefficients(self) -> torch.Tensor:
        c = self.config
        return c.weight_max * torch.sigmoid(self.raw) if c.bounds == "sigmoid" else self.raw

    def merged(self, lam: torch.Tensor) -> dict[str, torch.Tensor]:
        out = {}
        for name, base in self.base.items():
            row = lam[self.layer_of[name]].to(base.dtype)
            total = None
            for s, delta in enumerate(self.deltas[name]):
                term = delta * row[s]
                total = term if total is None else total + term
            out[name] = base + total
        return out

    # -- the loss --------------------------------------------------------------------------------
    def _loss(self, params: dict[str, torch.Tensor], picks: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        """Per task: the summed answer-token cross-entropy over the picked rows, and the answer tokens counted."""
        rows, owners = [], []
        for t, (task, chosen) in enumerate(zip(self.tasks, picks)):
            rows += [task.rows[i] for i in chosen]
            owners += [t] * len(chosen)
        width = max(len(ids) for ids, _ in rows)
        ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        scored = torch.zeros((len(rows), width - 1), dtype=torch.bool)
        for r, (seq, start) in enumerate(rows):
            ids[r, : len(seq)] = torch.tensor(seq)
            mask[r, : len(seq)] = 1
            scored[r, start - 1 : len(seq) - 1] = True
        ids, mask, scored = ids.to(self.device), mask.to(self.device), scored.to(self.device)
        out = torch.func.functional_call(
            self.module, params, args=(), kwargs={"input_ids": ids, "attention_mask": mask, "use_cache": False}
        )
        logits = out.logits[:, :-1].float()
        nll = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1), reduction="none")
        nll = nll.view(scored.shape) * scored
        owner = torch.tensor(owners, device=self.device)
        total = torch.zeros(len(self.tasks), device=self.device).index_add(0, owner, nll.sum(1))
        count = torch.zeros(len(self.tasks), device=self.device).index_add(0, owner, scored.sum(1).float())
        return total, count

    def _weighted(self, total: torch.Tensor, count: torch.Tensor) -> torch.Tensor:
        weights = torch.tensor([t.weight for t in self.tasks], device=self.device)
        per_task = total / count.clamp(min=1)
        return (per_task * weights).sum() / weights.sum()

    def search_loss(self, lam: torch.Tensor, batch: int = 64) -> float:
        """The loss over the whole search split at coefficients `lam` (no gradient)."""
        with torch.no_grad(), deterministic(self.device):
            params = self.merged(lam)
            total = torch.zeros(len(self.tasks), device=self.device)
            count = torch.zeros(len(self.tasks), device=self.device)
            for t, task in enumerate(self.tasks):
                for start in range(0, len(task.rows), batch):
                    picks = [[] for _ in self.tasks]
                    picks[t] = list(range(start, min(start + batch, len(task.rows))))
                    tt, cc = self._loss(params, picks)
                    total, count = total + tt, count + cc
            return float(self._weighted(total, count))

    # -- the steps -------------------------------------------------------------------------------
    def picks(self, step: int) -> list[list[int]]:
        """Step `step`'s minibatch: `batch_size` examples of each task, drawn without replacement by (seed, step, task)."""
        out = []
        for task in self.tasks:
            rng = random.Random(f"{self.seed}:{step}:{task.name}")
            n = len(task.rows)
            out.append(sorted(rng.sample(range(n), min(n, self.config.batch_size))))
        return out

    def advance(self, steps: int) -> None:
        with deterministic(self.device):
            self._advance(steps)

    def _advance(self, steps: int) -> None:
        for _ in range(steps):
            self.adam.zero_grad(set_to_none=True)
            total, count = self._loss(self.merged(self.coefficients()), self.picks(self.step))
            self._weighted(total, count).backward()
            self.adam.step()
            if self.config.bounds == "clamp":
                with torch.no_grad():
                    self.raw.clamp_(0.0, self.config.weight_max)
            self.step += 1

    def _snapshot(self, loss: float | None = None) -> Snapshot:
        """The current coefficients, with the search split's loss there (`loss`: a recorded member's, not recomputed)."""
        with torch.no_grad():
            lam = self.coefficients().detach().clone()
        weights = [[short(v) for v in row] for row in lam.cpu().tolist()]
        return Snapshot(self.step, weights, self.search_loss(lam) if loss is None else loss)

    def snapshot(self, index: int, recorded: dict[int, float] | None = None) -> Snapshot:
        """Candidate `index`: the coefficients after index·steps_per_candidate steps (replayed once, then kept).
        `recorded`: index -> the loss a recorded member holds; those snapshots take it instead of a pass over the
        whole search split (a resume then costs the optimisation steps, plus the loss of the candidates it proposes)."""
        while len(self.snapshots) <= index:
            if self.snapshots:
                self.advance(self.config.steps_per_candidate)
            self.snapshots.append(self._snapshot((recorded or {}).get(len(self.snapshots))))
        return self.snapshots[index]


CUBLAS_WORKSPACE = ":4096:8"  # what torch's reproducibility notes ask for deterministic cuBLAS


@contextmanager
def deterministic(device: torch.device):
    """On CUDA: torch's deterministic algorithms (warn_only: an op without a deterministic kernel warns rather
    than failing the session) and CUBLAS_WORKSPACE_CONFIG when unset, both restored on exit, so a resumed
    session's replay can reproduce its recorded coefficients. Untested on a GPU (none here); on CPU, nothing."""
    if device.type != "cuda":
        yield
        return
    enabled, warn_only = torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()
    workspace = os.environ.get("CUBLAS_WORKSPACE_CONFIG")
    if workspace is None:
        os.environ["CUBLAS_WORKSPACE_CONFIG"] = CUBLAS_WORKSPACE
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(enabled, warn_only=warn_only)
        if workspace is None:
            os.environ.pop("CUBLAS_WORKSPACE_CONFIG", None)


def short(value: float) -> float:
    """The shortest decimal that rounds to the same float32 (0.3, not 0.30000001192092896): the recipe reads
    well and the merge engine, which rounds weights to the compute dtype, merges with the very same value."""
    import numpy as np

    return float(str(np.float32(value)))


def build(config: GradientConfig, seed: int, sources: list[str], models: dict[str, Path], suite) -> Optimiser:
    """Load the base and the sources (BadInput naming the tensor when they are not task-arithmetic compatible)
    and the search split of every task."""
    from tools.evaluate.loading import load_model

    device = checked_device(config.device)
    module, tokenizer = load_model(models["base"], "cpu")
    for p in module.parameters():
        p.requires_grad_(False)
    module.to(device)  # first, so that the base below is the module's own parameters: one copy on the device
    base = {name: p.detach() for name, p in module.named_parameters()}
    _check_names(list(base), models["base"])
    shape = layout(list(base), config.ends)
    layer_of, n_layers, ends = shape.layer_of, shape.n_layers, shape.ends
    # One source at a time, dropped before the next loads: the base, the task vectors so far and one source
    # are in memory at once, (2 + sources) x the model at the peak rather than (1 + 2 x sources) x.
    deltas: dict[str, list[torch.Tensor]] = {name: [] for name in base}
    for source in sources:
        state = _source_state(source, models[source], base, load_model)
        for name, b in base.items():
            deltas[name].append(state.pop(name).to(device) - b)
        del state
        gc.collect()  # a model held in a reference cycle would keep the source's weights until the next collection
    limit = getattr(module.config, "max_position_embeddings", None)
    tasks = [TaskData(task.name, task.weight, encoded_rows(task, tokenizer, limit)) for task in suite.tasks]
    eos = tokenizer.eos_token_id
    pad = next((c for c in (tokenizer.pad_token_id, eos, 0) if c is not None), 0)
    return Optimiser(config, seed, sources, module.eval(), base, deltas, layer_of, n_layers, ends, tasks, pad, device)


def _check_names(params: list[str], path: Path) -> None:
    """BadInput unless the loaded base's parameter names are its weight files' tensor names: the recipe's filters
    and the merge engine name the files' tensors, the optimiser the module's parameters (transformers renames
    some checkpoints' tensors as it loads them)."""
    from tools.merge.sources import open_source

    header = list(open_source("base", path).tensors)
    missing = [n for n in params if n not in set(header)]
    extra = [n for n in header if n not in set(params)]
    if missing or extra:
        what = f"parameter {missing[0]} is no tensor in its weight files" if missing else f"weight file tensor {extra[0]} is no parameter"
        raise BadInput(
            f"{WHERE}: base ({path}): the loaded model's {what} ({len(missing)} parameter(s), {len(extra)} tensor(s) differ); "
            "the gradient strategy needs the model's parameter names to be its files' tensor names (re-save it with save_pretrained)"
        )


def checked_device(name: str) -> torch.device:
    """The configured device; BadInput naming planner.gradient.device when it is malformed or absent here."""
    from tools.device import check_device

    try:
        return check_device(name)
    except BadInput as exc:
        raise BadInput(f"{WHERE}.device: {str(exc).removeprefix(f'--device {name}: ')}") from None


def _source_state(source: str, path: Path, base: dict[str, torch.Tensor], load_model) -> dict[str, torch.Tensor]:
    model, _ = load_model(path, "cpu")
    state = {name: p.detach() for name, p in model.named_parameters()}
    for name, tensor in base.items():
        if name not in state:
            raise BadInput(f"{WHERE}: source {source} has no tensor {name} (the base has); task arithmetic needs the base's architecture")
        if state[name].shape != tensor.shape:
            raise BadInput(
                f"{WHERE}: tensor {name} of source {source} has shape {list(state[name].shape)}, the base's {list(tensor.shape)}; "
                "task arithmetic needs the base's architecture"
            )
        if state[name].dtype != tensor.dtype:
            state[name] = state[name].to(tensor.dtype)
    extra = sorted(set(state) - set(base))
    if extra:
        raise BadInput(
            f"{WHERE}: source {source} has tensor {extra[0]}, which the base lacks; task arithmetic needs the base's architecture"
        )
    return state
