"""A ref is put in place atomically: by exchanging names where the kernel can, else by rename."""

from __future__ import annotations

from pathlib import Path

import pytest

from archive import refs


def _tmp_and_target(tmp_path: Path, old: str | None) -> tuple[Path, Path]:
    tmp, target = tmp_path / "ref-new", tmp_path / "notes"
    tmp.write_text("new\n")
    if old is not None:
        target.write_text(old)
    return tmp, target


@pytest.mark.parametrize("old", ["old\n", None], ids=["replaces", "creates"])
@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2", "rename-fallback"])
def test_swap_leaves_the_new_value_and_no_temporary(tmp_path, monkeypatch, old, exchange):
    if not exchange:
        monkeypatch.setattr(refs, "_renameat2", lambda: None)
    tmp, target = _tmp_and_target(tmp_path, old)
    refs._swap_into_place(str(tmp), str(target))
    assert target.read_text() == "new\n"
    assert not tmp.exists()


def test_a_ref_written_twice_holds_the_last_value(tmp_path):
    store = refs.RefStore(tmp_path)
    store.write(refs.NOTES, "a" * 40)
    store.write(refs.NOTES, "b" * 40)
    assert store.read(refs.NOTES) == "b" * 40
    assert list((tmp_path / refs.TMP_DIR).iterdir()) == []
