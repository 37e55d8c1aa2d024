"""A scripted LLM for end-to-end code searches: it answers by what the prompt asks for."""

from __future__ import annotations

from collections.abc import Callable

from agents.llm.scripted import ScriptedModel


def responder(make_edit: Callable[[str, int], str], diagnosis: str = "Diagnosis: the score is limited by the constant.") -> Callable:
    """Diagnose prompts get `diagnosis`, edit prompts `make_edit(prompt, n)` (n counts edit prompts), others a lesson."""
    count = {"edits": 0}

    def reply(messages) -> str:
        prompt = messages[-1]["content"]
        if "Diagnose before anyone edits" in prompt:
            return diagnosis
        if "<<<<<<< SEARCH" in messages[0]["content"]:
            count["edits"] += 1
            return make_edit(prompt, count["edits"])
        return "Lesson: raising the constant raised the score."

    return reply


def scripted_model(make_edit: Callable[[str, int], str], calls: int = 60) -> ScriptedModel:
    return ScriptedModel([responder(make_edit)] * calls)
