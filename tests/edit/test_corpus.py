import pytest

from tests.edit.corpus import CASES, EDITABLE, TREE
from tools.edit import EditParseError, apply_edits, failure_report, parse_edits


@pytest.mark.parametrize("name", sorted(CASES))
def test_reply_parses_and_applies_as_expected(name):
    reply, parsed, applied = CASES[name]
    if isinstance(parsed, str):
        with pytest.raises(EditParseError, match=parsed):
            parse_edits(reply)
        return
    edits = parse_edits(reply)
    assert len(edits) == parsed
    outcome = apply_edits(TREE, edits, EDITABLE)
    verdict, expected = applied
    if verdict == "ok":
        assert outcome.ok, failure_report(outcome)
        for path, fragment in expected.items():
            assert fragment in outcome.files[path]
    else:
        assert not outcome.ok
        assert expected in outcome.failures[0].reason
        assert outcome.files == TREE  # nothing applied in a one-block reply


def test_the_input_tree_is_never_changed():
    before = dict(TREE)
    apply_edits(TREE, parse_edits(CASES["well_formed"][0]), EDITABLE)
    assert TREE == before
