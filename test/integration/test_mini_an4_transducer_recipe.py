"""mini_an4 transducer recipe end to end: cascaded-transducer teacher -> 50 % student with RNN-T KD.

Runs the recipe's ``run_transducer.sh`` (all 13 stages through ESPnet's trainer, real AN4
speech, sclite scoring) with its experiment and dump directories in a temporary folder,
then checks RESULTS.md, the sclite scores, the compression of the student and that the
trained student's incremental streaming decoder reproduces the masked streaming pass.
"""
from pathlib import Path

import jiwer
import pytest

from espnet_durep.bin.make_results import parse_sclite
from mini_an4_run import RECIPE, run_mini_an4

MODELS = ("transducer_teacher", "transducer_student")
MODEL_FILE = "valid.loss.ave.pth"


@pytest.fixture(scope="module")
def recipe_run(tmp_path_factory):
    return run_mini_an4("run_transducer.sh", tmp_path_factory.mktemp("mini_an4_transducer"), "--chunk_sizes", "4")


def _rows(results: str):
    return [[c.strip() for c in line.split("|")[1:-1]] for line in results.splitlines()
            if line.startswith("| transducer_")]


def test_results_table_has_both_models_in_both_modes(recipe_run):
    rows = _rows((recipe_run / "RESULTS.md").read_text())
    for model in MODELS:
        assert any(r[0] == model and r[1] == "full" for r in rows), model
        streaming = [r for r in rows if r[0] == model and r[1] == "streaming"]
        assert {(r[2], r[3]) for r in streaming} == {("160", "all")}, model  # 4 frames x 40 ms
        for r in streaming:
            assert float(r[13]) > 0 and float(r[14]) >= 160.0  # RTF, algorithmic latency
    assert all(r[4] == "transducer_beam" for r in rows)  # search column
    assert all(int(r[5]) == 12 for r in rows)  # sclite scored every test utterance


def _text(path: Path):
    table = {}
    for line in path.read_text().splitlines():
        key, _, words = line.partition(" ")
        table[key] = words.strip()
    return table


def test_sclite_scores_agree_with_jiwer(recipe_run):
    ref = _text(RECIPE / "data" / "test" / "text")
    keys = sorted(ref)
    decode_dirs = sorted(d for m in MODELS for d in (recipe_run / m).glob("decode_*/test"))
    assert len(decode_dirs) == 4  # full + streaming for both models
    for decode_dir in decode_dirs:
        score = decode_dir / "score_wer"
        assert (score / "result.txt").exists() and list(score.glob("*.dtl"))
        hyp = _text(decode_dir / "1best_recog" / "text")
        expected = jiwer.wer([ref[k] for k in keys], [hyp.get(k, "") for k in keys]) * 100
        assert parse_sclite(score / "result.txt").err == pytest.approx(expected, abs=0.11), decode_dir


def test_student_has_about_half_the_parameters(recipe_run):
    import torch

    def count(model):  # weights and statistics buffers in the saved model
        state = torch.load(recipe_run / model / MODEL_FILE, map_location="cpu", weights_only=True)
        return sum(v.numel() for v in state.values() if v.is_floating_point())

    teacher, student = count("transducer_teacher"), count("transducer_student")
    assert student < teacher
    assert 0.4 < student / teacher < 0.6, (teacher, student)
    assert (recipe_run / "transducer_student" / "packed_model.zip").exists()


def _test_waves(recipe_run):
    import soundfile
    import torch

    for line in (recipe_run.parent / "dump" / "raw" / "test" / "wav.scp").read_text().splitlines():
        utt, path = line.split(maxsplit=1)
        yield utt, torch.from_numpy(soundfile.read(path, dtype="float32")[0])


def test_incremental_streaming_equals_simulated_on_real_speech(recipe_run, monkeypatch):
    """The trained student's causal encoder fed chunk by chunk (cached state) with the
    transducer beam kept between chunks gives the masked whole-utterance streaming result."""
    from espnet_durep.inference.recognizer import Speech2TextDualMode

    monkeypatch.chdir(RECIPE)  # the experiment's config names data/token_list/... relative to the recipe

    s2t = Speech2TextDualMode.from_pretrained(recipe_run / "transducer_student", model_file=MODEL_FILE, beam_size=4)
    assert s2t.search_name("streaming") == s2t.search_name("full") == "transducer_beam"
    settings = ((4, -1), (2, 2))  # chunk (encoder frames), left chunks: alternate between utterances
    decoded = 0
    for n, (utt, wave) in enumerate(_test_waves(recipe_run)):
        for chunk, left in (settings[n % len(settings)],):
            simulated = s2t.decode_simulated_streaming(wave, chunk, left)
            stream = s2t.stream(chunk_size=chunk, num_left_chunks=left)
            for start in range(0, wave.numel(), 1280):  # 80 ms pieces
                stream.accept_waveform(wave[start:start + 1280])
            result = stream.finalize()
            assert result.token_ids == simulated.token_ids, (utt, chunk, left)
            assert result.score == pytest.approx(simulated.score, abs=1e-3), (utt, chunk, left)
            decoded += bool(result.token_ids)
    assert decoded > 0  # the comparison is not between empty hypotheses only
