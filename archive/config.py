"""Archive section of clade.yaml. (Owned by the archive layer; stub.)"""

from pydantic import BaseModel, ConfigDict


class ArchiveConfig(BaseModel):
    model_config = ConfigDict(extra="allow")
    path: str = "archive"
