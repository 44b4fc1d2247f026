"""DurepModelBase: the saved step counter and SpecAugment from ``specaug_start_steps``, in every
model family; one feature path; the frozen teacher."""
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


def test_one_feature_path_for_our_models_and_for_an_espnet_teacher(tmp_path):
    """model_features: our models' features() (no SpecAugment in eval); ESPnet's model: front-end + normalize."""
    from espnet_durep.model.base import model_features
    from tiny_asr import build_args
    from espnet_durep.tasks.durep import DurepTask

    ours = build(tmp_path, dual_mode_config()).eval()
    espnet_config = copy.deepcopy(TINY_CONFIG)
    espnet_config.update(model="espnet", encoder="conformer", model_conf={"ctc_weight": 0.3},
                         encoder_conf={"output_size": 32, "attention_heads": 2, "linear_units": 48, "num_blocks": 1})
    theirs = DurepTask.build_model(build_args(tmp_path, espnet_config)).eval()
    speech, lens = torch.randn(2, 4000), torch.tensor([4000, 3000])
    for model in (ours, theirs):
        want, want_lens = model._extract_feats(speech, lens)
        got, got_lens = model_features(model, speech, lens)
        torch.testing.assert_close(got, want)
        assert got_lens.tolist() == want_lens.tolist()
