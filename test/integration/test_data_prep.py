"""Recipe data preparation: LibriSpeech and CSJ on small trees with the real layouts,
validator error messages for bad input, and stages 1-5 of mini_an4 and speechocean762
on the real data."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile

REPO = Path(__file__).resolve().parents[2]
EGS = REPO / "egs2"
SCRIPTS = EGS / "TEMPLATE" / "durep1" / "scripts"
SPEECHOCEAN762 = REPO.parent / "shared" / "data" / "speechocean762_subset"
GENERATED = {"data", "dump", "exp"}


def noise(path: Path, seconds: float, seed: int = 0, fmt: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    wave = 0.1 * np.random.default_rng(seed).standard_normal(round(seconds * 16000))
    soundfile.write(path, wave, 16000, subtype="PCM_16", format=fmt)
    return path


def run_python(script: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(SCRIPTS)}
    return subprocess.run([sys.executable, str(script), *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=env)


def recipe_copy(recipe: str, tmp_path: Path) -> Path:
    """A scratch recipe directory linking to the real one, so outputs stay in tmp_path."""
    work = tmp_path / recipe
    work.mkdir(parents=True)
    for entry in (EGS / recipe / "durep1").iterdir():
        if entry.name not in GENERATED:
            (work / entry.name).symlink_to(entry)
    return work


def lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


# ---------------------------------------------------------------- LibriSpeech


def librispeech_tree(root: Path, sets: dict[str, dict[str, list[str]]]) -> Path:
    """``{set: {"spk-chapter": [transcripts]}}`` -> the OpenSLR 12 folder layout."""
    for name, chapters in sets.items():
        for chapter_id, transcripts in chapters.items():
            spk, chapter = chapter_id.split("-")
            folder = root / name / spk / chapter
            rows = []
            for i, words in enumerate(transcripts):
                utt = f"{chapter_id}-{i:04d}"
                noise(folder / f"{utt}.flac", 0.2, seed=i, fmt="FLAC")
                rows.append(f"{utt} {words}\n")
            (folder / f"{chapter_id}.trans.txt").write_text("".join(rows), encoding="utf-8")
    return root


LIBRI_SETS = {
    "train-clean-100": {"103-1240": ["CHAPTER ONE MISSUS RACHEL", "LYNDE IS SURPRISED"], "19-198": ["NORTHANGER ABBEY"]},
    "dev-clean": {"84-121123": ["GO DO YOU HEAR"]},
    "dev-other": {"116-288045": ["AS I APPROACHED THE CITY"]},
    "test-clean": {"1089-134686": ["HE HOPED THERE WOULD BE STEW"]},
    "test-other": {"1688-142285": ["THERE'S IRON THEY SAY"]},
}


def test_librispeech_prep_writes_exact_kaldi_dirs(tmp_path):
    corpus = librispeech_tree(tmp_path / "LibriSpeech", LIBRI_SETS)
    script = EGS / "librispeech" / "durep1" / "local" / "librispeech_data.py"
    done = run_python(script, "--corpus", corpus, "--out_dir", tmp_path / "data", "train-clean-100", "dev-clean")
    assert done.returncode == 0, done.stderr
    train = tmp_path / "data" / "train_clean_100"
    audio = corpus / "train-clean-100"
    assert lines(train / "wav.scp") == [
        f"103-1240-0000 {audio}/103/1240/103-1240-0000.flac",
        f"103-1240-0001 {audio}/103/1240/103-1240-0001.flac",
        f"19-198-0000 {audio}/19/198/19-198-0000.flac"]
    assert lines(train / "text") == ["103-1240-0000 CHAPTER ONE MISSUS RACHEL", "103-1240-0001 LYNDE IS SURPRISED",
                                     "19-198-0000 NORTHANGER ABBEY"]
    assert lines(train / "utt2spk") == ["103-1240-0000 103-1240", "103-1240-0001 103-1240", "19-198-0000 19-198"]
    assert lines(train / "spk2utt") == ["103-1240 103-1240-0000 103-1240-0001", "19-198 19-198-0000"]
    assert lines(tmp_path / "data" / "dev_clean" / "text") == ["84-121123-0000 GO DO YOU HEAR"]


def test_librispeech_100_data_sh_prepares_every_set(tmp_path):
    corpus = librispeech_tree(tmp_path / "LibriSpeech", LIBRI_SETS)
    work = recipe_copy("librispeech_100", tmp_path)
    done = subprocess.run(["local/data.sh", "--train_parts", "train-clean-100", "--train_name", "train_clean_100"],
                          cwd=work, capture_output=True, text=True, env={**os.environ, "LIBRISPEECH": str(corpus)})
    assert done.returncode == 0, done.stderr
    data = work / "data"
    assert sorted(p.name for p in data.iterdir()) == ["dev", "dev_clean", "dev_other", "test_clean", "test_other",
                                                      "train_clean_100"]
    assert lines(data / "dev" / "text") == ["116-288045-0000 AS I APPROACHED THE CITY",
                                            "84-121123-0000 GO DO YOU HEAR"]


def test_librispeech_errors_name_file_and_utterance(tmp_path):
    script = EGS / "librispeech" / "durep1" / "local" / "librispeech_data.py"
    done = run_python(script, "--corpus", tmp_path / "nowhere", "--out_dir", tmp_path / "d", "dev-clean")
    assert done.returncode == 1 and f"LibriSpeech corpus folder not found: {tmp_path / 'nowhere'}" in done.stderr

    corpus = librispeech_tree(tmp_path / "LS", {"dev-clean": {"84-121123": ["GO", "DO", "HEAR"]}})
    chapter = corpus / "dev-clean" / "84" / "121123"
    (chapter / "84-121123-0001.flac").unlink()
    trans = chapter / "84-121123.trans.txt"
    trans.write_text(trans.read_text().replace("84-121123-0002 HEAR", "84-121123-0002 "))
    done = run_python(script, "--corpus", corpus, "--out_dir", tmp_path / "d", "dev-clean")
    assert done.returncode == 1
    assert f"{trans}:2: audio of utterance '84-121123-0001' not found: {chapter / '84-121123-0001.flac'}" in done.stderr
    assert f"{trans}:3: utterance '84-121123-0002' has an empty transcript" in done.stderr

    done = run_python(script, "--corpus", tmp_path, "--out_dir", tmp_path / "d", "dev-other")
    assert "LibriSpeech set directory not found" in done.stderr


# ---------------------------------------------------------------------- CSJ

CSJ_EVAL = {
    "eval1": ["A01M0110", "A01M0137", "A01M0097", "A04M0123", "A04M0121",
              "A04M0051", "A03M0156", "A03M0112", "A03M0106", "A05M0011"],
    "eval2": ["A01M0056", "A03F0072", "A02M0012", "A03M0016", "A06M0064",
              "A06F0135", "A01F0034", "A01F0063", "A01F0001", "A01M0141"],
    "eval3": ["S00M0112", "S00F0066", "S00M0213", "S00F0019", "S00M0079",
              "S01F0105", "S00F0152", "S00M0070", "S00M0008", "S00F0148"],
}


def sdb_line(talk: str, n: int, ipu: int, start: float, end: float, surface: str, channel: str = "L") -> str:
    """One SDB morpheme line: tab-separated, time in field 3 and surface form in field 5."""
    fields = [talk, f"{n:05d}", talk, f"{ipu:04d} {start:09.3f}-{end:09.3f} {channel}:-001-001", "x", surface,
              surface, surface, "", "", "", "名詞", "", "", "", "", ""]
    return "\t".join(fields)


def write_sdb(corpus: Path, part: str, talk: str, rows: list[tuple], encoding: str = "cp932") -> None:
    path = corpus / "MORPH" / "SDB" / part / f"{talk}.sdb"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(sdb_line(talk, n, *row) + "\r\n" for n, row in enumerate(rows, 1))
    path.write_bytes(text.encode(encoding))


def csj_tree(root: Path) -> Path:
    for talks in CSJ_EVAL.values():
        for talk in talks:
            write_sdb(root, "core", talk, [(1, 0.0, 0.6, "(F あの)"), (1, 0.0, 0.6, "評価")])
            noise(root / "WAV" / "core" / f"{talk}.wav", 1.0)
    write_sdb(root, "core", "A01F0100", [
        (1, 0.1, 0.9, "(F えー)"), (1, 0.1, 0.9, "音声"), (1, 0.1, 0.9, "認識"),
        (2, 1.2, 1.9, "(A シーディー;ＣＤ)"), (2, 1.2, 1.9, "の"),       # pause 0.3 s: joined
        (3, 3.0, 3.5, "<笑>"),                                            # no words: skipped
        (4, 3.6, 4.4, "(L (D ドゥ)"), (4, 3.6, 4.4, "(D ヒ))"), (4, 3.6, 4.4, "です・"),  # multi-line tag
        (5, 4.5, 5.0, "(R ××)"),                                          # redacted: dropped
    ])
    noise(root / "WAV" / "core" / "A01F0100.wav", 6.0)
    write_sdb(root, "core", "D01F0002", [(1, 0.0, 0.5, "はい", "L"), (1, 0.2, 0.7, "そう", "R"),
                                         (1, 0.2, 0.7, "(? です,でした)", "R")])
    for channel in "LR":
        noise(root / "WAV" / "core" / f"D01F0002-{channel}.wav", 1.0)
    write_sdb(root, "noncore", "S01F0001", [(7, 0.25, 0.75, "(W ギーツ;技術)")], encoding="euc_jp")
    noise(root / "WAV" / "noncore" / "S01F0001.wav", 1.0)
    write_sdb(root, "noncore", "R00M0187", [(1, 0.0, 0.5, "話")])  # other talk of an eval2 speaker
    noise(root / "WAV" / "noncore" / "R00M0187.wav", 1.0)
    return root


def test_csj_prep_writes_exact_kaldi_dirs(tmp_path):
    corpus = csj_tree(tmp_path / "CSJ")
    script = EGS / "csj" / "durep1" / "local" / "csj_data.py"
    done = run_python(script, "--corpus", corpus, "--out_dir", tmp_path / "data", "--parts", "core noncore",
                      "--num_valid_lectures", "1")
    assert done.returncode == 0, done.stderr
    assert "1 ipus with redacted words dropped" in done.stdout and "1 ipus without words" in done.stdout
    train = tmp_path / "data" / "train"
    wav = corpus / "WAV" / "core"
    assert lines(train / "text") == ["A01F0100_0000100_0001900 えー音声認識ＣＤの",
                                     "A01F0100_0003600_0004400 ドゥヒです",
                                     "D01F0002-L_0000000_0000500 はい",
                                     "D01F0002-R_0000200_0000700 そうです"]
    assert lines(train / "segments") == ["A01F0100_0000100_0001900 A01F0100 0.100 1.900",
                                         "A01F0100_0003600_0004400 A01F0100 3.600 4.400",
                                         "D01F0002-L_0000000_0000500 D01F0002-L 0.000 0.500",
                                         "D01F0002-R_0000200_0000700 D01F0002-R 0.200 0.700"]
    assert lines(train / "wav.scp") == [f"A01F0100 {wav}/A01F0100.wav", f"D01F0002-L {wav}/D01F0002-L.wav",
                                        f"D01F0002-R {wav}/D01F0002-R.wav"]
    assert lines(train / "spk2utt") == ["A01F0100 A01F0100_0000100_0001900 A01F0100_0003600_0004400",
                                        "D01F0002-L D01F0002-L_0000000_0000500",
                                        "D01F0002-R D01F0002-R_0000200_0000700"]
    assert lines(tmp_path / "data" / "valid" / "text") == ["S01F0001_0000250_0000750 技術"]  # EUC-JP file
    for name, talks in CSJ_EVAL.items():
        text = lines(tmp_path / "data" / name / "text")
        assert text == [f"{talk}_0000000_0000600 あの評価" for talk in sorted(talks)]
    all_text = "".join((tmp_path / "data" / d / "text").read_text() for d in ("train", "valid", "eval1"))
    assert "R00M0187" not in all_text


def test_csj_errors(tmp_path):
    script = EGS / "csj" / "durep1" / "local" / "csj_data.py"
    done = run_python(script, "--corpus", tmp_path, "--out_dir", tmp_path / "d")
    assert done.returncode == 1 and f"CSJ transcripts not found: {tmp_path / 'MORPH' / 'SDB'}" in done.stderr
    corpus = csj_tree(tmp_path / "CSJ")
    (corpus / "WAV" / "core" / "D01F0002-R.wav").unlink()
    done = run_python(script, "--corpus", corpus, "--out_dir", tmp_path / "d", "--num_valid_lectures", "1")
    assert f"audio of talk 'D01F0002-R' not found: {corpus / 'WAV' / 'core' / 'D01F0002-R.wav'}" in done.stderr
    (corpus / "MORPH" / "SDB" / "core" / "A01M0110.sdb").unlink()
    done = run_python(script, "--corpus", corpus, "--out_dir", tmp_path / "d", "--num_valid_lectures", "1")
    assert "evaluation talk A01M0110 not found" in done.stderr


# ------------------------------------------------------- validator messages


def data_dir(path: Path, wav_scp: str, text: bytes | str, utt2spk: str) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "wav.scp").write_text(wav_scp)
    (path / "text").write_bytes(text if isinstance(text, bytes) else text.encode())
    (path / "utt2spk").write_text(utt2spk)
    spk = {}
    for line in utt2spk.splitlines():
        utt, s = line.split()
        spk.setdefault(s, []).append(utt)
    (path / "spk2utt").write_text("".join(f"{s} {' '.join(u)}\n" for s, u in sorted(spk.items())))
    return path


def validate(directory: Path, *flags: str) -> subprocess.CompletedProcess:
    return run_python(SCRIPTS / "kaldi_dir.py", "validate", directory, *flags)


@pytest.fixture
def good_audio(tmp_path):
    return noise(tmp_path / "a.wav", 0.3), noise(tmp_path / "b.wav", 0.3, seed=1)


def test_validator_accepts_good_dir(tmp_path, good_audio):
    a, b = good_audio
    d = data_dir(tmp_path / "ok", f"u1 {a}\nu2 {b}\n", "u1 YES\nu2 NO\n", "u1 s\nu2 s\n")
    done = validate(d, "--check_audio")
    assert done.returncode == 0 and "OK (2 utterances, 1 speakers)" in done.stdout


def test_validator_missing_audio_file(tmp_path, good_audio):
    a, _ = good_audio
    d = data_dir(tmp_path / "d", f"u1 {a}\nu2 {tmp_path}/gone.wav\n", "u1 YES\nu2 NO\n", "u1 s\nu2 s\n")
    done = validate(d, "--check_audio")
    assert done.returncode == 1
    assert f"{d / 'wav.scp'}:2: 'u2': audio file not found: {tmp_path}/gone.wav" in done.stderr


def test_validator_corrupt_audio_file(tmp_path, good_audio):
    a, _ = good_audio
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF\x00\x00garbage, not audio" * 4)
    d = data_dir(tmp_path / "d", f"u1 {a}\nu2 {bad}\n", "u1 YES\nu2 NO\n", "u1 s\nu2 s\n")
    done = validate(d, "--check_audio")
    assert f"{d / 'wav.scp'}:2: 'u2': audio file not readable" in done.stderr and str(bad) in done.stderr
    # stage 3 opens every file too, naming the utterance
    done = run_python(SCRIPTS / "format_audio.py", "part", d, tmp_path / "dump", "--job", "1", "--num_jobs", "1")
    assert done.returncode == 1 and f"{d / 'wav.scp'}:2: utterance 'u2': audio file not readable" in done.stderr


def test_validator_empty_transcript(tmp_path, good_audio):
    a, b = good_audio
    d = data_dir(tmp_path / "d", f"u1 {a}\nu2 {b}\n", "u1 YES\nu2   \n", "u1 s\nu2 s\n")
    assert f"{d / 'text'}:2: utterance 'u2' has an empty transcript" in validate(d).stderr


def test_validator_text_without_audio(tmp_path, good_audio):
    a, _ = good_audio
    d = data_dir(tmp_path / "d", f"u1 {a}\n", "u1 YES\nu2 NO\n", "u1 s\nu2 s\n")
    assert f"{d / 'text'}:2: utterance 'u2' has no audio in {d / 'wav.scp'}" in validate(d).stderr


def test_validator_non_utf8_text(tmp_path, good_audio):
    a, b = good_audio
    d = data_dir(tmp_path / "d", f"u1 {a}\nu2 {b}\n", "u1 YES\nu2 caf\xe9\n".encode("latin-1"), "u1 s\nu2 s\n")
    done = validate(d)
    assert done.returncode == 1
    assert f"{d / 'text'}:2: utterance 'u2': not valid UTF-8 (byte 0xe9 at column 7)" in done.stderr


def test_missing_corpus_folder_in_data_sh(tmp_path):
    work = recipe_copy("speechocean762", tmp_path)
    done = subprocess.run(["local/data.sh"], cwd=work, capture_output=True, text=True,
                          env={**os.environ, "SPEECHOCEAN762": str(tmp_path / "absent")})
    assert done.returncode == 1 and f"speechocean762 not found at '{tmp_path / 'absent'}'" in done.stderr


# --------------------------------------------- stages 1-5 on the real corpora


def run_stages_1_to_5(work: Path, *extra: str) -> subprocess.CompletedProcess:
    done = subprocess.run(["./run.sh", "--stop_stage", "5", "--nj", "2", *extra], cwd=work, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def table(path: Path) -> dict[str, str]:
    return dict(line.split(maxsplit=1) for line in lines(path))


def test_mini_an4_stages_1_to_5(tmp_path):
    work = recipe_copy("mini_an4", tmp_path)
    done = run_stages_1_to_5(work)
    assert "'fash-an251-fash-b' is in an4_nemo_subset and mini_an4" in done.stdout
    data, dump = work / "data", work / "dump" / "raw"
    assert len(lines(data / "train" / "text")) == 33 and len(lines(data / "test" / "text")) == 12
    assert (data / "valid" / "text").read_text() == (data / "test" / "text").read_text()
    assert table(data / "train" / "text")["mwhw-cen8-mwhw-b"] == "ELEVEN SEVENTEEN FIFTY ONE"  # SPHERE sample
    samples = table(dump / "train" / "utt2num_samples")
    assert samples["fash-an251-fash-b"] == "16000"  # 1.0 s, the SPHERE header's sample count
    assert sorted(samples) == sorted(table(data / "train" / "text"))
    assert lines(dump / "train" / "dropped_utts.txt") == []
    tokens = lines(work / "data" / "token_list" / "bpe_unigram30" / "tokens.txt")
    assert tokens[:2] == ["<blank>", "<unk>"] and tokens[-1] == "<sos/eos>" and len(tokens) == 30
    assert (work / "exp" / "log" / "data.log").read_text().startswith("# local/data.sh")


@pytest.mark.skipif(not (SPEECHOCEAN762 / "train" / "wav.scp").is_file(),
                    reason=f"speechocean762 subset not found at {SPEECHOCEAN762}")
def test_speechocean762_stages_1_to_5(tmp_path):
    work = recipe_copy("speechocean762", tmp_path)
    run_stages_1_to_5(work, "--speed_perturb_factors", "")
    data, dump = work / "data", work / "dump" / "raw"
    train, valid, test = (table(data / d / "utt2spk") for d in ("train", "valid", "test"))
    assert (len(train), len(valid), len(test)) == (1400, 100, 800)
    assert len(set(valid.values())) == 5 and not set(valid.values()) & set(train.values())
    assert table(data / "test" / "text")["001200015"] == "WE WERE FORTUNATE TO GET BACK INTO THE BALL GAME"
    for d, speakers in (("train", train), ("valid", valid), ("test", test)):  # speaker labels for the probes
        assert set(table(data / d / "spk2gender")) == set(table(data / d / "spk2age")) == set(speakers.values())
    assert (table(data / "test" / "spk2gender")["0120"], table(data / "test" / "spk2age")["0120"]) == ("f", "19")
    audio = Path(table(data / "test" / "wav.scp")["001200015"])
    assert audio.resolve() == (SPEECHOCEAN762 / "WAVE/SPEAKER0120/001200015.flac").resolve()  # links resolved or not
    kept = len(lines(dump / "train" / "text"))
    assert kept + len(lines(dump / "train" / "dropped_utts.txt")) == 1400
    tokens = lines(work / "data" / "token_list" / "char" / "tokens.txt")  # run.sh: --token_type char
    assert tokens[:3] == ["<blank>", "<unk>", "<space>"] and tokens[-1] == "<sos/eos>"
    assert set(tokens[3:-1]) == set("ABCDEFGHIJKLMNOPQRSTUVWXYZ'")
