"""`clade sandbox exec` and `clade sandbox doctor`, run as real subprocesses."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.sandbox.conftest import PY, docker_skip_reason


def clade(*args: str, cwd, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    import os

    env = {**os.environ, **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "agents.cli", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def exec_json(tmp_path, *args: str, env_extra=None, code: int = 0) -> dict:
    done = clade("sandbox", "exec", "--json", *args, cwd=tmp_path, env_extra=env_extra)
    assert done.returncode == code, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_exec_reports_ok_and_output(tmp_path):
    report = exec_json(tmp_path, "--", PY, "-c", "print('hello')")
    assert {k: report[k] for k in ("status", "exit_code", "stdout", "stderr")} == {
        "status": "ok",
        "exit_code": 0,
        "stdout": "hello\n",
        "stderr": "",
    }


def test_exec_exits_with_the_commands_own_code(tmp_path):
    report = exec_json(tmp_path, "--", PY, "-c", "import sys; sys.stderr.write('bad'); sys.exit(4)", code=4)
    assert (report["status"], report["exit_code"], report["stderr"], report["reason"]) == ("failed", 4, "bad", "exited with code 4")
    done = clade("sandbox", "exec", "--", PY, "-c", "import sys; sys.exit(7)", cwd=tmp_path)
    assert done.returncode == 7 and "exited with code 7" in done.stderr


def test_exec_forwards_standard_input(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "agents.cli",
            "sandbox",
            "exec",
            "--",
            PY,
            "-c",
            "import sys; data = sys.stdin.read(); print(data.upper()); sys.exit(len(data))",
        ],
        cwd=tmp_path,
        input="hello\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.stdout == "HELLO\n\n" and done.returncode == 6


def test_exec_timeout_and_memory_options(tmp_path):
    report = exec_json(tmp_path, "--timeout", "1", "--", PY, "-c", "import time; time.sleep(60)", code=124)
    assert report["status"] == "timeout" and "1 s" in report["reason"]
    report = exec_json(tmp_path, "--memory", "200", "--", PY, "-c", "x = [bytearray(2**20 * 50) for _ in range(40)]", code=137)
    assert report["status"] == "killed" and "memory limit of 200 MB" in report["reason"]


@pytest.mark.parametrize(
    "option",
    [
        ["--memory", "-1"],
        ["--memory", "0"],
        ["--timeout", "nan"],
        ["--timeout", "inf"],
        ["--timeout", "0"],
        ["--timeout", "-5"],
        ["--memory", "x"],
    ],
)
def test_exec_refuses_bad_limits(tmp_path, option):
    done = clade("sandbox", "exec", *option, "--", "true", cwd=tmp_path)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    assert option[0] in done.stderr and done.stdout == ""


def test_exec_unwritable_jobs_dir_is_bad_input(tmp_path):
    (tmp_path / "afile").write_text("")
    (tmp_path / "clade.yaml").write_text("sandbox: {jobs_dir: afile/jobs}\n")
    done = clade("sandbox", "exec", "--", "true", cwd=tmp_path)
    assert done.returncode == 2 and "sandbox.jobs_dir" in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_exec_hides_host_secrets(tmp_path):
    report = exec_json(tmp_path, "--", PY, "-c", "import os; print(sorted(os.environ))", env_extra={"ANTHROPIC_API_KEY": "sk-ant-secret"})
    assert "ANTHROPIC_API_KEY" not in report["stdout"] and "PATH" in report["stdout"]


@pytest.mark.docker
def test_exec_docker_backend(tmp_path):
    reason = docker_skip_reason()
    if reason:
        pytest.skip(reason)
    (tmp_path / "clade.yaml").write_text("sandbox:\n  docker: {image: 'clade-sandbox-test:latest', mount_host_python: true}\n")
    report = exec_json(tmp_path, "--backend", "docker", "--", PY, "-c", "import os; print(os.getuid())")
    assert (report["status"], report["stdout"].strip(), report["backend"]) == ("ok", "65534", "docker")


def test_exec_without_command_is_bad_input(tmp_path):
    done = clade("sandbox", "exec", "--json", cwd=tmp_path)
    assert done.returncode == 2 and "no command given" in done.stderr


def test_doctor_lists_protections(tmp_path):
    done = clade("sandbox", "doctor", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    names = {row["name"] for row in report["protections"] if row["backend"] == "local"}
    assert "network cut off" in names and "memory limit" in names
    text = clade("sandbox", "doctor", cwd=tmp_path).stdout
    assert "isolation:" in text and "[" in text


@pytest.mark.docker
def test_docker_missing_image_is_bad_input(tmp_path):
    reason = docker_skip_reason()
    if reason:
        pytest.skip(reason)
    (tmp_path / "clade.yaml").write_text("sandbox:\n  docker: {image: 'clade-no-such-image:0'}\n")
    done = clade("sandbox", "exec", "--backend", "docker", "--", "true", cwd=tmp_path)
    assert done.returncode == 2 and "clade-no-such-image:0" in done.stderr and "sandbox/Dockerfile" in done.stderr


def test_a_broken_clade_yaml_is_an_error_not_the_defaults(tmp_path):
    """The app resolves the workspace for `clade sandbox`: a clade.yaml that is found but wrong is
    bad input (exit 2, one line naming it), never silently replaced by the default limits."""
    (tmp_path / "clade.yaml").write_text("sandbox:\n  limits: {wall_s: soon}\n")
    done = clade("sandbox", "doctor", "--json", cwd=tmp_path)
    assert done.returncode == 2 and "clade.yaml" in done.stderr and "wall_s" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
