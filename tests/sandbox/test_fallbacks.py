"""The local backend's weaker levels (unshare only; no namespaces; no cgroups) still contain
the hostile programs they claim to (see `clade sandbox doctor`), and say what they lack."""

from __future__ import annotations

import pytest

from sandbox.isolation import unshare_prefix
from tests.sandbox import test_hostile as hostile
from tests.sandbox.conftest import make_backend

LEVELS = [("unshare", "off"), ("none", "off")]  # bwrap + cgroups is test_hostile.py


@pytest.fixture(params=LEVELS, ids=[f"{i}-cgroups_{c}" for i, c in LEVELS])
def weak_backend(request, tmp_path):
    isolation, cgroups = request.param
    if isolation == "unshare" and unshare_prefix() is None:
        pytest.skip("`unshare` cannot create namespaces on this machine")
    return make_backend("local", tmp_path, isolation=isolation, cgroups=cgroups)


def test_weak_levels_warn_and_report_what_they_run_under(weak_backend, job_dir, limits, capsys):
    from sandbox.backends import local

    local.WARNED.clear()
    outcome = hostile.run_py(weak_backend, job_dir, "print('hi')", limits)
    assert (outcome.status, outcome.isolation) == ("ok", weak_backend.config.isolation)
    assert "WARNING: sandbox isolation" in capsys.readouterr().err and "NOT enforced" in local.WARNED.pop()


def test_weak_secret(weak_backend, job_dir, tmp_path, limits, monkeypatch):
    if weak_backend.config.isolation == "none":
        pytest.skip("without a pid namespace a job can read host processes' /proc/<pid>/environ (doctor says so)")
    hostile.test_host_secret_never_enters(weak_backend, job_dir, tmp_path, limits, monkeypatch)


def test_weak_memory(weak_backend, job_dir, tmp_path, limits):
    hostile.test_unbounded_allocation_is_killed(weak_backend, job_dir, tmp_path, limits)


def test_weak_timeout(weak_backend, job_dir, tmp_path, limits):
    hostile.test_sleep_past_limit_times_out(weak_backend, job_dir, tmp_path, limits)


def test_weak_output(weak_backend, job_dir, tmp_path, limits):
    hostile.test_output_flood_is_cut(weak_backend, job_dir, tmp_path, limits)


def test_weak_child_outlives(weak_backend, job_dir, tmp_path, limits):
    hostile.test_child_that_outlives_the_job_is_killed(weak_backend, job_dir, tmp_path, limits)


def test_weak_kills_parent(weak_backend, job_dir, tmp_path, limits):
    hostile.test_killing_its_parent_leaves_the_host_unharmed(weak_backend, job_dir, tmp_path, limits)


def test_network_needs_a_namespace(weak_backend, job_dir, tmp_path, limits, tcp_server):
    if weak_backend.config.isolation == "none":
        pytest.skip("without namespaces the network is not cut off (doctor says so)")
    hostile.test_network_is_unreachable(weak_backend, job_dir, tmp_path, limits, tcp_server)
