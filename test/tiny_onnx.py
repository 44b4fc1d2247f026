"""A tiny dual-mode experiment with global MVN, exported to ONNX (tests of export, runtime, server)."""
from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from tiny_asr import TINY_CONFIG, save_experiment

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "data" / "speechocean762_subset"


def tiny_experiment(root: Path, **model_conf) -> Path:
    """A saved tiny model that emits tokens (its CTC blank bias lowered), features normalised globally."""
    rng = np.random.default_rng(0)
    stats = root / "feats_stats.npz"
    mean, var = rng.normal(-5, 1, size=20), rng.uniform(1.0, 4.0, size=20)
    np.savez(stats, count=100.0, sum=mean * 100.0, sum_square=(var + mean**2) * 100.0)
    config = copy.deepcopy(TINY_CONFIG)
    config["normalize"], config["normalize_conf"] = "global_mvn", {"stats_file": str(stats)}
    config["model_conf"].update(model_conf)
    exp, model = save_experiment(root, "model", config, ["--token_type", "char"])
    with torch.no_grad():  # an untrained model emits mostly blanks: make it emit tokens
        for mode in ("full", "streaming"):
            model.heads(mode)[0].ctc_lo.bias[0] -= 3.0
    torch.save(model.state_dict(), exp / "model.pth")
    return exp


def real_speech(n: int = 2):
    """{utterance id: 16 kHz waveform} of the first ``n`` speechocean762 files (skips without the corpus)."""
    files = sorted(CORPUS.glob("WAVE/*/*.flac"))[:n]
    if not files:
        pytest.skip(f"{CORPUS} not found")
    return {f.stem: soundfile.read(f, dtype="float32")[0] for f in files}
