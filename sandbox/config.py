"""Sandbox section of clade.yaml. (Owned by the sandbox layer; stub.)"""

from pydantic import BaseModel, ConfigDict


class SandboxConfig(BaseModel):
    model_config = ConfigDict(extra="allow")
