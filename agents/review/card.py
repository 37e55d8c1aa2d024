"""The model card (README.md) of an exported merge: lineage back to the sources, the recipe,
the held-out metrics, the search that found it, reviews and the sources' declared licenses."""

from __future__ import annotations

from pathlib import Path

import yaml

from archive.record import Candidate

HELD_OUT = "test"


def declared_license(model_dir: Path) -> str | None:
    """`license:` from the YAML front matter of the model's README.md (None when absent or unreadable)."""
    readme = Path(model_dir) / "README.md"
    text = readme.read_text(encoding="utf-8", errors="replace") if readme.is_file() else ""
    if not text.startswith("---"):
        return None
    end = text.find("\n---", 3)
    try:
        meta = yaml.safe_load(text[3:end]) if end > 0 else None
    except yaml.YAMLError:
        return None
    value = meta.get("license") if isinstance(meta, dict) else None
    if isinstance(value, list):
        value = ", ".join(map(str, value))
    if value == "other" and isinstance(meta.get("license_name"), str):
        value = f"other ({meta['license_name']})"
    return str(value) if value else None


def model_card(c: Candidate, lineage: list[Candidate], licenses: dict[str, str | None], *, workspace: str, seed: int) -> str:
    """`lineage`: every ancestor, nearest first; `licenses`: source name -> declared license."""
    return "\n".join(
        [
            *_front_matter(licenses),
            f"# {workspace}: merge candidate {c.id}",
            "",
            f"A {c.genotype.recipe.get('merge_method', '?')} merge of {', '.join(sorted(licenses))}, bred by "
            "Clade and approved by a reviewer. Weights re-materialised from the recipe below "
            f"(seed {seed}); they load with `AutoModelForCausalLM.from_pretrained`.",
            "",
            *_metrics(c),
            *_search(c, seed),
            *_lineage(c, lineage),
            *_recipe(c),
            *_licenses(licenses),
        ]
    )


def _front_matter(licenses: dict[str, str | None]) -> list[str]:
    declared = set(licenses.values())
    meta = {"library_name": "transformers", "tags": ["merge", "clade"]}
    if len(declared) == 1 and None not in declared:
        meta = {"license": declared.pop(), **meta}
    return ["---", yaml.safe_dump(meta, sort_keys=False).rstrip(), "---", ""]


def _metrics(c: Candidate) -> list[str]:
    lines = [f"## Metrics on the held-out split ({HELD_OUT!r})", ""]
    held = c.metrics.get(HELD_OUT)
    if held is None:
        return lines + ["Not measured on the held-out split.", ""]
    lines += [
        f"Fitness: {held.fitness:.4f}" if held.fitness is not None else "Fitness: not computed",
        "",
        "| task | metric | value |",
        "|---|---|---|",
    ]
    lines += [f"| {t} | {m} | {v:.4f} |" for t, ms in sorted(held.tasks.items()) for m, v in sorted(ms.items())]
    search = c.fitness("search")
    note = f"Fitness on the search split, which selected it: {search:.4f}." if search is not None else ""
    return lines + ["", note, ""] if note else lines + [""]


def _search(c: Candidate, seed: int) -> list[str]:
    p = c.proposer
    lines = [
        "## The search that found it",
        "",
        f"- proposed by strategy `{p.strategy}`" + (f" with model `{p.model}`" if p.model else ""),
        f"- session: {p.session or 'none (a person or `clade chat`)'}",
        f"- created: {c.created_at.isoformat()}",
        f"- merge seed: {seed}",
    ]
    if p.template_hash:
        lines.append(f"- prompt template hash: {p.template_hash}")
    if p.rationale:
        lines.append(f"- rationale: {' '.join(p.rationale.split())}")
    lines += [f"- review: {r.verdict} by {r.who} at {r.at.isoformat()}" + (f": {r.comment}" if r.comment else "") for r in c.reviews]
    return lines + [""]


def _lineage(c: Candidate, lineage: list[Candidate]) -> list[str]:
    lines = [
        "## Lineage",
        "",
        "Nearest first, back to the source models (ids are Clade archive candidates):",
        "",
        f"- `{c.id}` (this model) from {', '.join(f'`{p}`' for p in c.parents)}",
    ]
    for a in lineage:
        if a.kind == "source":
            lines.append(f"- `{a.id}` source model **{a.genotype.name}** ({a.genotype.path or 'no path recorded'})")
        else:
            what = a.genotype.recipe.get("merge_method", "?") if a.kind == "merge" else "code"
            lines.append(f"- `{a.id}` {a.kind} ({what}) from {', '.join(f'`{p}`' for p in a.parents)}")
    return lines + [""]


def _recipe(c: Candidate) -> list[str]:
    return ["## Recipe", "", "```yaml", yaml.safe_dump(c.genotype.recipe, sort_keys=False).rstrip(), "```", ""]


def _licenses(licenses: dict[str, str | None]) -> list[str]:
    lines = [
        "## Licenses of the source models",
        "",
        "As declared in each source's model card (README.md `license:`); check each before you redistribute the merge.",
        "",
        "| source | license |",
        "|---|---|",
    ]
    return lines + [f"| {name} | {lic or 'not declared'} |" for name, lic in sorted(licenses.items())] + [""]
