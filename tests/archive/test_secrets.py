"""Secrets never reach the repository: records, notes, commit messages, workspace files."""

import subprocess

from archive import Candidate, Proposer, ResultEvent, Review
from archive.secrets import REDACTED, Redactor

from .conftest import SECRET, source

KEY_SHAPED = [
    "sk-proj-abcdefghijklmnopqrstuv123",
    "ghp_" + "A1b2" * 9,
    "hf_" + "x" * 34,
    "AKIA" + "ABCDEFGHIJKLMNOP",
    "-----BEGIN RSA PRIVATE KEY-----\nMIIabc\n-----END RSA PRIVATE KEY-----",
]


def all_objects(repo) -> bytes:
    return subprocess.run(
        ["git", "--git-dir", str(repo), "cat-file", "--batch-all-objects", "--batch"], check=True, capture_output=True
    ).stdout


def test_environment_secrets_are_picked_by_name():
    r = Redactor.from_environ(
        {"OPENAI_API_KEY": "value-of-the-key", "HF_TOKEN": "1", "HOME": "/home/someone-long", "DB_PASSWORD": "hunter2hunter2"}
    )
    assert (
        r.text("k=value-of-the-key home=/home/someone-long pw=hunter2hunter2 n=1")
        == f"k={REDACTED} home=/home/someone-long pw={REDACTED} n=1"
    )


def test_key_shaped_strings_are_redacted_whatever_their_origin():
    r = Redactor()
    for key in KEY_SHAPED:
        assert r.text(f"use {key} now") == f"use {REDACTED} now"
    assert r.text("sk-short and task-123 and shf_notakey") == "sk-short and task-123 and shf_notakey"
    assert r.data({"a": [f"x {KEY_SHAPED[0]}"], KEY_SHAPED[1]: 1}) == {"a": [f"x {REDACTED}"], REDACTED: 1}


def test_nothing_secret_is_written_anywhere(archive):
    leak = f"{SECRET} {' '.join(KEY_SHAPED)}"
    a = source(archive, "a")
    m = archive.record(
        Candidate(
            kind="merge",
            parents=[a],
            genotype={"recipe": {"merge_method": "linear", "note": leak}},
            proposer=Proposer(strategy="llm", rationale=f"because {leak}"),
        )
    )
    code = archive.record(
        Candidate(kind="code", parents=[a], genotype={"files": {"cfg.py": f"KEY = '{SECRET}'\n"}, "command": ["run", SECRET]})
    )
    archive.attach_result(m, ResultEvent(status="failed", reason=f"auth failed with {leak}", logs=f"env: {leak}"))
    archive.attach_review(code, Review(verdict="rejected", comment=leak, who="ana"))
    blob = all_objects(archive.git_dir)
    assert SECRET.encode() not in blob
    for key in KEY_SHAPED:
        assert key.encode() not in blob
    assert REDACTED.encode() in blob
    index = b"".join(str(row).encode() for t in ("candidates", "records") for row in archive.index.query(f"SELECT * FROM {t}"))
    assert SECRET.encode() not in index and REDACTED.encode() in index
    assert archive.get(m).reason.startswith(f"auth failed with {REDACTED}")
