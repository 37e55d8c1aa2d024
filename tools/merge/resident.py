"""The in-memory path for search loops: merge straight into a resident transformers module.

Sources are opened once and their weight files memory-mapped read-only and shared
(tensorfile.MappedFiles): a source tensor is a view of the page cache in its file's dtype, so
a search loop pays the disk once, and several workers on one machine hold each source once
between them instead of a private copy each. Only the tensors in flight are copied (to the
compute dtype, to the device); tensors that are computed when read (a LoRA update applied, MoE
experts stacked) are recomputed per recipe rather than kept. The merged model is one module,
built once per output config (rebuilt when a recipe changes the layer count or the config
template) and refilled tensor by tensor. Tensors equal merge_to_dir's: the same plan and the
same per-tensor computation, only where the source bytes and the result lie differs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import torch

from tools.errors import BadInput
from tools.merge.calibrate import collect
from tools.merge.execute import TensorReader, all_finite, stream
from tools.merge.module import build_module
from tools.merge.module import targets as _targets
from tools.merge.prepare import Prepared, load_recipe, prepare
from tools.merge.recipe import Recipe
from tools.merge.sources import SourceModel, open_source
from tools.merge.tensorfile import MappedFiles, TensorRef


class ResidentMerger:
    def __init__(self, models: Mapping[str, Path], *, device: str = "cpu"):
        from tools.device import check_device

        check_device(device)
        self.models = {name: Path(path) for name, path in models.items()}
        self.device = device
        self._sources: dict[tuple[str, Path], SourceModel] = {}
        self._maps = MappedFiles()
        self._tensors: dict = {}  # TensorRef -> a checked view of its map (no copy)
        self._stats: dict = {}  # calibration statistics by (model directory, kind, data): calibrate.collect's cache
        self.tasks: dict = {}  # workspace tasks by name, for recipes' calibration sections (set_tasks)
        self._module = None
        self._module_key: str | None = None
        self._tokenizers = None  # a TemporaryDirectory for tokenizers recipes build

    def set_tasks(self, tasks: Mapping) -> None:
        """The tasks (tools.evaluate Task by name) that calibration sections of later recipes name."""
        self.tasks = dict(tasks)

    def _recipe(self, recipe: Recipe | Mapping | Path | str) -> Recipe:
        return recipe if isinstance(recipe, Recipe) else load_recipe(recipe, models=self.models, tasks=self.tasks)

    def _open(self, name: str, path: Path) -> SourceModel:
        key = (name, path.resolve())
        if key not in self._sources:
            self._sources[key] = open_source(name, path)
        return self._sources[key]

    def prepare(self, recipe: Recipe | Mapping | Path | str | Prepared) -> Prepared:
        """The recipe loaded and planned over this merger's open sources; a Prepared is returned as it is. Pass the
        Prepared to `apply` and `tokenizer_dir` so the recipe is planned once."""
        return recipe if isinstance(recipe, Prepared) else prepare(self._recipe(recipe), self._open)

    def apply(self, recipe: Recipe | Mapping | Path | str | Prepared, *, seed: int = 0) -> torch.nn.Module:
        """The merge as a causal LM in eval mode (`recipe`: best its Prepared, from `prepare`).

        The same module object is refilled while the config holds, so a module returned earlier
        changes with every call. A call that fails part-way leaves it half-filled and marks it
        for rebuilding: never use a module from a failed call."""
        prepared = self.prepare(recipe)
        module = self._module_for(prepared)
        reader = _MappedReader(prepared.sources, self.device, self._maps, self._tensors)
        targets = _targets(module)
        try:
            stats = collect(prepared, reader, seed, cache=self._stats)
            with torch.no_grad():
                for plan, tensor in stream(prepared.plans, reader, prepared.method, seed, workers=2, stats=stats):
                    if plan.name not in targets:
                        raise BadInput(
                            f"tensor {plan.name}: the {type(module).__name__} built from {prepared.template.name}'s config has no such parameter"
                        )
                    targets[plan.name].copy_(tensor)
            _check_covered(module, {p.name for p in prepared.plans}, prepared)
        except BaseException:
            self._module, self._module_key = None, None
            raise
        return module.eval()

    def tokenizer_dir(self, recipe: Recipe | Mapping | Path | str | Prepared) -> Path:
        """Where to load the merge's tokenizer from: the tokenizer source's directory, or, when the
        recipe builds a tokenizer (vocabulary alignment, chat template), a directory it is saved in
        (kept for the merger's lifetime, one per distinct tokenizer)."""
        prepared = self.prepare(recipe)
        if prepared.output_tokenizer is None:
            return prepared.tokenizer.path
        import hashlib
        import tempfile

        if self._tokenizers is None:
            self._tokenizers = tempfile.TemporaryDirectory(prefix="clade-tokenizers-")
        key = hashlib.sha256(json.dumps(prepared.recipe.to_yaml_dict(), sort_keys=True).encode()).hexdigest()[:16]
        folder = Path(self._tokenizers.name) / key
        if not folder.is_dir():
            prepared.output_tokenizer.save_pretrained(folder)
        return folder

    def _module_for(self, prepared: Prepared) -> torch.nn.Module:
        dtype = next((p.out_dtype for p in prepared.plans if not p.copy), torch.float32)
        key = json.dumps(prepared.config, sort_keys=True) + str(dtype)
        if key != self._module_key:
            self._module = None
            self._module = build_module(prepared.config, dtype, self.device)
            self._module_key = key
        return self._module


def _check_covered(module: torch.nn.Module, written: set[str], prepared: Prepared) -> None:
    pointers = {t.data_ptr() for name, t in module.state_dict().items() if name in written}
    for name, tensor in module.state_dict().items():
        if name not in written and tensor.data_ptr() not in pointers:
            raise BadInput(f"model {prepared.template.name}: has no tensor {name}, which {type(module).__name__} needs")


class _MappedReader(TensorReader):
    """A TensorReader over shared read-only maps: a file-backed tensor is a view of the map, checked
    for NaN/Inf once and remembered for later recipes (`views`, keyed by its TensorRef: file and
    span); the caller gets it on the device (a copy only off the CPU). Tensors computed when read
    (LoRA, stacked experts) are read afresh each time, never kept."""

    def __init__(self, sources: Mapping[str, SourceModel], device: str, maps: MappedFiles, views: dict):
        super().__init__(sources, device)
        self.maps, self.views = maps, views

    def get(self, item) -> torch.Tensor:
        ref = self.sources[item.model].tensor(item.tensor)
        if type(ref) is not TensorRef:
            return super().get(item)
        view = self.views.get(ref)
        if view is None:
            view = self.maps.tensor(ref)
            if view.is_floating_point() and not all_finite(view):
                raise BadInput(f"model {item.model} ({ref.file}): tensor {item.tensor} holds NaN or Inf")
            with self._lock:
                self.views[ref] = view
        with self._lock:
            self.bytes_read += ref.nbytes
        return view.to(self.device)
