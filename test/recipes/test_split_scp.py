"""split_scp: contiguous near-equal parts that concatenate back to the input."""
from __future__ import annotations

import pytest

from split_scp import split_evenly, split_file


@pytest.mark.parametrize("n_items,n_parts", [(10, 3), (7, 7), (5, 1), (100, 8)])
def test_parts_are_contiguous_balanced_and_complete(n_items, n_parts):
    items = list(range(n_items))
    parts = split_evenly(items, n_parts)
    assert len(parts) == n_parts
    assert [x for part in parts for x in part] == items
    sizes = [len(p) for p in parts]
    assert max(sizes) - min(sizes) <= 1 and min(sizes) >= 1


def test_hand_computed_sizes():
    assert [len(p) for p in split_evenly(list(range(10)), 4)] == [3, 3, 2, 2]


def test_more_parts_than_lines_is_an_error(tmp_path):
    src = tmp_path / "wav.scp"
    src.write_text("a x\nb y\n")
    with pytest.raises(ValueError, match=f"{src}: cannot split 2 lines into 3"):
        split_file(src, [tmp_path / f"k.{i}" for i in range(3)])


def test_split_file_writes_parts(tmp_path):
    src = tmp_path / "wav.scp"
    src.write_text("a x\nb y\nc z\n")
    split_file(src, [tmp_path / "k.1", tmp_path / "k.2"])
    assert (tmp_path / "k.1").read_text() == "a x\nb y\n"
    assert (tmp_path / "k.2").read_text() == "c z\n"
