"""format_audio: in-place references, sox conversion and cutting, parts merged."""
from __future__ import annotations

import soundfile

from format_audio import format_part, merge
from kaldi_dir import DataDir, Segment, read_table


def format_dir(src, dst, num_jobs):
    for job in range(1, num_jobs + 1):
        format_part(src, dst, 16000, job, num_jobs)
    merge(src, dst, num_jobs)
    wav = read_table(dst / "wav.scp")[0]
    lengths = {u: int(n) for u, n in read_table(dst / "utt2num_samples")[0].items()}
    for utt, path in wav.items():
        info = soundfile.info(path)
        assert (info.samplerate, info.channels, info.frames) == (16000, 1, lengths[utt])
    assert not (dst / "segments").exists() and not (dst / "parts").exists()
    return wav, lengths


def test_plain_resampled_and_stereo_audio(tmp_path, tone):
    data = DataDir()
    ok = tone(tmp_path / "ok.wav", 0.5)
    data.add("a_ok", "s1", "A", str(ok))
    data.add("b_8k", "s1", "B", str(tone(tmp_path / "8k.wav", 0.25, rate=8000)))
    data.add("c_st", "s2", "C", str(tone(tmp_path / "st.wav", 0.3, channels=2)))
    data.save(tmp_path / "src")
    wav, lengths = format_dir(tmp_path / "src", tmp_path / "dst", 2)
    assert wav["a_ok"] == str(ok.resolve())  # already 16 kHz mono: referenced, not copied
    assert wav["b_8k"] == str((tmp_path / "dst" / "audio" / "b_8k.flac").resolve())
    assert lengths == {"a_ok": 8000, "b_8k": 4000, "c_st": 4800}
    assert (tmp_path / "dst" / "text").read_text() == "a_ok A\nb_8k B\nc_st C\n"


def test_segments_are_cut_into_files(tmp_path, tone):
    data = DataDir()
    long = tone(tmp_path / "long.wav", 2.0)
    data.add("long_0500_1250", "long", "ONE", str(long), Segment("long", 0.5, 1.25))
    data.add("long_1500_2000", "long", "TWO", str(long), Segment("long", 1.5, 2.0))
    data.save(tmp_path / "src")
    wav, lengths = format_dir(tmp_path / "src", tmp_path / "dst", 1)
    assert lengths == {"long_0500_1250": 12000, "long_1500_2000": 8000}
    assert sorted(wav) == ["long_0500_1250", "long_1500_2000"]


def test_kaldi_command_pipes_are_run_and_written(tmp_path, tone):
    """`cmd |` entries as Kaldi/ESPnet data-prep writes them: sox and flac pipes, 8 kHz too,
    with segments of a piped recording."""
    import shutil

    import pytest

    if shutil.which("flac") is None:
        pytest.skip("flac not installed (Debian package flac; tools/setup.sh installs it)")
    data = DataDir()
    wav8k = tone(tmp_path / "8k.wav", 0.5, rate=8000)
    flac = tmp_path / "f.flac"
    soundfile.write(flac, soundfile.read(tone(tmp_path / "t.wav", 0.4))[0], 16000)
    long = tone(tmp_path / "long.wav", 2.0)
    data.add("a_sox", "s1", "A", f"sox {wav8k} -r 16000 -t wav - |")
    data.add("b_flac", "s1", "B", f"flac -c -d -s {flac} |")
    data.save(tmp_path / "src")
    wav, lengths = format_dir(tmp_path / "src", tmp_path / "dst", 2)
    assert lengths == {"a_sox": 8000, "b_flac": 6400}
    assert all(p.endswith(".flac") for p in wav.values())
    assert not list((tmp_path / "dst" / "audio").glob("*.pipe.wav"))  # temporary files removed
    segmented = DataDir()
    segmented.add("c_seg1", "c", "C", f"cat {long} |", Segment("c", 0.5, 1.0))
    segmented.add("c_seg2", "c", "D", f"cat {long} |", Segment("c", 1.0, 1.75))
    segmented.save(tmp_path / "src_seg")
    assert format_dir(tmp_path / "src_seg", tmp_path / "dst_seg", 1)[1] == {"c_seg1": 8000, "c_seg2": 12000}


def test_failing_or_silent_pipes_name_the_utterance_and_command(tmp_path, tone):
    import pytest

    from kaldi_dir import DataDirError

    data = DataDir()
    data.add("a_fail", "s1", "A", f"sox {tmp_path / 'nothere.wav'} -t wav - |")
    data.add("b_empty", "s1", "B", "true |")
    data.add("c_text", "s1", "C", "echo hello |")
    data.save(tmp_path / "src")
    with pytest.raises(DataDirError) as err:
        format_part(tmp_path / "src", tmp_path / "dst", 16000, 1, 1)
    message = str(err.value)
    assert "utterance 'a_fail': command failed (exit" in message and "nothere.wav" in message
    assert "utterance 'b_empty': command wrote no audio: true" in message
    assert "utterance 'c_text': command output is not readable audio" in message
