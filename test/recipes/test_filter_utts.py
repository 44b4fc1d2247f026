"""filter_utts: duration bounds, every drop listed with its reason."""
from __future__ import annotations

import pytest

from filter_utts import drop_reasons, filter_dir
from kaldi_dir import DataDir, write_table


def test_drop_reasons_hand_computed():
    reasons = drop_reasons({"short": 800, "ok": 16000, "long": 48000, "edge": 1600}, 16000, 0.1, 2.0)
    assert reasons == {"short": "0.050 s < min 0.1 s", "long": "3.000 s > max 2 s"}


def test_filter_dir_writes_kept_and_dropped(tmp_path):
    data = DataDir()
    for utt in ("a", "b", "c"):
        data.add(utt, "s", utt.upper(), f"/{utt}.wav")
    data.save(tmp_path / "src")
    write_table(tmp_path / "src" / "utt2num_samples", {"a": "16000", "b": "100", "c": "32000"})
    assert filter_dir(tmp_path / "src", tmp_path / "dst", 16000, 0.1, 1.5) == (1, 2)
    assert (tmp_path / "dst" / "text").read_text() == "a A\n"
    assert (tmp_path / "dst" / "utt2num_samples").read_text() == "a 16000\n"
    assert (tmp_path / "dst" / "dropped_utts.txt").read_text() == (
        "b 0.006 s < min 0.1 s\nc 2.000 s > max 1.5 s\n")
    with pytest.raises(ValueError, match="all 3 utterances are outside"):
        filter_dir(tmp_path / "src", tmp_path / "none", 16000, 5.0, 9.0)
