"""ESPnet options the models would silently skip are rejected, naming each option."""
from __future__ import annotations

import copy

import pytest

from tiny_asr import TINY_CONFIG, build_args
from tiny_transducer import build, cascaded_config
from espnet_durep.tasks.durep import DurepTask


def test_dual_mode_model_rejects_intermediate_ctc(tmp_path):
    config = copy.deepcopy(TINY_CONFIG)
    config["model_conf"] = {**config.get("model_conf", {}), "interctc_weight": 0.3}
    with pytest.raises(ValueError, match="DualModeASRModel does not run model_conf.interctc_weight"):
        DurepTask.build_model(build_args(tmp_path, config))


def test_transducer_rejects_aux_ctc(tmp_path):
    with pytest.raises(ValueError, match="does not run model_conf.aux_ctc"):
        build(tmp_path, cascaded_config(aux_ctc={"1": "x"}))
