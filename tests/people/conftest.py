"""Issue 18 (people in the loop) tests use the review tests' fixture archive (a tiny-zoo workspace with merges and a failure)."""

from tests.review.conftest import workspace, zoo  # noqa: F401 (fixtures, shared)
