"""The vLLM evaluation engine on CPU: everything but the engine call, through a fake engine with vLLM's interface.

The fake keeps its own copy of a model (started from the base's weights, as a vLLM engine starts
from the template's), takes pushed weights through `collective_rpc` into `CladeWorkerExtension`
(the code that runs inside vLLM's workers), and decodes greedily (keeping the stop token, as
vLLM may). Equal scores to Clade's own loop on the merged module prove the weights went in.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from tools.evaluate.inference import generation_batches, greedy_generate
from tools.evaluate.vllm_engine import (
    FALLBACK_LINE,
    CladeWorkerExtension,
    VllmEngine,
    evaluate_with_engine,
    weight_chunks,
)


class FakeVllm:
    """vLLM's `LLM` as the engine uses it: collective_rpc, reset_prefix_cache, generate on token ids."""

    def __init__(self, model, pad_id: int, batch_size: int):
        self.model, self.pad_id, self.batch_size, self.resets, self.loaded = model, pad_id, batch_size, 0, 0
        runner_model = SimpleNamespace(parameters=model.parameters, load_weights=self._load_weights)
        self.worker = SimpleNamespace(model_runner=SimpleNamespace(model=runner_model))

    def _load_weights(self, weights):
        params = self.model.state_dict()
        with torch.no_grad():
            for name, tensor in weights:
                params[name].copy_(tensor)
                self.loaded += 1

    def collective_rpc(self, method: str, args=()):
        return [getattr(CladeWorkerExtension, method)(self.worker, *args)]

    def reset_prefix_cache(self) -> bool:
        self.resets += 1
        return True

    def generate(self, prompts, params, use_tqdm=False):
        ids = [p["prompt_token_ids"] for p in prompts]
        stop = torch.tensor(params["stop_token_ids"])
        outputs = [None] * len(ids)
        for batch in generation_batches(ids, self.batch_size, self.pad_id, "cpu"):
            for row, tokens in zip(batch.rows, greedy_generate(self.model, batch, params["max_new_tokens"], stop)):
                kept = tokens + [params["stop_token_ids"][0]] if len(tokens) < params["max_new_tokens"] else tokens
                outputs[row] = SimpleNamespace(outputs=[SimpleNamespace(token_ids=kept)])
        return outputs


@pytest.fixture(scope="module")
def merged(tmp_path_factory):
    from agents.init_cmd import copy_example
    from agents.workspace import load_workspace
    from tools.evaluate.loading import load_model, load_tokenizer
    from tools.evaluate.suite import load_suite
    from tools.merge.resident import ResidentMerger

    root = tmp_path_factory.mktemp("vllm") / "zoo"
    copy_example("tiny-zoo", root)
    workspace = load_workspace(root)
    recipe = {
        "merge_method": "linear",
        "models": [{"model": "adder", "parameters": {"weight": 0.6}}, {"model": "sorter", "parameters": {"weight": 0.4}}],
    }
    merger = ResidentMerger({k: str(v) for k, v in workspace.model_paths().items()})
    module = merger.apply(recipe)
    tokenizer = load_tokenizer(merger.tokenizer_dir(recipe))
    base = load_model(workspace.model_paths()["base"])[0]
    return SimpleNamespace(module=module, tokenizer=tokenizer, suite=load_suite(workspace), base=base)


def test_pushed_weights_give_clade_loops_scores_token_for_token(merged):
    own = evaluate_with_engine(None, merged.module, merged.tokenizer, merged.suite)
    fake = FakeVllm(merged.base, merged.tokenizer.pad_token_id or 0, merged.suite.batch_size)
    before = evaluate_with_engine(VllmEngine(fake, sampling=lambda **kw: kw), merged.base, merged.tokenizer, merged.suite, push=False)
    assert before.per_example != own.per_example  # the engine's starting weights score differently ...
    engine = VllmEngine(fake, sampling=lambda **kw: kw, chunk_mb=0.05)
    got = evaluate_with_engine(engine, merged.module, merged.tokenizer, merged.suite)
    assert got.per_example == own.per_example and got.fitness == own.fitness and got.tasks == own.tasks  # ... until pushed
    assert fake.resets == 1 and fake.loaded == sum(map(len, weight_chunks(merged.module.state_dict().items(), 1e9)))


def test_without_vllm_one_line_says_so(capsys):  # vllm is never in the lock: start() falls back
    assert VllmEngine.start("/nonexistent-template") is None
    assert capsys.readouterr().err.strip() == FALLBACK_LINE


def test_weight_chunks_respect_the_size_and_send_tied_tensors_once():
    shared = torch.zeros(256)  # 1 KiB
    pairs = [("a", shared), ("tied", shared), ("b", torch.zeros(256)), ("c", torch.zeros(512))]
    chunks = list(weight_chunks(pairs, chunk_mb=2 / 1024))
    assert [[name for name, _ in chunk] for chunk in chunks] == [["a", "b"], ["c"]]
