"""`code:` in clade.yaml: a code search's workspace, what may be edited, and how it is evaluated."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class CodeConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    workspace: str = Field(description="directory of the seed workspace tree, relative to clade.yaml")
    editable: list[str] = Field(min_length=1, description="globs of the files the planner may edit")
    command: list[str] = Field(min_length=1, description="evaluation command; its last stdout line is a JSON object of metrics")
    fitness_key: str = "fitness"
