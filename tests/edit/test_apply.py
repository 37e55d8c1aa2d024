import pytest

from tests.edit.corpus import EDITABLE, TREE
from tools.edit import apply_edits, failure_report, format_instructions, parse_edits
from tools.edit.apply import glob_matches
from tools.edit.parse import Edit


def block(path, search, replace):
    return f"{path}\n<<<<<<< SEARCH\n{search}\n=======\n{replace}\n>>>>>>> REPLACE\n"


def test_exact_match_wins_over_an_indentation_shifted_one():
    files = {"a.py": "x = 1\nif True:\n    x = 1\n"}
    outcome = apply_edits(files, parse_edits(block("a.py", "x = 1", "x = 2")), ["*.py"])
    assert outcome.files["a.py"] == "x = 2\nif True:\n    x = 1\n"


def test_a_search_matching_twice_after_a_shift_is_an_error():
    files = {"a.py": "def f():\n    y = 0\ndef g():\n    y = 0\n"}
    outcome = apply_edits(files, parse_edits(block("a.py", "y = 0", "y = 1")), ["*.py"])
    assert "matches 2 places" in outcome.failures[0].reason and "lines 2, 4" in outcome.failures[0].reason


def test_a_mixed_indentation_difference_does_not_match():
    files = {"a.py": "def f():\n    a = 1\n        b = 2\n"}
    outcome = apply_edits(files, parse_edits(block("a.py", "  a = 1\n  b = 2", "a = 3")), ["*.py"])
    assert not outcome.ok


def test_failure_report_names_the_block_the_closest_lines_and_what_applied():
    reply = (
        block("merge_op.py", "import torch", "import torch\nimport math")
        + "\n"
        + block("merge_op.py", "    total = sum(delta)\n    return base + 0.8 * total", "    return base")
    )
    outcome = apply_edits(TREE, parse_edits(reply), EDITABLE)
    report = failure_report(outcome)
    assert [e.index for e in outcome.applied] == [1] and outcome.failures[0].edit.index == 2
    assert "block 2 (merge_op.py) failed" in report
    assert "   6|     total = sum(deltas)" in report  # the real line, numbered after block 1 added one
    assert "Already applied (do not resend them): block 1 (merge_op.py)" in report


def test_later_blocks_see_earlier_ones():
    reply = block("merge_op.py", "def scale(x):", "def rescale(x):") + block(
        "merge_op.py", "def rescale(x):\n    return x", "def rescale(x):\n    return x / 2"
    )
    outcome = apply_edits(TREE, parse_edits(reply), EDITABLE)
    assert outcome.ok and "def rescale(x):\n    return x / 2\n" in outcome.files["merge_op.py"]


def test_format_instructions_come_from_the_readme_and_parse_as_shown():
    text = format_instructions()
    assert "<<<<<<< SEARCH" in text and "<!--" not in text
    edits = parse_edits(text)
    assert [(e.path, e.kind) for e in edits] == [("path/to/file.py", "replace"), ("path/to/file.py", "file")]


@pytest.mark.parametrize("path", ["sub/.git/x.py", "..\\evil.py", "./a.py", "a//b.py"])
def test_paths_the_archive_would_refuse_fail_the_edit(path):
    outcome = apply_edits({"a.py": "x = 1\n"}, [Edit(1, path, "file", "", "y = 2\n")], ["**/*.py", "*.py"])
    assert not outcome.ok and "not a plain relative path" in outcome.failures[0].reason


def test_a_glob_star_stays_within_one_directory():
    assert glob_matches("merge_op.py", "*.py") and not glob_matches("agents/code/cascade.py", "*.py")
    assert glob_matches("prompts/a.md", "prompts/*.md") and not glob_matches("prompts/x/a.md", "prompts/*.md")
    assert glob_matches("prompts/x/a.md", "prompts/**/*.md") and glob_matches("prompts/a.md", "prompts/**/*.md")
