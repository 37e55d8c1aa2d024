"""`sandbox.threads` sets the job's CPU threads (OMP/MKL_NUM_THREADS) on every backend; unset, none is imposed."""

from __future__ import annotations

import pytest

from tests.sandbox.conftest import PY, make_backend

SHOW = "import os; print(os.environ.get('OMP_NUM_THREADS'), os.environ.get('MKL_NUM_THREADS'))"


@pytest.mark.parametrize("name", ["local", pytest.param("docker", marks=pytest.mark.docker)])
def test_threads_setting_reaches_the_job(name, tmp_path, job_dir, limits, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "7")  # the host's own value never passes
    outcome = make_backend(name, tmp_path, threads=1).run([PY, "-c", SHOW], job_dir, limits)
    assert outcome.status == "ok", outcome.reason
    assert outcome.stdout.split() == ["1", "1"]


def test_no_threads_setting_passes_nothing(tmp_path, job_dir, limits, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    outcome = make_backend("local", tmp_path).run([PY, "-c", SHOW], job_dir, limits)
    assert outcome.stdout.split() == ["None", "None"]
