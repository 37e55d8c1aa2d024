"""The one place a planner model is made from `planner.llm`: every command that talks to an LLM
(`clade run`, `clade chat`, the page's chat) goes through `planner_model`.

`scripted:FILE` (agents/llm/scripted_file.py) replays canned replies offline, anything else is
a litellm model string (agents/llm/client.py; litellm is imported only then). `--model` on
`clade chat` and `clade ui` overrides `planner.llm.model` (`llm_config`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from agents.llm.config import LLMConfig
from agents.llm.scripted_file import is_scripted, load_scripted


def llm_config(workspace, model: str | None = None) -> LLMConfig | None:
    """`planner.llm`, with its model replaced by `model` when given (None: no LLM configured)."""
    configured = workspace.config.planner.llm
    if model is None:
        return configured
    if not model.strip():
        from tools.errors import BadInput

        raise BadInput("--model: empty; give a litellm model string (openai/gpt-4o-mini) or scripted:FILE")
    return configured.model_copy(update={"model": model}) if configured else LLMConfig(model=model)


def planner_model(llm: LLMConfig, workspace_root, env: Mapping[str, str] | None = None):
    """The Model `llm` names: a ScriptedModel for `scripted:FILE` (relative to the workspace), else the litellm client."""
    if is_scripted(llm.model):
        return load_scripted(llm.model, workspace_root)
    from agents.llm.client import make_model

    return make_model(llm, os.environ if env is None else env)
