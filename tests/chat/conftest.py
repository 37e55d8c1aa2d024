"""The chat tests use the review tests' fixture archive (a tiny-zoo workspace with merges, a failure, reviews)."""

from tests.review.conftest import workspace, zoo  # noqa: F401 (fixtures, shared)
