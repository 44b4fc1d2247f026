"""speed_perturb: sp<f>- copies whose length scales by 1/f, originals kept."""
from __future__ import annotations

import pytest
import soundfile

from kaldi_dir import DataDir, validate
from speed_perturb import parse_factors, write_audio, write_data


def test_perturbed_copies(tmp_path, tone):
    data = DataDir()
    orig = tone(tmp_path / "a.wav", 1.0)
    data.add("spk1-a", "spk1", "HELLO WORLD", str(orig))
    data.save(tmp_path / "src")
    write_audio(tmp_path / "src", tmp_path / "sp", [0.9, 1.0, 1.1], 1, 1)
    write_data(tmp_path / "src", tmp_path / "sp", [0.9, 1.0, 1.1])
    out = validate(tmp_path / "sp")
    assert out.utterances == ["sp0.9-spk1-a", "sp1.1-spk1-a", "spk1-a"]
    assert out.utt2spk == {"sp0.9-spk1-a": "sp0.9-spk1", "sp1.1-spk1-a": "sp1.1-spk1", "spk1-a": "spk1"}
    assert set(out.text.values()) == {"HELLO WORLD"}
    assert out.wav_scp["spk1-a"] == str(orig)
    for factor in (0.9, 1.1):
        info = soundfile.info(out.wav_scp[f"sp{factor:g}-spk1-a"])
        assert info.samplerate == 16000
        assert info.frames == pytest.approx(16000 / factor, abs=2)


def test_factor_validation():
    assert parse_factors("0.9 1.0 1.1") == [0.9, 1.0, 1.1]
    for bad in ("", "0.9 x", "0.9 0.9", "-1"):
        with pytest.raises(ValueError):
            parse_factors(bad)
