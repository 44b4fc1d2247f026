"""kaldi_dir: loading, sorting/fixing, combining, subsetting, segment checks."""
from __future__ import annotations

import pytest

from kaldi_dir import DataDir, DataDirError, Segment, combine, fix, validate


def write_dir(path, **files):
    path.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (path / name.replace("_scp", ".scp")).write_text(text, encoding="utf-8")
    return path


def test_fix_sorts_every_file_and_rebuilds_spk2utt(tmp_path):
    d = write_dir(tmp_path / "d", wav_scp="b /x/b.wav\na /x/a.wav\n", text="b HELLO  there\na YES\n",
                  utt2spk="b s2\na s1\n", spk2utt="s9 a b\n")
    with pytest.raises(DataDirError, match="not sorted|does not match"):
        validate(d)
    fix(d)
    assert (d / "wav.scp").read_text() == "a /x/a.wav\nb /x/b.wav\n"
    assert (d / "text").read_text() == "a YES\nb HELLO there\n"  # whitespace collapsed
    assert (d / "spk2utt").read_text() == "s1 a\ns2 b\n"
    assert validate(d).utterances == ["a", "b"]


def test_save_derives_spk2utt_and_segments(tmp_path):
    data = DataDir()
    data.add("rec1_0000000_0001000", "rec1", "ONE", "/a/rec1.wav", Segment("rec1", 0.0, 1.0))
    data.add("rec1_0001500_0002250", "rec1", "TWO", "/a/rec1.wav", Segment("rec1", 1.5, 2.25))
    data.save(tmp_path / "d")
    assert (tmp_path / "d" / "segments").read_text() == (
        "rec1_0000000_0001000 rec1 0.000 1.000\nrec1_0001500_0002250 rec1 1.500 2.250\n")
    assert (tmp_path / "d" / "wav.scp").read_text() == "rec1 /a/rec1.wav\n"
    assert (tmp_path / "d" / "spk2utt").read_text() == "rec1 rec1_0000000_0001000 rec1_0001500_0002250\n"
    loaded = validate(tmp_path / "d")
    assert loaded.segments["rec1_0001500_0002250"] == Segment("rec1", 1.5, 2.25)


def test_bad_segment_line_is_named(tmp_path):
    d = write_dir(tmp_path / "d", wav_scp="r /r.wav\n", text="u HI\n", utt2spk="u r\n", spk2utt="r u\n",
                  segments="u r 2.0 1.0\n")
    with pytest.raises(DataDirError, match=r"segments:1: utterance 'u'.*0 <= start < end"):
        validate(d)


def test_unused_recording_and_orphan_speaker_entries_are_reported(tmp_path):
    d = write_dir(tmp_path / "d", wav_scp="a /a.wav\nz /z.wav\n", text="a HI\n",
                  utt2spk="a s\nq s\n", spk2utt="s a q\n")
    with pytest.raises(DataDirError) as e:
        validate(d)
    assert "wav.scp: 'z' is not used" in str(e.value)
    assert "utt2spk: utterance 'q' has no transcript" in str(e.value)


def test_combine_unions_and_rejects_duplicate_ids(tmp_path):
    one = write_dir(tmp_path / "one", wav_scp="a /a.wav\n", text="a A\n", utt2spk="a s\n", spk2utt="s a\n")
    two = write_dir(tmp_path / "two", wav_scp="b /b.wav\n", text="b B\n", utt2spk="b t\n", spk2utt="t b\n")
    out = combine(tmp_path / "out", [two, one])
    assert out.utterances == ["a", "b"]
    assert (tmp_path / "out" / "text").read_text() == "a A\nb B\n"
    with pytest.raises(DataDirError, match=f"utterance 'a' is in both {one} and {one}"):
        combine(tmp_path / "dup", [one, one])


def test_subset_keeps_listed_utterances_and_their_recordings(tmp_path):
    data = DataDir()
    data.add("r1_a", "r1", "A", "/r1.wav", Segment("r1", 0, 1))
    data.add("r2_b", "r2", "B", "/r2.wav", Segment("r2", 0, 1))
    part = data.subset(["r2_b"])
    assert part.wav_scp == {"r2": "/r2.wav"} and list(part.segments) == ["r2_b"]
    with pytest.raises(DataDirError, match="'nope' is not in the data directory"):
        data.subset(["nope"])
