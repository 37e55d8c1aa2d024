"""Evaluation section of clade.yaml and task specs. (Owned by the evaluation layer; stub.)"""

from pydantic import BaseModel, ConfigDict


class EvaluationConfig(BaseModel):
    model_config = ConfigDict(extra="allow")
