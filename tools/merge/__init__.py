"""The merge engine: recipe schema, planning, streaming executor, in-memory merges.

The public API lives in tools.merge.api (it imports torch); this package module stays light so
the command line starts fast.
"""
