"""Storage: one commit per candidate, git parents = parent candidates, notes for results."""

import json

import pytest
import yaml

from archive import Candidate, Proposer, ResultEvent, Review, SplitMetrics
from archive.store import Archive
from tools.errors import BadInput

from .conftest import git, git_fsck_ok, merge, open_archive, recipe, source, succeed


def test_a_crossover_is_a_commit_with_both_parents(archive):
    a, b = source(archive, "a"), source(archive, "b")
    child = merge(archive, [a, b])
    line = git(archive.git_dir, "rev-list", "--parents", "-n", "1", f"refs/candidates/{child}").split()
    assert line[0].startswith(child) and [p[:10] for p in line[1:]] == [a, b]
    roots = set(git(archive.git_dir, "rev-list", "--max-parents=0", f"refs/candidates/{child}").split())
    assert roots == {archive.commit_of(a), archive.commit_of(b)}
    assert git_fsck_ok(archive.git_dir)


def test_the_tree_holds_the_genotype(archive):
    a, b = source(archive, "a"), source(archive, "b")
    child = merge(archive, [a, b], weight=0.25)
    assert yaml.safe_load(git(archive.git_dir, "show", f"{child}:recipe.yaml")) == recipe(a, b, weight=0.25)
    record = json.loads(git(archive.git_dir, "show", f"{child}:candidate.json"))
    assert record["kind"] == "merge" and record["parents"] == [a, b]
    code = archive.record(
        Candidate(
            kind="code",
            parents=[a],
            genotype={"files": {"train.py": "lr = 3e-4\n", "pkg/model.py": "x = 1\n"}, "command": ["python", "train.py"]},
        )
    )
    assert git(archive.git_dir, "show", f"{code}:workspace/pkg/model.py") == "x = 1\n"
    assert set(archive.files(code)) == {"candidate.json", "workspace/train.py", "workspace/pkg/model.py"}


def test_ids_are_git_short_hashes_and_prefixes_resolve(archive):
    a = source(archive, "a")
    assert len(a) == 10 and git(archive.git_dir, "rev-parse", f"refs/candidates/{a}").startswith(a)
    assert archive.resolve(a[:6]) == a and archive.resolve(archive.commit_of(a)) == a
    assert archive.get(a[:5]).genotype.name == "a"
    with pytest.raises(BadInput, match="no such candidate"):
        archive.get("0000000")
    with pytest.raises(BadInput, match="neither a candidate id .* nor a source name"):
        archive.get("best-one")


def test_a_source_name_works_as_its_id(archive):
    adder, sorter = source(archive, "adder"), source(archive, "sorter")
    child = merge(archive, ["adder", "sorter"])  # names work as parents too
    assert archive.resolve("adder") == adder and archive.get("sorter").id == sorter
    assert archive.get(child).parents == [adder, sorter] and archive.ancestors(child) == sorted([adder, sorter])
    assert archive.source_names() == {adder: "adder", sorter: "sorter"}
    assert {r.id: r.name for r in archive.candidates()} == {adder: "adder", sorter: "sorter", child: None}
    with pytest.raises(BadInput, match="neither a candidate id"):
        archive.resolve("Adder")  # names are exact


def test_two_sources_with_one_name_are_ambiguous_and_say_which(archive):
    first = archive.record(Candidate(kind="source", genotype={"name": "adder", "path": "models/adder"}))
    second = archive.record(Candidate(kind="source", genotype={"name": "adder", "path": "models/adder-v2"}))
    with pytest.raises(BadInput, match=f"2 sources have this name .*{first} \\(models/adder\\).*{second}"):
        archive.resolve("adder")
    assert archive.resolve(second) == second


def test_a_hex_looking_name_that_is_also_an_id_prefix_is_ambiguous(archive):
    a = source(archive, "a")
    named = archive.record(Candidate(kind="source", genotype={"name": a[:4], "path": "models/x"}))
    with pytest.raises(BadInput, match="ambiguous, both the source named"):
        archive.resolve(a[:4])
    assert archive.resolve(a) == a and archive.resolve(named) == named


def test_an_ambiguous_prefix_names_the_matches(archive):
    a = archive.get(source(archive, "a"))
    with archive.index.transaction() as ix:  # two index rows sharing a 4-digit prefix (rare among real ids)
        for cid in ("abcd000001", "abcd000002"):
            ix.put(cid + "0" * 30, "{}", a.model_copy(update={"id": cid}))
    with pytest.raises(BadInput, match="ambiguous, it starts abcd000001, abcd000002"):
        archive.resolve("abcd")
    assert archive.resolve("abcd000002") == "abcd000002"


def test_unknown_parent_is_bad_input_naming_it(archive):
    with pytest.raises(BadInput, match="candidate abcdef1234: no such candidate"):
        merge(archive, ["abcdef1234"])


def test_results_are_attached_without_rewriting_history(archive):
    a = source(archive, "a")
    m = merge(archive, [a])
    commit = archive.commit_of(m)
    archive.attach_result(m, ResultEvent(status="running"))
    succeed(archive, m, 0.5, arc={"acc": 0.5})
    archive.attach_result(m, ResultEvent(metrics={"test": SplitMetrics(fitness=0.4)}))  # held-out re-evaluation
    archive.attach_review(m, Review(verdict="approved", comment="solid", who="ana"))
    state = archive.get(m)
    assert archive.commit_of(m) == commit
    assert state.status == "succeeded" and state.fitness("search") == 0.5 and state.fitness("test") == 0.4
    assert state.metrics["search"].tasks == {"arc": {"acc": 0.5}}
    assert [r.comment for r in state.reviews] == ["solid"]
    note = git(archive.git_dir, "notes", "--ref=clade", "show", commit).splitlines()
    assert [json.loads(line)["event"] for line in note] == ["result", "result", "result", "review"]
    assert note == sorted(note)  # time-stamped lines: lexical order is time order
    assert git_fsck_ok(archive.git_dir)


def test_failed_candidates_are_records_with_reasons(archive):
    a = source(archive, "a")
    bad = archive.record(
        Candidate(
            kind="merge", parents=[a], genotype={"recipe": {"merge_method": "nope"}}, status="invalid", reason="unknown merge_method 'nope'"
        )
    )
    m = merge(archive, [a])
    archive.attach_result(m, ResultEvent(status="failed", reason="CUDA out of memory", logs="Traceback\n..."))
    assert archive.get(bad).reason == "unknown merge_method 'nope'"
    assert (archive.get(m).status, archive.get(m).reason, archive.get(m).logs) == ("failed", "CUDA out of memory", "Traceback\n...")


def test_recording_the_same_record_twice_gives_the_same_id(archive):
    a = source(archive, "a")
    c = Candidate(kind="merge", parents=[a], genotype={"recipe": recipe(a)}, proposer=Proposer(strategy="llm"))
    cid = archive.record(c)
    archive.attach_result(cid, ResultEvent(status="succeeded", metrics={"search": SplitMetrics(fitness=0.7)}))
    assert archive.record(c) == cid
    assert len(archive.candidates()) == 2
    again = archive.get(cid)  # what was attached in between survives the second record call
    assert again.status == "succeeded" and again.metrics["search"].fitness == 0.7
    assert [s.id for s in archive.top(1)] == [cid]


def test_same_genotype_twice_is_two_candidates_found_by_hash(archive):
    a = source(archive, "a")
    m1, m2 = merge(archive, [a]), merge(archive, [a])
    assert m1 != m2
    assert archive.find_genotype(archive.get(m1).genotype_hash()) == [m1, m2]


def test_reopen_sees_everything(tmp_path):
    with open_archive(tmp_path / "arc") as a:
        s = source(a, "a")
        succeed(a, s, 0.3)
    with Archive.open(tmp_path / "arc") as again:
        assert again.get(s).fitness() == 0.3


def test_bad_genotype_paths_are_refused(archive):
    a = source(archive, "a")
    for path in ("../escape.py", "/abs.py", ".git/config"):
        with pytest.raises(BadInput, match="relative path"):
            archive.record(Candidate(kind="code", parents=[a], genotype={"files": {path: "x"}}))
