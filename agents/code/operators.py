"""The code operators: mutate (edit one parent), crossover (two parents -> one child), and the
diagnose-then-propose step of the Darwin Gödel Machine (read the parent's evaluation log, say
what to improve, then write the edit). Each returns an `OperatorResult`; an edit that never
became valid comes back with `invalid` set and is recorded, not dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from agents.code.config import CodeConfig
from agents.code.edit_loop import Conversation, EditResult, write_edit
from agents.code.novelty import novelty_problem
from agents.prompts import render
from archive.record import Candidate
from tools.edit import format_instructions
from tools.edit.apply import glob_matches
from tools.errors import BadInput


@dataclass
class Setting:
    """What every operator needs besides its parents."""

    config: CodeConfig
    archive: object
    brief: str
    summary: str
    lessons: list[str]
    repair_rounds: int
    prompts_dir: object = None


@dataclass
class OperatorResult:
    edit: EditResult
    template_hash: str
    diagnosis: str | None = None


def mutate(talk: Conversation, s: Setting, parent: Candidate) -> OperatorResult:
    files = parent.genotype.files
    diagnosis = diagnose(talk, s, parent) if s.config.diagnose else None
    note = f"A diagnosis of this candidate, made from its code and evaluation log:\n{diagnosis}" if diagnosis else ""
    prompt = render(
        "code_mutate.md",
        s.prompts_dir,
        brief=s.brief or "(none)",
        summary=s.summary or "(empty)",
        lessons=_lessons(s),
        parent=describe(parent),
        editable=", ".join(s.config.editable),
        files=show_files(files, s.config),
        diagnosis=note,
    )
    return OperatorResult(_edit(talk, s, prompt.text, files), prompt.template_hash, diagnosis)


def crossover(talk: Conversation, s: Setting, a: Candidate, b: Candidate) -> OperatorResult:
    prompt = render(
        "code_crossover.md",
        s.prompts_dir,
        brief=s.brief or "(none)",
        summary=s.summary or "(empty)",
        lessons=_lessons(s),
        parent_a=describe(a),
        parent_b=describe(b),
        edit_a=own_edit(s.archive, a),
        edit_b=own_edit(s.archive, b),
        diff_ab=s.archive.diff(a.id, b.id) or "(identical)",
        editable=", ".join(s.config.editable),
        files=show_files(a.genotype.files, s.config),
    )
    return OperatorResult(_edit(talk, s, prompt.text, a.genotype.files), prompt.template_hash)


def diagnose(talk: Conversation, s: Setting, parent: Candidate) -> str:
    """The DGM's first step: one LLM reply saying what limits the parent and what to improve."""
    log = parent.logs[-s.config.log_chars :] if parent.logs else "(no log recorded)"
    prompt = render(
        "code_diagnose.md",
        s.prompts_dir,
        brief=s.brief or "(none)",
        parent=describe(parent),
        editable=", ".join(s.config.editable),
        files=show_files(parent.genotype.files, s.config),
        log=log,
    )
    return talk.ask([system(s), {"role": "user", "content": prompt.text}]).strip()


def _edit(talk: Conversation, s: Setting, prompt: str, base: dict[str, str]) -> EditResult:
    novel = partial(novelty_problem, s.archive, base, command=s.config.command, max_similarity=s.config.novelty.max_similarity)

    def check(child: dict[str, str]) -> str | None:
        return _too_large(child, s.config) or novel(child)

    messages = [system(s), {"role": "user", "content": prompt}]
    return write_edit(talk, messages, base, s.config.editable, s.repair_rounds, check)


def system(s: Setting) -> dict[str, str]:
    return {"role": "system", "content": render("code_system.md", s.prompts_dir, edit_format=format_instructions()).text}


def describe(c: Candidate) -> str:
    """One paragraph: id, status, search fitness and metrics."""
    m = c.metrics.get("search")
    score = f"search fitness {m.fitness:.4f}" if m and m.fitness is not None else "no search fitness"
    metrics = "; ".join(f"{k}: {v:g}" for task in (m.tasks.values() if m else []) for k, v in task.items())
    reason = f" ({c.reason})" if c.reason else ""
    return f"{c.id} [{c.status}{reason}], {score}" + (f"; metrics {metrics}" if metrics else "")


def show_files(files: dict[str, str], config: CodeConfig) -> str:
    """The editable files, each under its path in a fence; more than `prompt_chars` is bad input, never cut."""
    shown = {p: t for p, t in sorted(files.items()) if any(glob_matches(p, g) for g in config.editable)}
    total = sum(len(t) for t in shown.values())
    if total > config.prompt_chars:
        raise BadInput(
            f"clade.yaml: the editable files hold {total} characters, over code.prompt_chars "
            f"({config.prompt_chars}); narrow code.editable or raise the limit"
        )
    return "\n\n".join(f"{path}\n```\n{text}\n```" for path, text in shown.items()) or "(no editable files yet)"


def _too_large(files: dict[str, str], config: CodeConfig) -> str | None:
    """A child must stay showable to the LLM as a parent later (show_files refuses more than prompt_chars)."""
    total = sum(len(t) for p, t in files.items() if any(glob_matches(p, g) for g in config.editable))
    if total <= config.prompt_chars:
        return None
    return f"the editable files would hold {total} characters, over the limit of {config.prompt_chars}; make a smaller change"


def own_edit(archive, c: Candidate) -> str:
    """The diff that made `c` from its first parent (a source has none)."""
    return archive.diff(c.parents[0], c.id) or "(no change)" if c.parents else "(a source: the seed workspace)"


def _lessons(s: Setting) -> str:
    return "\n".join(f"- {lesson}" for lesson in s.lessons) or "(none yet)"
