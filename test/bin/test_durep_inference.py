"""durep_inference CLI: ESPnet's output layout, metrics.json, and every bad input handled per utterance."""
import copy
import json

import numpy as np
import pytest
import soundfile
import torch

from espnet_durep.bin.durep_inference import main
from tiny_asr import TINY_CONFIG, save_experiment


@pytest.fixture(scope="module")
def experiment(tmp_path_factory):
    exp, model = save_experiment(tmp_path_factory.mktemp("exp"), "model", copy.deepcopy(TINY_CONFIG),
                                 ["--token_type", "char"])
    with torch.no_grad():
        model.ctc.ctc_lo.bias[0] -= 3.0  # an untrained model emits mostly blanks
    torch.save(model.state_dict(), exp / "model.pth")
    return exp


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(0)
    good = 0.1 * rng.standard_normal(16000)
    nan = good.copy()
    nan[100] = np.nan
    files = {
        "a_good": (good, 16000),
        "b_8khz": (0.1 * rng.standard_normal(8000), 8000),
        "c_stereo": (np.stack([good, good], axis=1), 16000),
        "d_empty": (np.zeros(0), 16000),
        "e_nan": (nan, 16000),
        "f_short": (good[:300], 16000),
    }
    lines = []
    for utt, (samples, rate) in files.items():
        path = d / f"{utt}.wav"
        soundfile.write(path, samples, rate, subtype="FLOAT")
        lines.append(f"{utt} {path}")
    lines.append(f"g_missing {d / 'missing.wav'}")
    lines.append(f"h_pipe cat {d / 'a_good.wav'} |")
    (d / "wav.scp").write_text("\n".join(lines) + "\n")
    (d / "text").write_text("a_good a b c\nh_pipe c d\n")
    return d


def _run(experiment, data, out, *extra):
    return main(["--asr_train_config", str(experiment / "config.yaml"), "--asr_model_file",
                 str(experiment / "model.pth"), "--data_path_and_name_and_type", f"{data / 'wav.scp'},speech,sound",
                 "--output_dir", str(out), "--ref_text", str(data / "text"), "--beam_size", "2", *extra])


def _table(path):
    rows = {}
    for line in path.read_text().splitlines():
        key, _, value = line.partition(" ")
        rows[key] = value
    return rows


@pytest.mark.parametrize("mode", [["--decode_mode", "full"],
                                  ["--decode_mode", "streaming", "--chunk_size", "2", "--num_left_chunks", "2"]])
def test_bad_inputs_get_empty_hypotheses_and_reasons(experiment, data, tmp_path, mode):
    assert _run(experiment, data, tmp_path, *mode) == 0
    text = _table(tmp_path / "1best_recog" / "text")
    assert sorted(text) == ["a_good", "b_8khz", "c_stereo", "d_empty", "e_nan", "f_short", "g_missing", "h_pipe"]
    assert text["a_good"] and text["b_8khz"] and text["a_good"] == text["h_pipe"]
    failed = _table(tmp_path / "failed_utts")
    assert sorted(failed) == ["c_stereo", "d_empty", "e_nan", "f_short", "g_missing"]
    assert "2 channels" in failed["c_stereo"]
    assert "no samples" in failed["d_empty"]
    assert "NaN" in failed["e_nan"]
    assert "too short: 19 ms" in failed["f_short"]
    assert failed["g_missing"].startswith("audio file not found") and "missing.wav" in failed["g_missing"]
    for name in ("token", "token_int", "score", "token_times"):
        assert sorted(_table(tmp_path / "1best_recog" / name)) == sorted(text)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["num_utts"] == 8 and metrics["num_failed_utts"] == 5
    assert metrics["audio_seconds"] == pytest.approx(3.0)  # 1 s + 1 s (8 kHz, resampled) + 1 s (pipe)
    assert metrics["rtf"] > 0 and metrics["num_threads"] == 1


def test_streaming_metrics(experiment, data, tmp_path):
    assert _run(experiment, data, tmp_path, "--decode_mode", "streaming", "--chunk_size", "4") == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["decode_mode"] == "streaming" and metrics["search"] == "attention_rescoring"
    assert metrics["chunk_size_frames"] == 4 and metrics["chunk_ms"] == pytest.approx(80.0)
    assert metrics["algorithmic_latency_ms"] == pytest.approx(80 + 15 + 8)
    assert metrics["final_latency_ms_mean"] > 0
    timing = [l.split() for l in (tmp_path / "timing").read_text().splitlines() if not l.startswith("#")]
    assert [row[0] for row in timing] == ["a_good", "b_8khz", "h_pipe"]
    times = _table(tmp_path / "1best_recog" / "token_times")["a_good"].split()
    tokens = _table(tmp_path / "1best_recog" / "token_int")["a_good"].split()
    assert len(times) == len(tokens) > 0


def test_wrong_setting_is_a_usage_error(experiment, data, tmp_path):
    with pytest.raises(SystemExit):
        _run(experiment, data, tmp_path, "--decode_mode", "offline")


def test_int8_weights_decode_and_are_recorded(experiment, data, tmp_path):
    assert _run(experiment, data, tmp_path / "int8", "--decode_mode", "streaming", "--chunk_size", "2",
                "--quantize", "int8") == 0
    metrics = json.loads((tmp_path / "int8" / "metrics.json").read_text())
    assert metrics["quantize"] == "int8" and metrics["num_failed_utts"] == 5  # the bad inputs, as in fp32
    text = _table(tmp_path / "int8" / "1best_recog" / "text")
    assert text["a_good"] and text["a_good"] == text["h_pipe"]
    with pytest.raises(SystemExit):
        _run(experiment, data, tmp_path / "bad", "--quantize", "int4")
