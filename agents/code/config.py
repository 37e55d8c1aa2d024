"""`code:` in clade.yaml: a code search's workspace, what may be edited, and how it is evaluated.

    code:
      workspace: seed                 # the seed tree (editable files and whatever they need)
      editable: ["*.py"]              # globs relative to the tree, matched per path part (`*` stays in one directory, `**` spans several)
      inputs: {eval: eval, zoo: zoo}  # read-only inputs outside the tree: the evaluator and its data
      command: ["{python}", "{eval}/evaluate.py", "--zoo", "{zoo}", "--split", "{split}"]
      quick: {command: ["{python}", "{eval}/evaluate.py", "--quick"], threshold: 0.5}   # optional cascade
      novelty: {max_similarity: 0.995}    # optional: reject a child this similar to its parent
      diagnose: true                  # read the parent's evaluation log and say what to improve first

Placeholders in `command` and `quick.command`: `{python}` (the Python running Clade, which
the sandbox shows), `{split}` (search, or the held-out split) and one per `inputs` name
(its absolute path). The command runs in the candidate's tree; its last stdout line is a
JSON object of metrics, `fitness_key` names the fitness.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


class QuickCheck(BaseModel):
    """The cascade's first stage: the full evaluation runs only if this passes."""

    model_config = ConfigDict(extra="forbid")
    command: list[str] = Field(min_length=1, description="must exit 0 (and reach `threshold` when set)")
    threshold: float | None = Field(None, description="least value of `fitness_key` in its metrics to pass")


class NoveltyConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_similarity: float | None = Field(
        None,
        gt=0,
        le=1,
        description="text similarity to the parent (0..1) at or above which a child is rejected; None: only identical trees are",
    )


class CodeConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    workspace: str = Field(description="directory of the seed workspace tree, relative to clade.yaml")
    editable: list[str] = Field(min_length=1, description="globs of the files the planner may edit")
    command: list[str] = Field(min_length=1, description="evaluation command; its last stdout line is a JSON object of metrics")
    fitness_key: str = "fitness"
    inputs: dict[str, str] = Field(
        default_factory=dict, description="name -> path (relative to clade.yaml) mounted read-only, outside the tree"
    )
    quick: QuickCheck | None = None
    timeout_s: float | None = Field(None, gt=0, description="per evaluation command (default: sandbox.limits.wall_s)")
    novelty: NoveltyConfig = Field(default_factory=NoveltyConfig)
    diagnose: bool = Field(True, description="diagnose-then-propose: an LLM call reads the parent's log first")
    log_chars: int = Field(4000, gt=0, description="tail of the parent's evaluation log shown for diagnosis")
    prompt_chars: int = Field(60_000, gt=0, description="most characters of editable files one prompt may show")
