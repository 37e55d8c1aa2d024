"""Checking a recipe once: `check` loads and plans it (the one way to ask the engine whether it accepts a recipe),
and a `RecipeChecker` keeps each distinct recipe's verdict for a process, so the strategy that proposes a recipe
and the session that validates it share one plan.

`check(recipe, models=..., tasks=...)` is `prepare(load_recipe(...))`: schema, names, calibration, then every
tensor planned against the sources' headers (no weights read). It returns the `Prepared`, which carries the plan;
hand that on (`ResidentMerger.apply`, `ResidentMerger.tokenizer_dir`) instead of the recipe, and nothing plans it
again. A `RecipeChecker` is bound to one set of models and tasks (a workspace's): it opens each source once and
remembers the last `keep` verdicts by the recipe's canonical JSON, a refusal as its message.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tools.errors import BadInput
from tools.merge.prepare import Opener, Prepared, load_recipe, prepare
from tools.merge.sources import SourceModel, open_source


def check(
    source: Path | str | Mapping,
    *,
    models: Mapping[str, Path] | None = None,
    tasks: Mapping[str, Any] | None = None,
    opener: Opener = open_source,
) -> Prepared:
    """The recipe loaded and planned (headers only); BadInput names what the merge engine refuses."""
    return prepare(load_recipe(source, models=models, tasks=tasks), opener)


class RecipeChecker:
    """`check(recipe) -> Prepared` against fixed models and tasks, each distinct recipe loaded and planned once."""

    def __init__(self, models: Mapping[str, Path], tasks: Mapping[str, Any] | None = None, *, keep: int = 64):
        # a plain mapping is copied; any other Mapping (agents.derived.CheckModels, which resolves archived candidates
        # on lookup) is kept as it is
        self.models = {n: Path(p) for n, p in models.items()} if isinstance(models, dict) else models
        self.tasks, self.keep = tasks, keep
        self.asked = self.planned = 0  # checks asked for; recipes planned (a verdict reused is not planned again)
        self._sources: dict[tuple[str, Path], SourceModel] = {}
        self._verdicts: OrderedDict[str, Prepared | str] = OrderedDict()
        self._lock = threading.Lock()

    def check(self, recipe: Mapping[str, Any]) -> Prepared:
        key = json.dumps(recipe, sort_keys=True, default=str)
        with self._lock:
            self.asked += 1
            verdict = self._verdicts.get(key)
            if verdict is None:
                verdict = self._plan(recipe)
            self._verdicts[key] = verdict
            self._verdicts.move_to_end(key)
            while len(self._verdicts) > self.keep:
                self._verdicts.popitem(last=False)
        if isinstance(verdict, str):
            raise BadInput(verdict)
        return verdict

    def problem(self, recipe: Mapping[str, Any]) -> str | None:
        """Why the merge engine refuses `recipe` (None: it accepts it)."""
        try:
            self.check(recipe)
        except BadInput as exc:
            return str(exc)
        return None

    def _plan(self, recipe: Mapping[str, Any]) -> Prepared | str:
        self.planned += 1
        try:
            return check(recipe, models=self.models, tasks=self.tasks, opener=self._open)
        except BadInput as exc:
            return str(exc)

    def _open(self, name: str, path: Path) -> SourceModel:
        key = (name, path.resolve())
        if key not in self._sources:
            self._sources[key] = open_source(name, path)
        return self._sources[key]
