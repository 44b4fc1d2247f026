"""README command (1), end to end: the mini_an4 dual-mode recipe from data to RESULTS.md.

Runs the recipe's own ``run.sh`` (all 13 stages, real AN4 speech, sclite scoring) with its
experiment and dump directories in a temporary folder, then checks what a user reads:
RESULTS.md rows for both models and modes, sclite outputs, and the packed model.
"""

import jiwer
import pytest

from espnet_durep.bin.make_results import parse_sclite
from mini_an4_run import RECIPE, run_mini_an4



@pytest.fixture(scope="module")
def recipe_run(tmp_path_factory):
    return run_mini_an4("run.sh", tmp_path_factory.mktemp("mini_an4"), "--chunk_sizes", "4", "--left_chunks", "-1 2",
                        "--full_searches", "attention_rescoring joint")


def _rows(results: str):
    return [line for line in results.splitlines() if line.startswith("| teacher") or line.startswith("| student")]


def test_results_table_has_both_models_and_modes(recipe_run):
    results = (recipe_run / "RESULTS.md").read_text()
    rows = _rows(results)
    assert any(r.startswith("| teacher | full") for r in rows)
    full = [r for r in rows if r.startswith("| student | full")]
    # search column; each search once per table (WER, CER)
    assert sorted(r.split("|")[5].strip() for r in full) == ["attention_rescoring"] * 2 + ["joint"] * 2
    assert {d.name for d in (recipe_run / "student").glob("decode_full*")} == {
        "decode_full_attention_rescoring", "decode_full_joint"}
    streaming = [r for r in rows if r.startswith("| student | streaming")]
    assert {r.split("|")[3].strip() for r in streaming} == {"160"}  # 4 frames x 40 ms
    assert {r.split("|")[4].strip() for r in streaming} == {"all", "2"}
    assert "torch 2.12.1" in results and "espnet 202511" in results


def test_sclite_scores_agree_with_jiwer(recipe_run):
    for decode_dir in sorted((recipe_run / "student").glob("decode_*/test")):
        score = decode_dir / "score_wer"
        assert (score / "result.txt").exists() and list(score.glob("*.dtl"))
        ref = dict(l.split(maxsplit=1) if " " in l else (l, "") for l in (RECIPE / "data" / "test" / "text").read_text().splitlines())
        hyp = {}
        for line in (decode_dir / "1best_recog" / "text").read_text().splitlines():
            key, _, words = line.partition(" ")
            hyp[key] = words.strip()
        keys = sorted(ref)
        expected = jiwer.wer([ref[k] for k in keys], [hyp.get(k, "") for k in keys]) * 100
        assert parse_sclite(score / "result.txt").err == pytest.approx(expected, abs=0.11), decode_dir


def test_decoding_metrics_and_packed_model(recipe_run):
    import json

    metrics = json.loads((recipe_run / "student" / "decode_streaming_chunk4_left2" / "test" / "metrics.json").read_text())
    assert metrics["decode_mode"] == "streaming" and metrics["chunk_ms"] == 160.0
    assert metrics["num_utts"] == 12 and metrics["rtf"] > 0
    assert metrics["algorithmic_latency_ms"] >= 160.0
    assert (recipe_run / "student" / "packed_model.zip").exists()


def _test_waves(recipe_run):
    import soundfile
    import torch

    for line in (recipe_run.parent / "dump" / "raw" / "test" / "wav.scp").read_text().splitlines():
        utt, path = line.split(maxsplit=1)
        yield utt, torch.from_numpy(soundfile.read(path, dtype="float32")[0])


@pytest.mark.parametrize("search", ["attention_rescoring", "ctc_greedy"])
def test_incremental_streaming_equals_simulated_on_real_speech(recipe_run, search, monkeypatch):
    """The trained student, real AN4 audio: the cached chunk-by-chunk decoder reproduces the
    masked whole-utterance streaming pass, and greedy partial results only ever grow."""
    from espnet_durep.inference.recognizer import Speech2TextDualMode

    monkeypatch.chdir(RECIPE)  # the experiment's config names data/token_list/... relative to the recipe

    s2t = Speech2TextDualMode.from_pretrained(recipe_run / "student", beam_size=4, streaming_search=search)
    decoded = 0
    for utt, wave in _test_waves(recipe_run):
        for chunk, left in ((4, -1), (2, 2)):
            simulated = s2t.decode_simulated_streaming(wave, chunk, left)
            stream = s2t.stream(chunk_size=chunk, num_left_chunks=left)
            partials = [stream.partial_ids()]
            for start in range(0, wave.numel(), 1280):  # 80 ms pieces
                stream.accept_waveform(wave[start:start + 1280])
                partials.append(stream.partial_ids())
            result = stream.finalize()
            assert result.token_ids == simulated.token_ids, (utt, chunk, left)
            decoded += bool(result.token_ids)
            if search == "ctc_greedy":
                assert all(a == b[: len(a)] for a, b in zip(partials, partials[1:])), utt
                assert result.token_ids[: len(partials[-1])] == partials[-1]  # finalize flushes the last chunk
    assert decoded > 0  # the comparison is not between empty hypotheses only


def test_packed_model_decodes_like_the_experiment(recipe_run, monkeypatch):
    from espnet_durep.inference.recognizer import Speech2TextDualMode

    monkeypatch.chdir(RECIPE)

    utt, wave = next(_test_waves(recipe_run))
    a = Speech2TextDualMode.from_pretrained(recipe_run / "student", beam_size=4)(wave)
    b = Speech2TextDualMode.from_pretrained(recipe_run / "student" / "packed_model.zip", beam_size=4)(wave)
    assert a.text == b.text and a.token_ids == b.token_ids
