"""The recipe: mergekit-compatible YAML (plus Clade's layer-path form), as pydantic models.

Field names and shapes follow mergekit 0.1.5's MergeConfiguration, so a mergekit YAML loads
unchanged. `layer_path` is Clade's data-flow-space form: an ordered list of (model, layer)
steps, repetitions allowed; it is compiled into one single-layer passthrough slice per step
(see `normalized_slices`), so it means exactly what the equivalent mergekit frankenmerge means.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from tools.merge.calibration import Calibration

Scalar = Union[bool, int, float, str]


def _nonempty_ref(value: str) -> str:
    if not value.strip():
        raise ValueError("an empty model reference; give a model name or directory")
    return value


ModelRef = Annotated[str, AfterValidator(_nonempty_ref)]  # a model name or directory: never empty


class Conditional(BaseModel):
    """`{filter: SUBSTRING, value: ...}`: applies to tensors whose name contains the filter."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    value: Union[Scalar, list[Scalar]]
    filter: str | None = None


Setting = Union[Conditional, list[Conditional], Scalar, list[Scalar]]
Parameters = dict[str, Setting]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelEntry(_Strict):
    model: ModelRef
    parameters: Parameters | None = None


class SliceSource(_Strict):
    model: ModelRef
    layer_range: tuple[int, int]
    parameters: Parameters | None = None

    @model_validator(mode="after")
    def _range(self) -> "SliceSource":
        start, end = self.layer_range
        if not 0 <= start < end:
            raise ValueError(f"layer_range {list(self.layer_range)} must satisfy 0 <= start < end")
        return self


class Slice(_Strict):
    sources: list[SliceSource] = Field(min_length=1)
    base_model: ModelRef | None = None
    parameters: Parameters | None = None
    residual_weight: float | None = None

    @model_validator(mode="after")
    def _lengths(self) -> "Slice":
        lengths = {s.layer_range[1] - s.layer_range[0] for s in self.sources}
        if len(lengths) > 1:
            raise ValueError(f"all sources of a slice must span the same number of layers (got {sorted(lengths)})")
        if self.residual_weight is not None:
            raise ValueError("residual_weight is not supported (mergekit ignores it too); remove it")
        return self

    @property
    def num_layers(self) -> int:
        start, end = self.sources[0].layer_range
        return end - start


class LayerStep(_Strict):
    """One step of a layer path: layer `layer` of `model`, with passthrough parameters (scale)."""

    model: ModelRef
    layer: int = Field(ge=0, strict=True)  # `"0"` or `true` is no layer number
    parameters: Parameters | None = None


class ModelToken(_Strict):
    """A token's embedding taken from one model's row: by id, or by the token's text there."""

    kind: Literal["model_token"]
    model: str
    token_id: int | None = Field(None, ge=0)
    token: str | None = None

    @model_validator(mode="after")
    def _one(self) -> ModelToken:
        if (self.token_id is None) == (self.token is None):
            raise ValueError("give exactly one of token_id and token")
        return self


class ZeroToken(_Strict):
    kind: Literal["zero"]


class TokenSetting(_Strict):
    """Where one output token's embedding comes from when a model lacks it (or always, with force)."""

    source: ModelToken | ZeroToken | str | None = None
    force: bool = False


class TokenizerSettings(_Strict):
    """mergekit's `tokenizer:` block: the output vocabulary and per-token embedding sources."""

    source: str = "union"
    tokens: dict[str, TokenSetting] | None = None
    pad_to_multiple_of: int | None = Field(None, ge=1)


class Recipe(_Strict):
    merge_method: str | None = None
    base_model: ModelRef | None = None
    models: list[ModelEntry] | None = None
    slices: list[Slice] | None = None
    layer_path: list[LayerStep] | None = None
    parameters: Parameters | None = None
    dtype: str | None = None
    out_dtype: str | None = None
    tokenizer_source: ModelRef | None = None
    tokenizer: TokenizerSettings | None = None
    chat_template: str | None = None
    name: str | None = None
    mixed_architectures: bool = False  # Clade's: merge sources of different model_type on purpose (checks.py)
    calibration: Calibration | None = None  # Clade's: data for the data-dependent methods (calibration.py)
    _paths: dict[str, Path] = PrivateAttr(default_factory=dict)
    _warnings: list[str] = PrivateAttr(default_factory=list)
    _adapters: dict[str, Path] = PrivateAttr(default_factory=dict)  # reference -> LoRA adapter directory
    _tasks: dict[str, Any] = PrivateAttr(default_factory=dict)  # calibration reference -> tools.evaluate Task

    @field_validator("merge_method")
    @classmethod
    def _named(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("empty; name a method (e.g. linear, ties, slerp, passthrough)")
        return value

    @model_validator(mode="after")
    def _one_form(self) -> "Recipe":
        given = [k for k in ("models", "slices", "layer_path") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError(f"exactly one of models, slices, layer_path must be given and non-empty (got {given or 'none'})")
        if self.merge_method is None and not self.layer_path:
            raise ValueError("merge_method is required (e.g. linear, ties, slerp, passthrough)")
        if self.layer_path and self.merge_method not in (None, "passthrough"):
            raise ValueError("a layer_path recipe uses merge_method passthrough (omit merge_method or set it to passthrough)")
        return self

    @property
    def vocabulary_source(self) -> str | None:
        """`tokenizer.source`, else `tokenizer_source` (mergekit: the block wins); None: no alignment."""
        return self.tokenizer.source if self.tokenizer is not None else self.tokenizer_source

    @property
    def method(self) -> str:
        return self.merge_method or "passthrough"

    def normalized_slices(self) -> list[Slice] | None:
        """`slices`, or the layer path as one single-layer slice per step; None for the models form."""
        if self.layer_path:
            return [
                Slice(sources=[SliceSource(model=s.model, layer_range=(s.layer, s.layer + 1), parameters=s.parameters)])
                for s in self.layer_path
            ]
        return self.slices

    def referenced_models(self) -> list[str]:
        """Every model name the recipe mentions, in first-mention order (base first)."""
        names: dict[str, None] = {}
        for name in self._mentions():
            names.setdefault(name, None)
        return list(names)

    def _mentions(self) -> list[str]:
        mentioned = [self.base_model] if self.base_model else []
        mentioned += [m.model for m in self.models or ()]
        for piece in self.normalized_slices() or ():
            mentioned += [s.model for s in piece.sources] + ([piece.base_model] if piece.base_model else [])
        for source in (self.tokenizer_source, self.tokenizer and self.tokenizer.source):
            if source and source not in ("base", "union"):
                mentioned.append(source)
        for setting in (self.tokenizer and self.tokenizer.tokens or {}).values():
            if isinstance(setting.source, str):
                mentioned.append(setting.source)
            elif isinstance(setting.source, ModelToken):
                mentioned.append(setting.source.model)
        return mentioned

    def to_yaml_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True, exclude_defaults=False)
