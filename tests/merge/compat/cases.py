"""mergekit's own test configurations and examples as equivalence cases over the tiny zoo.

One `Case` per configuration of arcee-ai/mergekit's tests/ (test_basic_merges.py: 49,
test_tokenizer.py: 8, test_chat_template.py: 2) and per file of its examples/ (6), with the
models of each replaced by zoo models (zoo.py). Configurations run in 16-bit also get an
`@fp32` twin: the same recipe in float32, where Clade must match mergekit within 1e-5.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Case:
    name: str
    suite: str  # "tests" or "examples"
    recipe: dict[str, Any]
    error: str | None = None  # a substring of the expected BadInput, when the case must be refused
    random: bool = False  # DARE / DELLA: compared by distribution, not value
    mergekit_options: dict[str, Any] = field(default_factory=dict)
    twin_of: str | None = None  # the 16-bit case this float32 case mirrors
    # where Clade deliberately differs from mergekit 0.1.5 (README, "Deliberate deviations"):
    # "dtype": mergekit writes this method's result in float32 whatever the recipe's dtype;
    # "tokenizer": mergekit writes an empty GPT-2 tokenizer for inputs that have none, Clade none;
    # "tie_picks": 16-bit TIES/Breadcrumbs keep different entries among equal magnitudes at the
    # top-k cut (Clade: the last in flat order; mergekit: its unstable sort's), so values are
    # compared by total magnitude only; the case's float32 twin is compared exactly
    deviations: frozenset[str] = frozenset()

    def __post_init__(self):
        sparsified = self.recipe.get("merge_method") in TIE_PICKING and self.recipe.get("dtype") in ("bfloat16", "float16")
        if sparsified:
            object.__setattr__(self, "deviations", self.deviations | {"tie_picks"})

    @property
    def models(self) -> list[str]:
        r = self.recipe
        names = [m["model"] for m in r.get("models", [])] + [s["model"] for piece in r.get("slices", []) for s in piece["sources"]]
        names += [r["base_model"]] if r.get("base_model") else []
        tokenizer = r.get("tokenizer") or {}
        names += [r["tokenizer_source"]] if r.get("tokenizer_source") not in (None, "base", "union") else []
        names += [tokenizer["source"]] if tokenizer.get("source") not in (None, "base", "union") else []
        for token in (tokenizer.get("tokens") or {}).values():
            source = token.get("source")
            names += [source] if isinstance(source, str) else [source["model"]] if isinstance(source, dict) and "model" in source else []
        return list(dict.fromkeys(part for n in names for part in n.split("+")))


TIE_PICKING = ("ties", "breadcrumbs", "breadcrumbs_ties")
DTYPE, TOKENIZER = frozenset({"dtype"}), frozenset({"tokenizer"})


def two(
    a: str,
    b: str,
    method: str,
    base: str | None = None,
    params: dict | None = None,
    dtype: str = "bfloat16",
    wa: float = 0.6,
    wb: float = 0.4,
) -> dict:
    recipe = {
        "merge_method": method,
        "models": [{"model": a, "parameters": {"weight": wa}}, {"model": b, "parameters": {"weight": wb}}],
        "dtype": dtype,
    }
    if base:
        recipe["base_model"] = base
    if params:
        recipe["parameters"] = params
    return recipe


def _nuslerp(prefix: str, a: str, b: str, c: str) -> list[Case]:
    cases = []
    for base in (None, c):
        for row_wise in (False, True):
            for flatten in (False, True):
                name = f"{prefix}nuslerp_{'base' if base else 'nobase'}_{'rowwise' if row_wise else 'colwise'}_{'flat' if flatten else 'notflat'}"
                cases.append(Case(name, "tests", two(a, b, "nuslerp", base, {"nuslerp_row_wise": row_wise, "nuslerp_flatten": flatten})))
    cases.append(
        Case(
            f"{prefix}nuslerp_zero_sum_weights",
            "tests",
            two(a, b, "nuslerp", c, {"nuslerp_row_wise": False, "nuslerp_flatten": False}, wa=-0.5, wb=0.5),
        )
    )
    return cases


def _family(prefix: str, a: str, b: str, c: str) -> list[Case]:
    """The merges test_basic_merges.py runs on both the pico Llama and the pico LLaVA."""
    return [
        Case(f"{prefix}linear", "tests", two(a, b, "linear")),
        Case(f"{prefix}slerp", "tests", two(a, b, "slerp", a, {"t": 0.35})),
        *_nuslerp(prefix, a, b, c),
        Case(f"{prefix}task_arithmetic", "tests", two(a, b, "task_arithmetic", c)),
        Case(f"{prefix}breadcrumbs", "tests", two(a, b, "breadcrumbs", c)),
        Case(f"{prefix}ties", "tests", two(a, b, "ties", c, {"density": 0.3})),
        Case(f"{prefix}dare_ties", "tests", two(a, b, "dare_ties", c, {"density": 0.66}), random=True),
        Case(f"{prefix}model_stock", "tests", two(b, c, "model_stock", a)),
        Case(f"{prefix}model_stock_filterwise", "tests", two(b, c, "model_stock", a, {"filter_wise": True})),
    ]


def basic() -> list[Case]:
    a, b, c = "model_a", "model_b", "model_c"
    passthrough_scale = {
        "merge_method": "passthrough",
        "models": [{"model": a, "parameters": {"scale": [{"filter": "o_proj", "value": 0}, {"value": 1}]}}],
    }
    return [
        Case("granite_copy", "tests", {"merge_method": "passthrough", "models": [{"model": "granite_a"}], "dtype": "bfloat16"}),
        Case("granite_linear", "tests", two("granite_a", "granite_b", "linear")),
        Case(
            "granite_slerp",
            "tests",
            {
                "merge_method": "slerp",
                "base_model": "granite_a",
                "models": [{"model": "granite_a"}, {"model": "granite_b"}],
                "parameters": {"t": 0.5},
                "dtype": "bfloat16",
            },
        ),
        Case(
            "gpt2_copy",
            "tests",
            {"merge_method": "passthrough", "models": [{"model": "gpt2_like"}], "dtype": "bfloat16"},
            deviations=TOKENIZER,
        ),
        Case(
            "gpt2_stack",
            "tests",
            {
                "merge_method": "passthrough",
                "slices": [{"sources": [{"model": "gpt2_like", "layer_range": [0, 12]}]}] * 2,
                "dtype": "bfloat16",
            },
            deviations=TOKENIZER,
        ),
        Case("passthrough_scale", "tests", passthrough_scale),
        *_family("", a, b, c),
        Case("sce", "tests", two(a, b, "sce", c, {"select_topk": 0.5})),
        Case("ram", "tests", two(a, b, "ram", c)),
        Case("ramplus_tl", "tests", two(a, b, "ramplus_tl", c, {"r": 0.05, "alpha": 1.0}), deviations=DTYPE),
        Case("multislerp", "tests", two(a, b, "multislerp", c)),
        Case("arcee_fusion", "tests", two(a, b, "arcee_fusion", a), deviations=DTYPE),
        Case("nearswap", "tests", two(a, b, "nearswap", a, {"t": 0.0001})),
        Case("della", "tests", two(a, b, "della", c, {"density": 0.66, "epsilon": 0.05, "lambda": 0.5}), random=True),
        Case(
            "della_invalid_epsilon",
            "tests",
            two(a, b, "della", c, {"density": 0.66, "epsilon": 1.35, "lambda": 0.5}),
            error="epsilon = 1.35",
        ),
        Case("karcher", "tests", two(a, b, "karcher", c, {"max_iter": 5, "tol": 1e-5})),
        *_family("vlm_", "vlm_a", "vlm_b", "vlm_c"),
    ]


def _tokenizer_recipe(models: list[str], method: str = "linear", **extra) -> dict:
    recipe = {
        "merge_method": method,
        "base_model": "tok_base",
        "models": [{"model": m, "parameters": {"weight": 1.0}} for m in models],
        "dtype": "float32",
    }
    return recipe | extra


def tokenizer() -> list[Case]:
    three = ["tok_base", "tok_padded", "tok_chatml"]
    force = {
        "source": "union",
        "tokens": {"_tok_10": {"source": "tok_chatml", "force": True}, "_tok_11": {"source": "tok_base", "force": True}},
    }
    by_id = {
        "source": "base",
        "tokens": {
            "_tok_20": {"source": {"kind": "model_token", "model": "tok_chatml", "token_id": 64}, "force": True},
            "_tok_21": {"source": {"kind": "model_token", "model": "tok_base", "token": "<s>"}, "force": True},
        },
    }
    padded = {
        "merge_method": "linear",
        "base_model": "tok_chatml",
        "models": [{"model": "tok_chatml", "parameters": {"weight": 1.0}}],
        "dtype": "float32",
        "tokenizer": {"source": "base", "pad_to_multiple_of": 16},
    }
    return [
        Case("tokenizer_legacy_mode", "tests", _tokenizer_recipe(three), mergekit_options={"unsafe_truncate_embeddings": True}),
        Case("tokenizer_source_base", "tests", _tokenizer_recipe(three, tokenizer_source="base")),
        Case("tokenizer_source_union", "tests", _tokenizer_recipe(three, tokenizer_source="union")),
        Case("tokenizer_source_model", "tests", _tokenizer_recipe(three, tokenizer_source="tok_chatml")),
        Case(
            "tokenizer_slerp_union",
            "tests",
            _tokenizer_recipe(["tok_base", "tok_chatml"], "slerp", tokenizer_source="union", parameters={"t": 0.5}),
        ),
        Case("tokenizer_force_token", "tests", _tokenizer_recipe(["tok_base", "tok_chatml"], tokenizer=force)),
        Case("tokenizer_model_token_id", "tests", _tokenizer_recipe(["tok_base", "tok_chatml"], tokenizer=by_id)),
        Case("tokenizer_pad_to_multiple_of", "tests", padded),
    ]


def chat_template() -> list[Case]:
    def recipe(template: str) -> dict:
        return {
            "merge_method": "linear",
            "base_model": "tok_base",
            "models": [{"model": "tok_base", "parameters": {"weight": 0.5}}, {"model": "model_b", "parameters": {"weight": 0.5}}],
            "dtype": "bfloat16",
            "chat_template": template,
        }

    return [
        Case("chat_template_chatml", "tests", recipe("chatml")),
        Case("chat_template_literal_jinja", "tests", recipe("{{messages[0]['content']}}")),
    ]


def examples() -> list[Case]:
    orca, platypus = "orca_mini", "platypus2"
    t = [{"filter": "self_attn", "value": [0, 0.5, 0.3, 0.7, 1]}, {"filter": "mlp", "value": [1, 0.5, 0.7, 0.3, 0]}, {"value": 0.5}]
    ties_models = [
        {"model": orca, "parameters": {"density": [1, 0.7, 0.1], "weight": 1.0}},
        {"model": platypus, "parameters": {"density": 0.5, "weight": [0, 0.3, 0.7, 1]}},
        {"model": "wizardmath", "parameters": {"density": 0.33, "weight": [{"filter": "mlp", "value": 0.5}, {"value": 0}]}},
    ]
    return [
        Case(
            "example_arcee_fusion",
            "examples",
            {
                "models": [{"model": "model_a"}, {"model": "model_b"}],
                "merge_method": "arcee_fusion",
                "base_model": "model_a",
                "dtype": "bfloat16",
            },
            deviations=DTYPE,
        ),
        Case(
            "example_bio_merge",
            "examples",
            {
                "models": [
                    {"model": "mistral_instruct", "parameters": {"density": 0.5, "weight": 0.5}},
                    {"model": "biomistral", "parameters": {"density": 0.5, "weight": 0.5}},
                ],
                "merge_method": "ties",
                "base_model": "mistral_base",
                "parameters": {"normalize": False, "int8_mask": True},
                "dtype": "float16",
            },
        ),
        Case(
            "example_gradient_slerp",
            "examples",
            {
                "slices": [{"sources": [{"model": orca, "layer_range": [0, 40]}, {"model": platypus, "layer_range": [0, 40]}]}],
                "merge_method": "slerp",
                "base_model": orca,
                "parameters": {"t": t},
                "dtype": "float16",
            },
        ),
        Case(
            "example_linear",
            "examples",
            {
                "models": [
                    {"model": orca, "parameters": {"weight": 1.0}},
                    {"model": "wizardlm", "parameters": {"weight": 0.3}},
                    {"model": platypus, "parameters": {"weight": 0.5}},
                ],
                "merge_method": "linear",
                "dtype": "float16",
            },
        ),
        Case(
            "example_orcamini_platy_44layer",
            "examples",
            {
                "slices": [
                    {"sources": [{"model": orca, "layer_range": [0, 24]}]},
                    {"sources": [{"model": platypus, "layer_range": [20, 40]}]},
                ],
                "merge_method": "passthrough",
                "dtype": "float16",
            },
        ),
        Case(
            "example_ties",
            "examples",
            {
                "models": ties_models,
                "merge_method": "ties",
                "base_model": "llama2_13b",
                "parameters": {"normalize": True, "int8_mask": True},
                "dtype": "float16",
            },
        ),
    ]


def extra() -> list[Case]:
    """Beyond mergekit's own tests: Mixtral experts saved per expert and fused, LoRA references
    (mergekit merges the adapter with PEFT)."""
    return [
        Case(
            "lora_linear",
            "extra",
            {
                "merge_method": "linear",
                "models": [{"model": "model_a+lora_a", "parameters": {"weight": 0.5}}, {"model": "model_b", "parameters": {"weight": 0.5}}],
                "dtype": "float32",
            },
        ),
        Case(
            "mixtral_ties",
            "extra",
            {
                "merge_method": "ties",
                "base_model": "mixtral_c",
                "models": [
                    {"model": "mixtral_a", "parameters": {"weight": 1.0, "density": 0.5}},
                    {"model": "mixtral_fused", "parameters": {"weight": 0.5, "density": 0.5}},
                ],
                "dtype": "float32",
            },
        ),
        Case(
            "mixtral_slerp",
            "extra",
            {
                "merge_method": "slerp",
                "base_model": "mixtral_a",
                "models": [{"model": "mixtral_a"}, {"model": "mixtral_b"}],
                "parameters": {"t": 0.3},
                "dtype": "float32",
            },
        ),
        Case(
            "mixtral_model_stock",
            "extra",
            {
                "merge_method": "model_stock",
                "base_model": "mixtral_c",
                "models": [{"model": "mixtral_a"}, {"model": "mixtral_b"}, {"model": "mixtral_fused"}],
                "dtype": "float32",
            },
        ),
        Case(
            "lora_ties",
            "extra",
            {
                "merge_method": "ties",
                "base_model": "model_c",
                "models": [
                    {"model": "model_a+lora_a", "parameters": {"weight": 1.0, "density": 0.5}},
                    {"model": "model_b", "parameters": {"weight": 0.5, "density": 0.5}},
                ],
                "dtype": "float32",
            },
        ),
    ]


def _twin(case: Case) -> Case:
    recipe = copy.deepcopy(case.recipe) | {"dtype": "float32"}
    return Case(
        case.name + "@fp32",
        case.suite,
        recipe,
        case.error,
        case.random,
        case.mergekit_options,
        twin_of=case.name,
        deviations=case.deviations - {"tie_picks"},
    )


def all_cases() -> list[Case]:
    cases = basic() + tokenizer() + chat_template() + examples() + extra()
    twins = [_twin(c) for c in cases if c.recipe.get("dtype") in ("bfloat16", "float16") and not c.random and not c.error]
    return cases + twins


CASES = {case.name: case for case in all_cases()}
