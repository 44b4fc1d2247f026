"""TrainingSteps: the saved step counter and SpecAugment from ``specaug_start_steps``, in every
model family."""
from __future__ import annotations

import pytest
import torch

import copy

from tiny_asr import TINY_CONFIG
from tiny_transducer import build, cascaded_config, multi_decoder_config

SPECAUG = {"apply_time_warp": False, "apply_freq_mask": True, "freq_mask_width_range": [0, 4],
           "num_freq_mask": 1, "apply_time_mask": False}


def dual_mode_config(**model_conf) -> dict:
    config = copy.deepcopy(TINY_CONFIG)
    config["model_conf"] = {**config.get("model_conf", {}), **model_conf}
    return config


@pytest.mark.parametrize("make_config", [dual_mode_config, cascaded_config, multi_decoder_config])
def test_specaug_starts_at_specaug_start_steps(tmp_path, toy_batch, make_config):
    config = make_config(specaug_start_steps=2)
    config.update(specaug="specaug", specaug_conf=SPECAUG)
    model = build(tmp_path, config)
    calls = []
    real = model.specaug.forward
    model.specaug.forward = lambda *a: calls.append(int(model.train_steps)) or real(*a)
    model.train()
    for _ in range(4):
        model(*[t.clone() for t in toy_batch])
    model.eval()
    with torch.no_grad():
        model(*[t.clone() for t in toy_batch])
    assert calls == [2, 3]  # training steps 0 and 1 unaugmented; never in eval
    assert int(model.state_dict()["train_steps"]) == 4  # saved with the checkpoint: resume continues


def test_negative_start_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="specaug_start_steps must be >= 0"):
        build(tmp_path, cascaded_config(specaug_start_steps=-1))
