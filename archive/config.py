"""The `archive:` section of clade.yaml."""

from pydantic import BaseModel, ConfigDict, Field


class ArchiveConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str = Field("archive", description="the archive's git repository, relative to the workspace")
    fsync: bool = Field(
        False, description="fsync every object and ref before a record returns (survives power loss, not only kill -9; about 4 ms per file)"
    )
