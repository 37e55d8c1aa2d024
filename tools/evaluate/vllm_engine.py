"""Optional vLLM engine for generation-heavy suites (extra `clade[vllm]`): one running engine, each
merged candidate's weights pushed into it, greedy generation in vLLM, every other score in Clade.

    engine = VllmEngine.start(template_dir, device="cuda")     # None when vLLM is absent (one line says so)
    result = evaluate_with_engine(engine, module, tokenizer, suite, split="search")

How the weights get in: vLLM's supported weight-update path, as its RLHF examples use it, not its
private internals. The engine is an `LLM(..., worker_extension_cls=EXTENSION)`; `push(module)` sends
the merged module's tensors, in chunks of at most `chunk_mb`, through `LLM.collective_rpc(
"clade_load_weights", args=(chunk,))`, which runs `CladeWorkerExtension.clade_load_weights` in
every vLLM worker: `self.model_runner.model.load_weights(chunk)` (the model's public loader, which
takes checkpoint names and does vLLM's own fusing and sharding); then `LLM.reset_prefix_cache()` so
no KV block computed with the previous weights is reused. Generation: `LLM.generate` on token-id
prompts (the same ids Clade's loop feeds), `temperature=0`, the task's `max_new_tokens` and stop
token ids; each output is cut before its first stop token as Clade's loop cuts it. Multiple
choice and perplexity scoring (and `score_target`) stay on Clade's loop over `module`, so the
scores are Clade's: the greedy contract (same prompt ids in, same tokens out, same cut) is what
makes the generation columns equal token for token.

Engine object interface used here (what `tests/evaluate/test_vllm_engine.py`'s fake engine
implements on CPU): `generate(prompts: [{"prompt_token_ids": [...]}], sampling_params,
use_tqdm=False) -> [out with .outputs[0].token_ids]`, `collective_rpc(method, args=()) -> list`,
`reset_prefix_cache()`. A GPU run of the whole path is one command:

    python benchmarks/vllm_engine.py WORKSPACE [--recipe RECIPE.yaml] [--split search] [--device cuda]

which merges the recipe (default: an equal-weight linear merge of the workspace's sources)
resident, evaluates it with Clade's loop and with vLLM, and prints both fitnesses, whether every
generated token agreed, and the seconds each took.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import torch

from tools.errors import BadInput

EXTENSION = "tools.evaluate.vllm_engine.CladeWorkerExtension"
LOAD_METHOD = "clade_load_weights"
_SWAP = threading.Lock()
FALLBACK_LINE = "clade evaluate: vLLM is not installed (pip install 'clade[vllm]'); generation runs on Clade's own loop"


class CladeWorkerExtension:
    """Mixed into each vLLM worker (`worker_extension_cls`); called through `LLM.collective_rpc`."""

    def clade_load_weights(self, weights: list[tuple[str, torch.Tensor]]) -> int:
        device = next(self.model_runner.model.parameters()).device
        self.model_runner.model.load_weights(weights=((name, t.to(device, non_blocking=True)) for name, t in weights))
        return len(weights)


def vllm_available() -> bool:
    return importlib.util.find_spec("vllm") is not None


def weight_chunks(tensors: Iterable[tuple[str, torch.Tensor]], chunk_mb: float) -> Iterator[list[tuple[str, torch.Tensor]]]:
    """(name, tensor) pairs in lists of at most `chunk_mb` (a larger tensor goes alone); each tensor
    detached and contiguous (what crosses the process boundary), tied duplicates sent once."""
    limit, chunk, size, seen = chunk_mb * 2**20, [], 0, set()
    for name, tensor in tensors:
        key = (tensor.data_ptr(), tuple(tensor.shape), tensor.dtype)
        if tensor.data_ptr() and key in seen:
            continue
        seen.add(key)
        nbytes = tensor.numel() * tensor.element_size()
        if chunk and size + nbytes > limit:
            yield chunk
            chunk, size = [], 0
        chunk.append((name, tensor.detach().contiguous()))
        size += nbytes
    if chunk:
        yield chunk


def cut_at_stop(tokens: list[int], stop_ids: set[int]) -> list[int]:
    """The tokens before the first stop token (Clade's loop's cut; vLLM may keep the stop token)."""
    for i, token in enumerate(tokens):
        if token in stop_ids:
            return tokens[:i]
    return list(tokens)


class VllmEngine:
    """A running vLLM engine (or any object with its interface) that candidates' weights are pushed into."""

    def __init__(self, llm: Any, *, sampling: Callable[..., Any] | None = None, chunk_mb: float = 512.0):
        self.llm, self.chunk_mb = llm, chunk_mb
        self.sampling = sampling or _vllm_sampling
        self.pushes = 0

    @classmethod
    def start(
        cls,
        template_dir,
        *,
        device: str = "cuda",
        dtype: str = "auto",
        gpu_memory_utilization: float = 0.6,
        max_model_len: int | None = None,
        **options,
    ) -> VllmEngine | None:
        """An engine for models shaped like `template_dir` (its config and tokenizer; the weights are
        replaced by every push), or None, after one line on stderr, where vLLM is not installed."""
        if not vllm_available():
            print(FALLBACK_LINE, file=sys.stderr)
            return None
        if not str(device).startswith("cuda"):
            raise BadInput(f"device {device!r}: the vLLM engine runs on a GPU (cuda); use Clade's own loop on {device}")
        from vllm import LLM

        llm = LLM(
            model=str(template_dir),
            dtype=dtype,
            worker_extension_cls=EXTENSION,
            enforce_eager=True,
            gpu_memory_utilization=gpu_memory_utilization,
            max_model_len=max_model_len,
            seed=0,
            **options,
        )
        return cls(llm)

    def push(self, module: torch.nn.Module) -> int:
        """Load `module`'s weights (checkpoint names) into every worker; returns how many tensors went."""
        sent = 0
        for chunk in weight_chunks(module.state_dict().items(), self.chunk_mb):
            self.llm.collective_rpc(LOAD_METHOD, args=(chunk,))
            sent += len(chunk)
        self.llm.reset_prefix_cache()
        self.pushes += 1
        return sent

    def generate(self, prompts: list[list[int]], max_new_tokens: int, stop_ids: list[int]) -> list[list[int]]:
        """Greedy continuations of token-id prompts, each cut before its first stop token."""
        params = self.sampling(max_new_tokens=max_new_tokens, stop_token_ids=list(stop_ids))
        outputs = self.llm.generate([{"prompt_token_ids": list(p)} for p in prompts], params, use_tqdm=False)
        stops = set(stop_ids)
        return [cut_at_stop(list(out.outputs[0].token_ids), stops) for out in outputs]


def _vllm_sampling(*, max_new_tokens: int, stop_token_ids: list[int]):
    from vllm import SamplingParams

    return SamplingParams(temperature=0.0, max_tokens=max_new_tokens, stop_token_ids=stop_token_ids, detokenize=False)


def prompt_ids(prepared) -> list[list[int]]:
    """Each example's prompt token ids, unpadded, in example order (from Clade's own generation batches)."""
    prompts: list[list[int]] = [[] for _ in prepared.examples]
    for batch in prepared.gen:
        for row, ids, mask in zip(batch.rows, batch.ids.tolist(), batch.mask.tolist()):
            prompts[row] = [t for t, m in zip(ids, mask) if m]
    return prompts


def evaluate_with_engine(
    engine: VllmEngine | None, module, tokenizer, suite, *, split: str = "search", device: str = "cpu", push: bool = True
):
    """`tools.evaluate.runner.evaluate_module`, with generation tasks' greedy decoding done by `engine`
    (after pushing `module`'s weights into it); with no engine, exactly Clade's own loop."""
    from tools.evaluate import runner

    if engine is None:
        return runner.evaluate_module(module, tokenizer, suite, split=split, device=device)
    if push:
        engine.push(module)

    def generation(model, tok, spec, prepared):
        outputs = engine.generate(prompt_ids(prepared), spec.max_new_tokens, prepared.stop_ids.tolist())
        return _generation_columns(model, tok, spec, prepared, outputs)

    with _SWAP:  # the runner's generation step, replaced for this call only
        own, runner._generation = runner._generation, generation
        try:
            return runner.evaluate_module(module, tokenizer, suite, split=split, device=device)
        finally:
            runner._generation = own


def _generation_columns(model, tokenizer, spec, prepared, outputs: list[list[int]]):
    from tools.evaluate import metrics, runner

    texts = tokenizer.batch_decode(outputs, skip_special_tokens=True)
    predictions = [metrics.extract_answer(runner._cut_at_stop(text, spec.stop), spec.answer_pattern) for text in texts]
    columns = metrics.generation_columns(predictions, [ex.target for ex in prepared.examples])
    if spec.score_target:
        columns["logprob"] = runner._scores(model, prepared)
        columns["tokens"] = [float(n) for n in prepared.tokens]
    return columns
