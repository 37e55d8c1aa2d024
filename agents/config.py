"""`clade.yaml`: one workspace's configuration, loaded explicitly into pydantic models.

Each layer owns its section's model (evaluation, sandbox, archive); this module composes
them. Paths in the file are relative to the workspace directory. Environment variables
are not read here: only at the edge (API keys in the LLM client, CLADE_* in the CLI).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from agents.code.config import CodeConfig
from agents.planner_config import PlannerConfig
from archive.config import ArchiveConfig
from sandbox.config import SandboxConfig
from tools.evaluate.spec import EvaluationConfig

CONFIG_NAME = "clade.yaml"


class Source(BaseModel):
    """A model a search starts from: a Hugging Face model directory."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    path: str


class WorkspaceConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    name: str = "clade"
    base: str | None = None
    sources: list[Source] = Field(default_factory=list)
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig)
    archive: ArchiveConfig = Field(default_factory=ArchiveConfig)
    sandbox: SandboxConfig = Field(default_factory=SandboxConfig)
    planner: PlannerConfig = Field(default_factory=PlannerConfig)
    code: CodeConfig | None = None


class Workspace(BaseModel):
    """A loaded workspace: its directory and its configuration."""

    model_config = ConfigDict(frozen=True)
    root: Path
    config: WorkspaceConfig

    def path(self, relative: str | Path) -> Path:
        """A path from clade.yaml, resolved against the workspace directory."""
        return (self.root / relative).resolve()

    def model_paths(self) -> dict[str, Path]:
        """Name -> directory for the base (named `base`) and every source."""
        paths = {s.name: self.path(s.path) for s in self.config.sources}
        if self.config.base is not None:
            paths.setdefault("base", self.path(self.config.base))
        return paths
