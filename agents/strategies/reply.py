"""What the LLM must reply, as pydantic models, and the parser that reads a reply into them.

A reply is one JSON object, in a ```json fence or bare (prompts/merge_propose.md and
prompts/hybrid_structure.md show the format; this file is the one that reads it). Every
failure is a `ReplyError` whose text is written for the LLM: what was wrong and what to
send instead; prompts/merge_repair.md carries it back.

- `MergeReply` (llm strategy): a whole recipe: method, base, sources, per-source parameters
  (a number for every layer group, or a list with one value per group), method parameters,
  layer groups, or a layer path instead; plus the rationale.
- `StructureReply` (hybrid strategy): the structure CMA-ES refines: method, sources, layer
  groups, optionally where CMA-ES starts (`start`) and its step size (`sigma`); plus the
  rationale (agents/strategies/hybrid_start.py checks `start` and `sigma`).
"""

from __future__ import annotations

import json
import re
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

Number = float | bool
PerGroup = Number | list[float]
FENCE = re.compile(r"```(?:json|JSON)?[ \t]*\n(.*?)```", re.DOTALL)


class ReplyError(ValueError):
    """The reply could not be used; `str(exc)` is what the repair prompt tells the LLM."""


class _Reply(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rationale: str = Field(min_length=1, description="why this should beat what was tried, in a few sentences")


class PathStep(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model: str
    layer: int = Field(ge=0)
    scale: float = Field(1.0, gt=0, le=4, description="multiplies the layer's residual outputs (o_proj, down_proj)")


class MergeReply(_Reply):
    method: str = Field(description="a merge method from the list, or passthrough with layer_path")
    base: str | None = Field(None, description="the base model, for methods that take one")
    sources: list[str] = Field(default_factory=list, description="the models merged (not the base)")
    layer_groups: int = Field(1, gt=0)
    parameters: dict[str, dict[str, PerGroup]] = Field(default_factory=dict, description="source -> name -> value(s)")
    method_parameters: dict[str, PerGroup] = Field(default_factory=dict)
    layer_path: list[PathStep] | None = None
    built_on: list[str] = Field(
        default_factory=list,
        description="candidate ids the recipe builds on (its lineage parents); empty: the parents chosen for the proposal",
    )

    @model_validator(mode="after")
    def _form(self) -> "MergeReply":
        if self.layer_path is not None:
            if self.method != "passthrough" or self.sources or self.parameters:
                raise ValueError("a layer_path reply has method passthrough and no sources or parameters")
            if not self.layer_path:
                raise ValueError("layer_path is empty: list at least one {model, layer} step")
            return self
        if not self.sources:
            raise ValueError("sources is empty: name the models to merge (or give a layer_path)")
        unknown = sorted(set(self.parameters) - set(self.sources))
        if unknown:
            raise ValueError(f"parameters name {unknown}, which are not in sources {self.sources}")
        return self


class StructureReply(_Reply):
    method: Literal["ties", "dare_ties", "task_arithmetic", "linear", "slerp"]
    sources: list[str] = Field(min_length=1)
    layer_groups: int = Field(1, gt=0)
    start: dict[str, PerGroup | dict[str, PerGroup]] | None = Field(
        None, description="source -> {weight, density}: CMA-ES's start point (slerp: {t}); left out: the configured x0"
    )
    sigma: float | None = Field(None, description="CMA-ES's initial step size in gene space; left out: planner.evolution.sigma")


R = TypeVar("R", bound=BaseModel)


def parse_reply(text: str, model: type[R]) -> R:
    """The reply's one JSON object validated as `model`; ReplyError saying what to fix otherwise."""
    data = _json_object(text)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ReplyError(f"the JSON object does not fit the reply format: {describe_errors(exc)}") from None


def describe_errors(exc: ValidationError, limit: int = 5) -> str:
    """Every error (up to `limit`) as `field a.b: reason`, for the LLM to fix all at once."""
    lines = []
    for err in exc.errors()[:limit]:
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        lines.append(f"field {where}: {err['msg'].removeprefix('Value error, ')}")
    more = f"; and {exc.error_count() - limit} more" if exc.error_count() > limit else ""
    return "; ".join(lines) + more


def _json_object(text: str) -> dict:
    blocks = FENCE.findall(text)
    if len(blocks) > 1:
        raise ReplyError(f"the reply has {len(blocks)} ```json blocks; send exactly one JSON object")
    body = blocks[0] if blocks else _bare(text)
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        raise ReplyError(f"the JSON is not valid: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    if not isinstance(data, dict):
        raise ReplyError(f"expected one JSON object {{...}}, got a JSON {type(data).__name__}")
    return data


def _bare(text: str) -> str:
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end < start:
        raise ReplyError("no JSON object found: reply with one JSON object in a ```json fence")
    return text[start : end + 1]
