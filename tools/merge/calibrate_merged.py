"""RegMean++'s statistics (Nguyen et al., 2025; FusionBench's RegMeanAlgorithmPlusPlus): the Gram
matrices of each layer's inputs after the calibration data has gone through the layers merged so
far, so that every layer is merged knowing what the merged layers before it produce.

One scratch module of the output config (float32, on the reader's device) walks the output:
1. the tensors before the first layer (embeddings) are merged (plain weighted mean, no Gram) and
   each calibration set's hidden states at the first layer's input are captured, together with
   the keyword arguments every layer receives (attention mask, rotary embeddings: they depend on
   the tokens only, not on weights);
2. for each output layer j: for each merged model m, layer j holds m's tensors for it and runs on
   the hidden states of m's calibration set, hooks summing x·xᵀ of every linear input (m's
   Statistic); the layer is merged with those statistics (the method's own function, via
   execute.compute) and the hidden states of every set move through the merged layer;
3. the tensors after the last layer (final norm, head): each model's own tail runs on the merged
   model's last hidden states (one forward pass of the scratch module).
FusionBench's CLIP version leaves the tail to the pretrained model; a causal LM's head is a
linear layer, so Clade merges it the same way. Memory: the scratch module plus every set's hidden
states (tokens × hidden size, float32).
"""

from __future__ import annotations

from collections import defaultdict

import torch

from tools.errors import BadInput
from tools.merge.execute import TensorReader, compute
from tools.merge.gram import Data, GramHooks, linear_modules
from tools.merge.methods.base import Statistic
from tools.merge.module import build_module, targets
from tools.merge.plan import Input, TensorPlan
from tools.merge.sources import split_layer


class _Stop(Exception):
    pass


def merged_grams(prepared, reader: TensorReader, seed: int, data: dict[str, Data]) -> dict[Input, Statistic]:
    scratch = build_module(prepared.config, torch.float32, str(reader.device))
    walk = _Walk(prepared, reader, seed, scratch, data)
    pre, layers, post = _groups(prepared.plans)
    walk.merge(pre)
    walk.start()
    for j, plans in enumerate(layers):
        walk.layer(j, plans)
    walk.tail(post)
    return walk.stats


def _groups(plans: list[TensorPlan]) -> tuple[list[TensorPlan], list[list[TensorPlan]], list[TensorPlan]]:
    """(before the layers, per output layer, after the layers)."""
    indexed = [(split_layer(p.name), p) for p in plans]
    first = next((i for i, (s, _) in enumerate(indexed) if s is not None), len(plans))
    last = max((i for i, (s, _) in enumerate(indexed) if s is not None), default=first - 1)
    layers: dict[int, list[TensorPlan]] = defaultdict(list)
    for split, plan in indexed[first : last + 1]:
        layers[split[1]].append(plan)
    return plans[:first], [layers[j] for j in sorted(layers)], plans[last + 1 :]


class _Walk:
    def __init__(self, prepared, reader: TensorReader, seed: int, scratch: torch.nn.Module, data: dict[str, Data]):
        self.prepared, self.reader, self.seed, self.scratch = prepared, reader, seed, scratch
        self.slots = targets(scratch)
        self.data = data
        self.sets = {d.tasks: d.batches(prepared.recipe.calibration.batch_size, reader.device) for d in data.values()}
        self.stats: dict[Input, Statistic] = {}
        self.layer_list = self._layer_list()

    def _layer_list(self) -> torch.nn.ModuleList:
        split = next((split_layer(p.name) for p in self.prepared.plans if split_layer(p.name)), None)
        if split is None:
            raise BadInput(f"merge_method {self.prepared.method.name}: the output has no layers to merge one after another")
        return self.scratch.get_submodule(split[0].split(".{}.")[0])

    def load(self, plan: TensorPlan, tensor: torch.Tensor) -> None:
        if plan.name not in self.slots:
            raise BadInput(f"tensor {plan.name}: the {type(self.scratch).__name__} built from the output config has no such parameter")
        with torch.no_grad():
            self.slots[plan.name].copy_(tensor)

    def merge(self, plans: list[TensorPlan]) -> None:
        for plan in plans:
            self.load(plan, compute(plan, self.reader, self.prepared.method, self.seed, self.stats))

    def start(self) -> None:
        """Hidden states at layer 0's input and every layer's keyword arguments, per batch."""
        self.hidden: dict[tuple, list[torch.Tensor]] = {}
        self.kwargs: dict[tuple, list[list[dict]]] = {}
        for key, batches in self.sets.items():
            captured = [self._capture(b) for b in batches]
            self.hidden[key] = [h for h, _ in captured]
            self.kwargs[key] = [k for _, k in captured]

    def _capture(self, batch) -> tuple[torch.Tensor, list[dict]]:
        seen: list = []

        def hook(module, args, kwargs):
            seen.append((args[0] if args else kwargs["hidden_states"], {k: v for k, v in kwargs.items() if k != "hidden_states"}))
            if len(seen) == len(self.layer_list):
                raise _Stop

        handles = [layer.register_forward_pre_hook(hook, with_kwargs=True) for layer in self.layer_list]
        try:
            with torch.no_grad():
                self.scratch(input_ids=batch.ids, attention_mask=batch.mask, use_cache=False)
        except _Stop:
            pass
        finally:
            for handle in handles:
                handle.remove()
        return seen[0][0], [kw for _, kw in seen]

    def layer(self, j: int, plans: list[TensorPlan]) -> None:
        layer = self.layer_list[j]
        for model in dict.fromkeys(i.model for p in plans if not p.copy for i in p.inputs):
            for plan in plans:
                self.load(plan, self.reader.get(_input_of(plan, model)))
            key = self.data[model].tasks
            hooks = GramHooks(linear_modules(layer))
            self._run(layer, j, key, hooks)
            self._record(model, plans, hooks, prefix=f"{self._prefix(j)}.")
        self.merge(plans)
        for key in self.sets:
            self.hidden[key] = self._run(layer, j, key, None)

    def _prefix(self, j: int) -> str:
        return next(n for n, m in self.scratch.named_modules() if m is self.layer_list[j])

    def _run(self, layer: torch.nn.Module, j: int, key: tuple, hooks: GramHooks | None) -> list[torch.Tensor]:
        outputs = []
        with torch.no_grad():
            for batch, hidden, kwargs in zip(self.sets[key], self.hidden[key], self.kwargs[key]):
                if hooks is not None:
                    hooks.valid = batch.mask.reshape(-1).bool()
                out = layer(hidden, **kwargs[j])
                outputs.append(out[0] if isinstance(out, tuple) else out)
        return outputs

    def _record(self, model: str, plans: list[TensorPlan], hooks: GramHooks, prefix: str) -> None:
        by_name = {p.name: p for p in plans}
        names = {m: f"{prefix}{m}.weight" for m in hooks.sums}
        for out_name, stat in hooks.result(names).items():
            if out_name in by_name:
                self.stats[_input_of(by_name[out_name], model)] = stat

    def tail(self, plans: list[TensorPlan]) -> None:
        tail_linears = {n: m for n, m in linear_modules(self.scratch).items() if not any(m is x for x in self.layer_list.modules())}
        for model in dict.fromkeys(i.model for p in plans if not p.copy for i in p.inputs):
            for plan in plans:
                self.load(plan, self.reader.get(_input_of(plan, model)))
            hooks = GramHooks(tail_linears)
            with torch.no_grad():
                for batch in self.sets[self.data[model].tasks]:
                    hooks.valid = batch.mask.reshape(-1).bool()
                    self.scratch(input_ids=batch.ids, attention_mask=batch.mask, use_cache=False)
            self._record(model, plans, hooks, prefix="")


def _input_of(plan: TensorPlan, model: str) -> Input:
    """The plan's input from `model` (a copy plan has one input, whichever model it is)."""
    if plan.copy:
        return plan.inputs[0]
    for item in plan.inputs:
        if item.model == model:
            return item
    raise BadInput(f"tensor {plan.name}: model {model} is not among its inputs")
