"""Issue 12 (fuzz): generated malformed clade.yaml files, task specs, JSONL data and `clade eval` arguments.
Each case exits 2 with one line, no traceback, and writes nothing. CASES counts them per surface."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from tests.evaluate.conftest import addition_records, write_jsonl

TASK = {"name": "add", "kind": "generation", "data": {"search": "data/add.search.jsonl", "test": "data/add.test.jsonl"}}


def run(*argv: str) -> int:
    import agents.cli

    try:
        return agents.cli.main(list(argv))
    except SystemExit as exc:  # argparse refused the arguments
        return exc.code


@pytest.fixture
def workspace(tmp_path) -> Path:
    write_jsonl(tmp_path / "data" / "add.search.jsonl", addition_records(3))
    write_jsonl(tmp_path / "data" / "add.test.jsonl", addition_records(2, offset=40))
    (tmp_path / "tasks").mkdir()
    (tmp_path / "tasks" / "add.yaml").write_text(yaml.safe_dump(TASK))
    (tmp_path / "clade.yaml").write_text(yaml.safe_dump({"version": 1, "evaluation": {"tasks": ["tasks/add.yaml"]}}))
    return tmp_path


def tree(root: Path) -> list:
    return sorted((str(p.relative_to(root)), p.stat().st_size if p.is_file() else -1) for p in root.rglob("*"))


def refused(capsys, workspace: Path, *argv: str) -> str:
    before = tree(workspace)
    code = run(*argv, "--workspace", str(workspace))
    out, err = capsys.readouterr()
    assert code == 2 and out == "", (argv, out, err)
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert tree(workspace) == before
    return err


# ---- clade.yaml ---------------------------------------------------------------------------------------------

BAD_VALUES = {  # field path -> values that are wrong there
    ("version",): [2, "1", None, [], 1.5],
    ("name",): [[], {}, None],
    ("base",): [[], {}, 3],
    ("sources",): [
        "adder",
        {"a": 1},
        3,
        [1],
        [None],
        [{"name": "", "path": "m"}],
        [{"name": "a"}],
        [{"name": "a b", "path": "m"}],
        [{"name": "a", "path": "m", "extra": 1}],
    ],
    ("evaluation",): [[], "tasks", 3, None],
    ("evaluation", "tasks"): ["tasks/add.yaml", {}, [3], [None], [], [{"name": "x"}], ["tasks/none.yaml"], [[]]],
    ("evaluation", "weights"): [[1], "x", {"add": "x"}, {"add": -1}, {"add": None}, {"nope": 1}, {"add": 0}],
    ("evaluation", "batch_size"): [0, -1, "x", 1.5, None],
    ("evaluation", "cascade"): ["x", {"examples": 0, "threshold": 0.5}, {"examples": 1}, {"examples": 1, "threshold": 0.1, "x": 1}],
    ("sandbox",): [[], "local"],
    ("sandbox", "backend"): ["nope", 1],
    ("sandbox", "limits"): [{"wall_s": 0.001}, {"wall_s": 0}, {"wall_s": -5}, {"memory_mb": 0}, {"memory_mb": -1}, {"zzz": 1}, []],
    ("planner",): ["x", []],
    ("archive",): ["x", {"path": []}],
    ("unknown_field",): [1, "x"],
}
SPECIAL_WEIGHTS = [".nan", ".inf", "-.inf", ".NaN"]
WHOLE_FILES = [
    b"- a\n- b\n",
    b"null\n",
    b"just a string\n",
    b"42\n",
    b"\xff\xfe not utf-8",
    b"evaluation: [\n",
    b"a: b: c\n",
    b"{" * 5000,
    b"&a [*a]",
]
CONFIG_CASES = [(path, value) for path, values in BAD_VALUES.items() for value in values]


def set_path(config: dict, path: tuple, value) -> dict:
    node = config
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value
    return config


@pytest.mark.parametrize(("path", "value"), CONFIG_CASES, ids=[f"{'.'.join(p)}={v!r}" for p, v in CONFIG_CASES])
def test_clade_yaml_field(workspace, model_dir, capsys, path, value):
    config = set_path(yaml.safe_load((workspace / "clade.yaml").read_text()), path, value)
    (workspace / "clade.yaml").write_text(yaml.safe_dump(config))
    refused(capsys, workspace, "eval", str(model_dir))


@pytest.mark.parametrize("weight", SPECIAL_WEIGHTS)
def test_clade_yaml_non_finite_weight(workspace, model_dir, capsys, weight):
    (workspace / "clade.yaml").write_text(f"version: 1\nevaluation:\n  tasks: [tasks/add.yaml]\n  weights: {{add: {weight}}}\n")
    assert "add" in refused(capsys, workspace, "eval", str(model_dir))


@pytest.mark.parametrize("content", WHOLE_FILES, ids=lambda c: repr(c[:16]))
def test_clade_yaml_whole_file(workspace, model_dir, capsys, content):
    (workspace / "clade.yaml").write_bytes(content)
    assert "clade.yaml" in refused(capsys, workspace, "eval", str(model_dir))


# ---- task spec YAML ---------------------------------------------------------------------------------------------

BAD_TASK_FIELDS = {
    "kind": ["nope", None, 3],
    "name": ["", "a b", "../x", 3, None],
    "data": [[], "data/add.search.jsonl", {"search": "data/add.search.jsonl"}, {"search": 1, "test": 2}],
    "prompt": ["{prompt", "prompt}", "{0}", "{}", "{prompt:>999999999}", "{prompt!z}", "{prompt:{x}", 3, None],
    "target": ["{answer", "{1}"],
    "metric": ["acc", "perplexity", 3, "target_logprob"],
    "num_fewshot": [-1, "x", 2],
    "answer_pattern": ["(", "[a-", 3],
    "max_new_tokens": [0, -1, "x"],
    "stop": ["x", [1], {}],
    "score_target": ["maybe", []],
    "unknown": [1],
}
TASK_CASES = [(field, value) for field, values in BAD_TASK_FIELDS.items() for value in values]
TASK_FILES = [b"- a\n", b"null\n", b"text\n", b"3\n", b"\xff\xfe", b"name: [\n", b"{}\n"]


@pytest.mark.parametrize(("field", "value"), TASK_CASES, ids=[f"{f}={v!r}" for f, v in TASK_CASES])
def test_task_spec_field(workspace, model_dir, capsys, field, value):
    (workspace / "tasks" / "add.yaml").write_text(yaml.safe_dump({**TASK, field: value}))
    refused(capsys, workspace, "eval", str(model_dir))


@pytest.mark.parametrize("content", TASK_FILES, ids=repr)
def test_task_spec_whole_file(workspace, model_dir, capsys, content):
    (workspace / "tasks" / "add.yaml").write_bytes(content)
    assert "add.yaml" in refused(capsys, workspace, "eval", str(model_dir))


def test_task_spec_path_is_a_directory(workspace, model_dir, capsys):
    (workspace / "tasks" / "add.yaml").unlink()
    (workspace / "tasks" / "add.yaml").mkdir()
    assert "add.yaml" in refused(capsys, workspace, "eval", str(model_dir))


# ---- JSONL data ---------------------------------------------------------------------------------------------

DATA_FILES = {
    "not utf-8": b'{"prompt": "\xff\xfe", "answer": "1"}\n',
    "latin-1": '{"prompt": "caf\u00e9", "answer": "1"}\n'.encode("latin-1"),
    "a list line": b"[1, 2]\n",
    "a number line": b"3\n",
    "a string line": b'"text"\n',
    "a null line": b"null\n",
    "malformed": b'{"prompt": "1+1=", "answer": \n',
    "missing field": b'{"prompt": "1+1="}\n',
    "other fields": b'{"question": "1+1=", "label": "2"}\n',
    "deep nesting": b'{"prompt": ' + b"[" * 100_000 + b"]" * 100_000 + b', "answer": "1"}\n',
    "huge line": b'{"prompt": "' + b"1" * (1024 * 1024 + 10) + b'", "answer": "1"}\n',
    "empty": b"",
    "blank lines": b"\n\n  \n",
    "nul bytes": b"\x00\x00\x00\n",
    "bom then junk": b"\xef\xbb\xbf{oops}\n",
}
SPECIAL_PATHS = ["directory", "fifo", "/dev/zero", "/dev/null", "missing"]


@pytest.mark.parametrize("case", list(DATA_FILES))
def test_jsonl_data(workspace, model_dir, capsys, case):
    (workspace / "data" / "add.search.jsonl").write_bytes(DATA_FILES[case])
    assert "add.search.jsonl" in refused(capsys, workspace, "eval", str(model_dir))


@pytest.mark.parametrize("kind", SPECIAL_PATHS)
def test_jsonl_data_path_that_is_no_regular_file(workspace, model_dir, capsys, kind):
    target = workspace / "data" / "add.search.jsonl"
    target.unlink()
    if kind == "directory":
        target.mkdir()
    elif kind == "fifo":
        os.mkfifo(target)  # reading it would block forever
    elif kind.startswith("/dev/"):
        target.symlink_to(kind)  # /dev/zero never ends
    refused(capsys, workspace, "eval", str(model_dir))


# ---- clade eval arguments -----------------------------------------------------------------------------------


def eval_args(model_dir: Path, tmp: Path) -> list[list[str]]:
    (tmp / "a-file").write_text("x")
    return [
        ["eval"],
        ["eval", str(tmp / "nope")],
        ["eval", str(tmp / "a-file")],
        ["eval", str(tmp)],
        ["eval", str(model_dir), "--split", "bogus"],
        ["eval", str(model_dir), "--split", ""],
        ["eval", str(model_dir), "--threads", "0"],
        ["eval", str(model_dir), "--threads", "-3"],
        ["eval", str(model_dir), "--threads", "x"],
        ["eval", str(model_dir), "--threads", "99999999999"],
        ["eval", str(model_dir), "--device", "bogus"],
        ["eval", str(model_dir), "--device", ""],
        ["eval", str(model_dir), "--device", "cuda:99"],
        ["eval", str(model_dir), "--device", "cpu:-1"],
        ["eval", str(model_dir), "--json", "extra"],
        ["eval", str(model_dir), "--nope"],
        ["eval", "\x01"],
    ]


EVAL_ARGS = 17


@pytest.mark.parametrize("index", range(EVAL_ARGS))
def test_eval_arguments(workspace, model_dir, capsys, tmp_path_factory, index):
    argv = eval_args(model_dir, tmp_path_factory.mktemp("args"))[index]
    refused(capsys, workspace, *argv)


CASES = {
    "clade.yaml": len(CONFIG_CASES) + len(SPECIAL_WEIGHTS) + len(WHOLE_FILES),
    "task YAML": len(TASK_CASES) + len(TASK_FILES) + 1,
    "JSONL data": len(DATA_FILES) + len(SPECIAL_PATHS),
    "eval arguments": EVAL_ARGS,
}
