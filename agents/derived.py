"""Merged candidates used as models: a recipe naming `candidate:<id>` (planner.evolution.space `both`).

A recipe may name an archived merge candidate as a model, `candidate:<id>` (the full id), e.g. a
layer path through the best parameter-space merge. The candidate's own recipe must name only
workspace models (one level: no candidate of candidates). Where the merge runs:
- a sandbox job (`agents/jobs.py`) carries the candidate's recipe, its merge seed and content
  address as `work.derived`, and the workspace's merge cache `.clade/cache/merges/` as `cache`;
  the worker materialises it there once (tools/merge/cache.py) and uses that directory;
- `clade export` materialises it in the same cache on the host, then merges the recipe;
- `clade merge R.yaml OUT` has no archive and refuses such a recipe (tools/merge/prepare.py).
Planning a recipe (the session's RecipeChecker) reads headers only: `CheckModels` stands a
source the candidate merges in for it (a merge has its sources' tensor names and shapes).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from tools.errors import BadInput

CANDIDATE = "candidate:"


def model_names(recipe: Mapping[str, Any]) -> list[str]:
    """Every model name the recipe mapping mentions, in order, once."""
    names = [recipe["base_model"]] if isinstance(recipe.get("base_model"), str) else []
    for entry in recipe.get("models") or []:
        names.append(entry.get("model"))
    for piece in recipe.get("slices") or []:
        names += [s.get("model") for s in piece.get("sources") or []]
    names += [s.get("model") for s in recipe.get("layer_path") or []]
    return list(dict.fromkeys(n for n in names if isinstance(n, str)))


def candidate_refs(recipe: Mapping[str, Any]) -> list[str]:
    """The `candidate:<id>` names the recipe uses as models."""
    return [n for n in model_names(recipe) if n.startswith(CANDIDATE)]


def cache_dir(workspace) -> Path:
    return workspace.root.resolve() / ".clade" / "cache" / "merges"


def referenced(archive, name: str):
    """The merge candidate `name` (`candidate:<id>`) stands for; BadInput naming it when it cannot be used."""
    ref = name.removeprefix(CANDIDATE)
    if archive is None:
        raise BadInput(f"recipe model {name!r} is an archived candidate, and no archive is at hand to resolve it")
    try:
        c = archive.get(ref)
    except (BadInput, KeyError, LookupError):
        raise BadInput(f"recipe model {name!r}: no such candidate in the archive") from None
    if c.kind != "merge" or c.id != ref:
        raise BadInput(f"recipe model {name!r}: candidate {c.id} is a {c.kind} candidate; name a merge candidate by its full id")
    nested = candidate_refs(c.genotype.recipe)
    if nested:
        raise BadInput(
            f"recipe model {name!r}: its recipe itself names {', '.join(nested)}; a merged candidate must merge workspace models"
        )
    return c


def merge_seed(workspace, candidate) -> int:
    """The seed the candidate was measured with: its proposer's `seed` param, else its session's, else clade.yaml's."""
    if isinstance(candidate.proposer.params.get("seed"), int):
        return candidate.proposer.params["seed"]
    record = workspace.root / ".clade" / "sessions" / f"{candidate.proposer.session}.json"
    if candidate.proposer.session and record.is_file():
        from agents.session.records import load

        return load(record).seed
    return workspace.config.planner.seed


def derived_models(workspace, archive, recipe: Mapping[str, Any]) -> dict[str, Any]:
    """name -> sandbox.job.DerivedModel for every candidate the recipe names (host side: fingerprints the sources)."""
    from sandbox.job import DerivedModel
    from tools.merge.cache import cache_key

    models, out = workspace.model_paths(), {}
    for name in candidate_refs(recipe):
        c = referenced(archive, name)
        inner = c.genotype.recipe
        unknown = [n for n in model_names(inner) if n not in models]
        if unknown:
            raise BadInput(f"recipe model {name!r}: its recipe names {', '.join(unknown)}, not models of this workspace")
        seed = merge_seed(workspace, c)
        used = {n: models[n] for n in model_names(inner)}
        out[name] = DerivedModel(recipe=inner, key=cache_key(inner, used, seed), seed=seed)
    return out


def materialised_models(workspace, archive, recipe: Mapping[str, Any], device: str = "cpu") -> dict[str, Path]:
    """The workspace's models plus every candidate the recipe names, materialised in the cache on this host."""
    from tools.merge.cache import materialise

    models = dict(workspace.model_paths())
    for name, derived in derived_models(workspace, archive, recipe).items():
        models[name], _ = materialise(
            cache_dir(workspace), derived.key, derived.recipe, workspace.model_paths(), seed=derived.seed, device=device
        )
    return models


class CheckModels(Mapping):
    """The workspace's models for planning recipes (headers only), where `candidate:<id>` resolves to a source
    its merge reads (same tensor names, shapes and config). Lookups of candidates are kept per id."""

    def __init__(self, workspace, archive):
        self.paths, self.archive, self._stand_ins = dict(workspace.model_paths()), archive, {}

    def stand_in(self, name: str) -> Path | None:
        if name not in self._stand_ins:
            try:
                c = referenced(self.archive, name)
            except BadInput:
                self._stand_ins[name] = None
            else:
                first = next((n for n in model_names(c.genotype.recipe) if n in self.paths), None)
                self._stand_ins[name] = self.paths[first] if first else None
        return self._stand_ins[name]

    def __getitem__(self, name: str) -> Path:
        if name in self.paths:
            return self.paths[name]
        path = self.stand_in(name) if isinstance(name, str) and name.startswith(CANDIDATE) else None
        if path is None:
            raise KeyError(name)
        return path

    def __contains__(self, name: object) -> bool:
        try:
            self[name]  # type: ignore[index]
        except KeyError:
            return False
        return True

    def __iter__(self) -> Iterator[str]:
        return iter(self.paths)

    def __len__(self) -> int:
        return len(self.paths)
