import copy

import pytest
import torch

from espnet_durep.model.dual_mode_asr import DualModeASRModel
from espnet_durep.tasks.durep import DurepTask

from tiny_asr import build_args


def _model(tmp_path, config, **model_conf):
    config = copy.deepcopy(config)
    config["model_conf"].update(model_conf)
    args = build_args(tmp_path, config)
    torch.manual_seed(0)
    return DurepTask.build_model(args)


def test_builds_registered_model_through_task(tmp_path, tiny_config):
    model = _model(tmp_path, tiny_config)
    assert isinstance(model, DualModeASRModel)
    assert type(model.encoder).__name__ == "DualModeConformerEncoder"


def test_both_modes_report_every_stat(tmp_path, tiny_config, toy_batch):
    model = _model(tmp_path, tiny_config, inplace_kd_weight=0.5, sp_kd_weight=1.0)
    loss, stats, weight = model(*toy_batch, utt_id=["a", "b"])
    for key in ["loss", "loss_full", "loss_streaming", "loss_ctc_full", "loss_att_streaming", "acc_full",
                "acc_streaming", "acc", "loss_kd_inplace_ctc", "loss_kd_inplace_att", "loss_kd_sp_enc",
                "loss_kd_sp_dec"]:
        assert key in stats, key
    expected = (0.5 * stats["loss_full"] + 0.5 * stats["loss_streaming"] + 0.5 * stats["loss_kd_inplace_ctc"]
                + 0.5 * stats["loss_kd_inplace_att"] + stats["loss_kd_sp_enc"] + stats["loss_kd_sp_dec"])
    assert torch.allclose(loss, expected, atol=1e-5)
    assert int(weight) == 2


def test_streaming_weight_mixes_mode_losses(tmp_path, tiny_config, toy_batch):
    model = _model(tmp_path, tiny_config, streaming_weight=0.25)
    model.eval()
    loss, stats, _ = model(*toy_batch)
    assert torch.allclose(loss, 0.75 * stats["loss_full"] + 0.25 * stats["loss_streaming"], atol=1e-5)
    assert not torch.allclose(stats["loss_full"], stats["loss_streaming"])  # the modes really differ


@pytest.mark.parametrize("schedule, expected", [("full", {"loss_full"}), ("streaming", {"loss_streaming"})])
def test_single_mode_schedules(tmp_path, tiny_config, toy_batch, schedule, expected):
    model = _model(tmp_path, tiny_config, mode_schedule=schedule)
    _, stats, _ = model(*toy_batch)
    assert {k for k in stats if k in ("loss_full", "loss_streaming")} == expected


def test_alternate_schedule_switches_each_step(tmp_path, tiny_config, toy_batch):
    model = _model(tmp_path, tiny_config, mode_schedule="alternate")
    seen = []
    for _ in range(4):
        _, stats, _ = model(*toy_batch)
        seen.append("loss_streaming" in stats)
    assert seen == [False, True, False, True]
    assert int(model.train_steps) == 4


def test_multi_decoder_has_separate_streaming_heads(tmp_path, tiny_config, toy_batch):
    model = _model(tmp_path, tiny_config, multi_decoder=True)
    assert model.heads("streaming")[1] is not model.heads("full")[1]
    assert model.heads("streaming")[0] is not model.heads("full")[0]
    loss, _, _ = model(*toy_batch)
    loss.backward()
    assert model.stream_decoder.output_layer.weight.grad.abs().sum() > 0
    assert model.decoder.output_layer.weight.grad.abs().sum() > 0


def test_kd_warmup_scales_kd_terms(tmp_path, tiny_config, toy_batch):
    model = _model(tmp_path, tiny_config, inplace_kd_weight=1.0, kd_warmup_steps=10)
    loss, stats, _ = model(*toy_batch)  # step 0: KD scaled by 0
    assert torch.allclose(loss, 0.5 * stats["loss_full"] + 0.5 * stats["loss_streaming"], atol=1e-5)


def test_overfits_toy_batch_in_both_modes(tmp_path, tiny_config, toy_batch):
    model = _model(tmp_path, tiny_config, inplace_kd_weight=0.1)
    model.encoder.dynamic_chunk_training = False
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    first = None
    for _ in range(50):
        loss, stats, _ = model(*toy_batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        first = first or {k: float(stats[k]) for k in ("loss_full", "loss_streaming")}
    for k in ("loss_full", "loss_streaming"):
        assert float(stats[k]) < 0.5 * first[k], (k, first[k], float(stats[k]))


def test_legacy_mode_schedule_builds_a_working_streaming_model_with_a_warning(tmp_path, tiny_config, toy_batch):
    with pytest.warns(DeprecationWarning,
                      match="model_conf.mode_schedule: 'stream' is deprecated, write 'streaming' instead"):
        model = _model(tmp_path, tiny_config, mode_schedule="stream")
    assert model.mode_schedule == "streaming"
    loss, stats, _ = model(*toy_batch)
    assert {k for k in stats if k in ("loss_full", "loss_streaming")} == {"loss_streaming"}
    torch.testing.assert_close(loss, stats["loss_streaming"])
    loss.backward()


def test_invalid_options_are_rejected(tmp_path, tiny_config):
    with pytest.raises(ValueError, match=r"^model_conf.mode_schedule must be one of \('both', 'random', 'alternate', "
                                         r"'full', 'streaming'\), got 'sometimes'$"):
        _model(tmp_path, tiny_config, mode_schedule="sometimes")
    with pytest.raises(ValueError, match="streaming_weight"):
        _model(tmp_path, tiny_config, streaming_weight=1.5)
