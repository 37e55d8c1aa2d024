"""Task specs and the `evaluation:` section of clade.yaml (pydantic, no torch).

A task is one YAML file (or an inline mapping in clade.yaml) over JSONL data, of one of three
kinds: `generation` (greedy decoding, exact match after answer extraction), `multiple_choice`
(log-likelihood of each option) and `perplexity`. Every task has a `search` split, the only
one a search may select on, and a `test` split, held out for reporting.
"""

from __future__ import annotations

import math
import re
import string
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SPLITS = ("search", "test")
Split = Literal["search", "test"]
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"

# Metrics each kind reports, and which of them may feed the fitness (higher is better).
METRICS = {
    "generation": ("exact_match", "char_accuracy", "target_logprob"),
    "multiple_choice": ("acc", "acc_norm"),
    "perplexity": ("perplexity", "bits_per_char", "token_logprob", "mean_token_prob"),
}
LOWER_IS_BETTER = frozenset({"perplexity", "bits_per_char"})
DEFAULT_METRIC = {"generation": "exact_match", "multiple_choice": "acc", "perplexity": "mean_token_prob"}


MAX_FORMAT_WIDTH = 10_000


def check_template(template: str) -> str:
    """A format string over a record's fields: it must parse, name its fields, and keep widths sane."""
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(f"template {template!r} is not a valid format string ({exc}); write a literal brace as {{{{ or }}}}") from None
    for _, field, spec, _ in parts:
        if field is None:
            continue
        if not field or field[0].isdigit():
            raise ValueError(f"template {template!r} has a positional field {{{field}}}; name a record field, e.g. {{prompt}}")
        if any(int(n) > MAX_FORMAT_WIDTH for n in re.findall(r"\d+", spec or "")):
            raise ValueError(f"template {template!r} has a format width over {MAX_FORMAT_WIDTH}")
    return template


class _TaskBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=NAME_PATTERN)
    description: str = Field("", description="one line: what the task measures (the planner's prompts show it)")
    data: dict[str, str] = Field(description="split name -> JSONL file; needs `search` and `test`")
    metric: str | None = Field(None, description="the metric that feeds the fitness (default per kind)")
    num_fewshot: int = Field(0, ge=0)
    fewshot_split: str = "fewshot"
    fewshot_separator: str = "\n"
    chat_template: bool = False

    @field_validator("data")
    @classmethod
    def _has_both_splits(cls, data: dict[str, str]) -> dict[str, str]:
        missing = [s for s in SPLITS if s not in data]
        if missing:
            raise ValueError(f"no data file for split {missing[0]!r} (every task needs `search` and `test`)")
        return data

    @model_validator(mode="after")
    def _check(self):
        kind = self.kind  # type: ignore[attr-defined]
        if self.metric is not None and self.metric not in METRICS[kind]:
            raise ValueError(f"metric {self.metric!r} is not one of {', '.join(METRICS[kind])}")
        if self.metric in LOWER_IS_BETTER:
            raise ValueError(f"metric {self.metric!r} is lower-is-better; the fitness needs a higher-is-better one")
        if self.num_fewshot and self.fewshot_split not in self.data:
            raise ValueError(f"num_fewshot is {self.num_fewshot} but data has no {self.fewshot_split!r} split")
        if self.num_fewshot and self.fewshot_split in SPLITS:
            raise ValueError("fewshot_split must be a split of its own, not `search` or `test`")
        return self

    @property
    def fitness_metric(self) -> str:
        return self.metric or DEFAULT_METRIC[self.kind]  # type: ignore[attr-defined]


class GenerationTask(_TaskBase):
    """Greedy decoding; the answer is extracted from the output and compared with the target."""

    kind: Literal["generation"]
    prompt: str = Field("{prompt}", description="format string over a record's fields")
    target: str = Field("{answer}", description="format string: the expected answer")
    answer_pattern: str | None = Field(None, description="regex; group 1 (or the whole match) is the answer")
    max_new_tokens: int = Field(32, ge=1)
    stop: list[str] = Field(default_factory=list, description="strings that end the output (EOS always does)")
    score_target: bool = Field(False, description="also report target_logprob (one extra forward pass)")

    _templates = field_validator("prompt", "target")(classmethod(lambda cls, v: check_template(v)))

    @model_validator(mode="after")
    def _scored(self):
        if self.metric == "target_logprob" and not self.score_target:
            raise ValueError("metric target_logprob needs `score_target: true` (it is only measured then)")
        return self

    @field_validator("answer_pattern")
    @classmethod
    def _compiles(cls, pattern: str | None) -> str | None:
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"answer_pattern is not a valid regex ({exc})") from None
        return pattern


class ChoiceTask(_TaskBase):
    """The option with the highest log-likelihood after the context is the model's answer."""

    kind: Literal["multiple_choice"]
    prompt: str = Field("{question}", description="format string: the context")
    choices: str = Field("choices", description="record field holding the list of options")
    gold: str = Field("gold", description="record field holding the index of the correct option")
    choice_prefix: str = Field(" ", description="put between the context and each option")

    _templates = field_validator("prompt")(classmethod(lambda cls, v: check_template(v)))


class PerplexityTask(_TaskBase):
    """Log-likelihood of whole texts; every token after the first is scored."""

    kind: Literal["perplexity"]
    text: str = Field("{text}", description="format string: the text to score")

    _templates = field_validator("text")(classmethod(lambda cls, v: check_template(v)))


TaskSpec = Annotated[GenerationTask | ChoiceTask | PerplexityTask, Field(discriminator="kind")]


class CascadeConfig(BaseModel):
    """A cheap first pass on the first `examples` records of each task's search split."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    examples: int = Field(ge=1, description="records per task in the first pass")
    threshold: float = Field(description="first-pass fitness below which the full pass is skipped")


class EvaluationConfig(BaseModel):
    """The `evaluation:` section of clade.yaml."""

    model_config = ConfigDict(extra="forbid")

    tasks: list[str | TaskSpec] = Field(
        default_factory=list, description="task spec YAML files (relative to the workspace) or inline specs"
    )
    weights: dict[str, float] = Field(default_factory=dict, description="task name -> weight (default 1)")
    cascade: CascadeConfig | None = None
    batch_size: int = Field(64, ge=1, description="prompts per forward pass")
    command: list[str] | None = Field(None, description="argv of a command evaluator (code candidates)")
    command_timeout_s: float = Field(600.0, gt=0)

    @field_validator("weights")
    @classmethod
    def _non_negative(cls, weights: dict[str, float]) -> dict[str, float]:
        for name, weight in weights.items():
            if not math.isfinite(weight):
                raise ValueError(f"weight of task {name!r} is {weight}; give a finite number (0 or more)")
            if weight < 0:
                raise ValueError(f"weight of task {name!r} is negative ({weight})")
        return weights
