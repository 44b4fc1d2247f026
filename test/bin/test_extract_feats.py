"""extract_feats on a tiny model and real AN4 speech: kaldiio round trip, full features equal
forward(mode="full"), streaming features (incremental path) equal the masked streaming pass,
bad audio handled per utterance."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import kaldiio
import pytest
import torch

from espnet_durep.bin.durep_inference import read_audio
from espnet_durep.bin.extract_feats import main, parse_layers
from espnet_durep.inference.recognizer import Speech2TextDualMode
from tiny_asr import TINY_CONFIG, save_experiment

AN4 = Path(__file__).resolve().parents[2] / "egs2" / "mini_an4" / "durep1" / "corpus" / "an4_nemo_subset" / "wav"


@pytest.fixture(scope="module")
def experiment(tmp_path_factory):
    config = copy.deepcopy(TINY_CONFIG)
    exp, _ = save_experiment(tmp_path_factory.mktemp("exp"), "model", config, ["--token_type", "char"])
    return exp


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("data")
    waves = sorted(AN4.glob("*/*.wav"))[:2]
    assert len(waves) == 2, f"no AN4 audio under {AN4}"
    lines = [f"a {waves[0]}", f"b {waves[1]}", f"c {d / 'missing.wav'}", f"d cat {waves[0]} |"]
    (d / "wav.scp").write_text("\n".join(lines) + "\n")
    return d


@pytest.mark.parametrize("mode", ["full", "streaming"])
def test_layers_round_trip_and_equal_the_encoder(experiment, data, tmp_path, mode):
    extra = ["--chunk_size", "2", "--num_left_chunks", "1"] if mode == "streaming" else []
    assert main(["--model_dir", str(experiment), "--model_file", "model.pth", "--data_dir", str(data),
                 "--output_dir", str(tmp_path), "--mode", mode, "--layers", "0,2", *extra]) == 0
    info = json.loads((tmp_path / "feats.json").read_text())
    assert info["layers"] == [0, 2] and info["mode"] == mode and info["num_failed"] == 1
    assert "c audio file not found" in (tmp_path / "failed_utts").read_text()
    frames = dict(line.split() for line in (tmp_path / "utt2num_frames").read_text().splitlines())
    s2t = Speech2TextDualMode(experiment / "config.yaml", experiment / "model.pth")
    wave = torch.from_numpy(read_audio(sorted(AN4.glob("*/*.wav"))[0].as_posix())[0][:, 0].copy())
    feats, lens = s2t.features_of(wave)
    with torch.no_grad():
        _, _, want = s2t.model.encoder(feats, lens, mode=mode, chunk_size=2, num_left_chunks=1, return_layers=(0, 2))
    for k in (0, 2):
        table = {utt: torch.from_numpy(m.copy()) for utt, m in kaldiio.load_scp(str(tmp_path / f"layer{k}.scp")).items()}
        assert sorted(table) == ["a", "b", "d"]
        assert table["a"].shape[0] == int(frames["a"])
        torch.testing.assert_close(table["a"], want[k][0], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(table["d"], table["a"])  # the pipe entry reads the same audio


def test_layer_selection_is_checked():
    assert parse_layers("all", 4) == [0, 1, 2, 3, 4]
    assert parse_layers("3,0,3", 4) == [0, 3]
    with pytest.raises(ValueError, match="blocks are 0..4"):
        parse_layers("5", 4)
    with pytest.raises(ValueError, match="comma-separated"):
        parse_layers("x", 4)
