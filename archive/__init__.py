"""The lineage archive: every candidate a search tried, as a git repository with a SQLite index.

    from archive import Archive, Candidate, ResultEvent, Review
    with Archive.open(path, create=True) as archive:
        cid = archive.record(Candidate(kind="source", genotype={"name": "a", "path": "/models/a"}))

See archive/README.md. Nothing here imports torch.
"""

from archive.record import (Candidate, CodeGenotype, Cost, MergeGenotype, Proposer, ResultEvent, Review,
                            SourceGenotype, SplitMetrics)
from archive.selection import CandidateSummary, Descriptor
from archive.store import Archive

__all__ = ["Archive", "Candidate", "CandidateSummary", "CodeGenotype", "Cost", "Descriptor", "MergeGenotype",
           "Proposer", "ResultEvent", "Review", "SourceGenotype", "SplitMetrics"]
