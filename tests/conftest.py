"""Fixtures shared by every test area."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    """One torch thread for the whole run: on a shared 2-core runner, OpenMP threads spin against
    each other and a tiny model's evaluation costs 10x the CPU (`make test` also sets OMP_NUM_THREADS=1)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
