from __future__ import annotations

import pytest

from tests.review.fixtures import make_workspace, open_archive, populate


@pytest.fixture
def workspace(tmp_path):
    return make_workspace(tmp_path / "ws")


@pytest.fixture
def zoo(workspace):
    """(workspace, open archive, name -> id) for the fixture archive."""
    archive = open_archive(workspace)
    ids = populate(archive)
    yield workspace, archive, ids
    archive.close()
