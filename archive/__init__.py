"""The lineage archive: every candidate a search tried, as a git repository with a SQLite index.

    from archive import Archive, Candidate, ResultEvent, Review
    with Archive.open(path, create=True) as archive:
        cid = archive.record(Candidate(kind="source", genotype={"name": "a", "path": "/models/a"}))

See archive/README.md. Nothing here imports torch.
"""

from importlib import import_module

# Exports resolve on first use, so `import archive.config` (every command loads clade.yaml) stays light.
_EXPORTS = {
    **{
        name: "archive.record"
        for name in (
            "Candidate",
            "CodeGenotype",
            "Cost",
            "MergeGenotype",
            "Proposer",
            "ResultEvent",
            "Review",
            "SourceGenotype",
            "SplitMetrics",
        )
    },
    "CandidateSummary": "archive.selection",
    "Descriptor": "archive.selection",
    "Archive": "archive.store",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'archive' has no attribute {name!r}")
    return getattr(import_module(_EXPORTS[name]), name)
