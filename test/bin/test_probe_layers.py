"""probe_layers end to end on real AN4 speech: extract_feats (full and streaming) of a tiny
model, then the per-layer probe report (Markdown table and PNG plot)."""
from __future__ import annotations

import copy
import json
import re
from pathlib import Path

from espnet_durep.bin import extract_feats, probe_layers
from tiny_asr import TINY_CONFIG, save_experiment

AN4 = Path(__file__).resolve().parents[2] / "egs2" / "mini_an4" / "durep1" / "corpus" / "an4_nemo_subset" / "wav"


def test_probe_report_from_real_audio(tmp_path):
    exp, _ = save_experiment(tmp_path, "model", copy.deepcopy(TINY_CONFIG), ["--token_type", "char"])
    waves = sorted(AN4.glob("*/*.wav"))
    speaker = {w.stem: re.sub(r"^[a-z0-9]+-([a-z0-9]+)-.*$", r"\1", w.stem) for w in waves}
    data = tmp_path / "data"
    data.mkdir()
    (data / "wav.scp").write_text("".join(f"{w.stem} {w}\n" for w in waves))
    (data / "utt2spk").write_text("".join(f"{u} {s}\n" for u, s in sorted(speaker.items())))
    (data / "spk2gender").write_text("".join(f"{s} {s[0]}\n" for s in sorted(set(speaker.values()))))
    (data / "text").write_text("".join(f"{u} YES NO\n" for u in sorted(speaker)))
    for mode, extra in (("full", []), ("streaming", ["--chunk_size", "4", "--num_left_chunks", "2"])):
        assert extract_feats.main(["--model_dir", str(exp), "--model_file", "model.pth", "--data_dir", str(data),
                                   "--output_dir", str(tmp_path / mode), "--mode", mode, "--layers", "all",
                                   *extra]) == 0
    out = tmp_path / "probe"
    assert probe_layers.main(["--feats", f"full={tmp_path / 'full'}",
                              "--feats", f"streaming160={tmp_path / 'streaming'}",
                              "--data_dir", str(data), "--output_dir", str(out), "--epochs", "2"]) == 0
    report = (out / "probe.md").read_text()
    for task in ("speaker (accuracy)", "gender (accuracy)", "chars (cer)"):
        assert f"## {task}" in report
    assert "| layer | full | streaming160 |" in report and "| weighted sum |" in report
    assert (out / "probe.png").stat().st_size > 1000
    results = json.loads((out / "probe.json").read_text())
    layers = json.loads((tmp_path / "full" / "feats.json").read_text())["layers"]
    assert len(results["gender"]["full"]) == len(layers) + 1  # one probe per layer, then the weighted sum
    weights = results["gender"]["streaming160"][-1]["layer_weights"]
    assert abs(sum(weights) - 1.0) < 1e-5


def test_bad_feats_argument_is_a_clear_error(tmp_path, capsys):
    assert probe_layers.main(["--feats", "nodir", "--data_dir", str(tmp_path), "--output_dir", str(tmp_path)]) == 1
    assert "--feats must be NAME=DIR" in capsys.readouterr().err
