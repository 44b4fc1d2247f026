"""MultiDecoderTransducerModel: per-path decoders, loss weights, sp-KD wiring, integrations."""
from __future__ import annotations

import pytest
import torch

from espnet_durep.model.multi_decoder_transducer import MultiDecoderTransducerModel
from tiny_transducer import build, multi_decoder_config, overfit

torch.set_num_threads(1)
SP_TIME = {"axis": "time", "detach_teacher": True, "decoder": True}


def test_streaming_and_non_streaming_paths_have_their_own_decoders(tmp_path):
    model = build(tmp_path, multi_decoder_config())
    assert isinstance(model, MultiDecoderTransducerModel)
    (dec_s, joint_s), (dec_f, joint_f) = model.rnnt_heads("streaming"), model.rnnt_heads("lookahead")
    assert dec_s is not dec_f and joint_s is not joint_f
    assert joint_s.output.weight is dec_s.embed.weight and joint_f.output.weight is dec_f.embed.weight
    stream_params = {id(p) for m in (dec_s, joint_s) for p in m.parameters()}
    assert not stream_params & {id(p) for m in (dec_f, joint_f) for p in m.parameters()}
    assert model.ctc is not None and model.attention_decoder is not None


def test_loss_is_the_weighted_sum_of_every_decoder_and_sp_kd(tmp_path, toy_batch):
    config = multi_decoder_config(streaming_weight=0.4, sp_kd_weight=2.0, sp_kd_conf=SP_TIME)
    model = build(tmp_path, config).eval()
    loss, stats, _ = model(*toy_batch)
    full = stats["loss_rnnt_lookahead"] + 0.3 * stats["loss_ctc_lookahead"] + 0.3 * stats["loss_att_lookahead"]
    torch.testing.assert_close(stats["loss_lookahead"], full)
    torch.testing.assert_close(stats["loss_streaming"], stats["loss_rnnt_streaming"])
    sp = stats["loss_kd_sp_enc"] + stats["loss_kd_sp_dec"]
    assert float(stats["loss_kd_sp_enc"]) > 1e-7 and float(stats["loss_kd_sp_dec"]) > 1e-7
    torch.testing.assert_close(loss, 0.4 * stats["loss_streaming"] + 0.6 * stats["loss_lookahead"] + 2.0 * sp)
    assert 0.0 <= float(stats["acc_lookahead"]) <= 1.0


@pytest.mark.parametrize("detach", [True, False])
def test_sp_kd_teacher_side_gets_gradients_only_without_detach(tmp_path, toy_batch, detach):
    config = multi_decoder_config(sp_kd_weight=1.0, sp_kd_conf={**SP_TIME, "detach_teacher": detach},
                                  full_decoders={"rnnt": 1.0})
    model = build(tmp_path, config)
    _, stats, _ = model(*toy_batch)  # stats are detached: rerun the terms with graphs
    feats, flens = model.features(*toy_batch[:2])
    encs, lens = model.encode_passes(feats, flens, 2, -1)
    targets = model.targets(toy_batch[2].clone(), toy_batch[3])
    outs = {p: model._pass_loss(p, encs[p], lens, targets) for p in encs}
    terms = model._extra_terms(outs, encs, lens, targets)
    sum(w * v for w, v in terms.values()).backward()
    non_causal = model.encoder.encoders[0].ff.net[0].weight.grad
    full_joint = model.full_joint_network.lin_enc.weight.grad
    causal = model.encoder.causal.encoders[0].ff.net[0].weight.grad
    assert causal is not None and causal.abs().sum() > 0
    if detach:
        assert non_causal is None and full_joint is None
    else:
        assert non_causal.abs().sum() > 0 and full_joint.abs().sum() > 0


@pytest.mark.parametrize("integration", ["cascaded", "parallel"])
def test_overfits_a_toy_batch_on_both_paths(tmp_path, toy_batch, integration):
    model = build(tmp_path, multi_decoder_config(integration, sp_kd_weight=1.0))
    first, last = overfit(model, toy_batch, steps=40)
    for key in ("loss_rnnt_streaming", "loss_rnnt_lookahead", "loss_ctc_lookahead", "loss_att_lookahead"):
        assert last[key] < 0.6 * first[key], (key, first[key], last[key])


def test_decoding_uses_the_decoder_of_each_path(tmp_path, toy_batch):
    model = build(tmp_path, multi_decoder_config()).eval()
    assert model.streaming_search(mode="streaming").prediction_network is model.decoder
    assert model.streaming_search(mode="full").prediction_network is model.full_decoder
    without = build(tmp_path, multi_decoder_config(full_decoders={"ctc": 1.0}, sp_kd_conf={"decoder": False}))
    assert without.rnnt_passes == ("streaming",)
    with pytest.warns(DeprecationWarning, match="mode: 'stream' is deprecated"):
        assert model.streaming_search(mode="stream").prediction_network is model.decoder
    with pytest.raises(ValueError, match="no transducer decoder for pass 'lookahead'"):
        without.rnnt_heads("lookahead")
    with pytest.raises(ValueError, match="no transducer decoder"):
        without.streaming_search(mode="full")
    loss, stats, _ = without(*toy_batch)
    assert "loss_rnnt_lookahead" not in stats and "loss_ctc_lookahead" in stats


@pytest.mark.parametrize("model_conf,match", [
    ({"ctc_weight": 0.3}, "full_decoders.ctc"),
    ({"full_decoders": {"rnnt": 1.0, "transformer": 0.5}}, "full_decoders"),
    ({"full_decoders": {"rnnt": 0.0}}, "full_decoders"),
    ({"full_decoders": {"ctc": 1.0}, "sp_kd_weight": 1.0}, "needs full_decoders.rnnt"),
    ({"full_decoders": {"ctc": 1.0}, "teacher_rnnt_kd_weight": 1.0,
      "rnnt_kd_conf": {"kd_passes": ["lookahead"]}}, "kd_passes"),
    ({"sp_kd_conf": {"axis": "channel"}}, "axis"),
])
def test_bad_model_conf_is_a_clear_error(tmp_path, model_conf, match):
    config = multi_decoder_config()
    config["model_conf"].update(model_conf)
    with pytest.raises(ValueError, match=match):
        build(tmp_path, config)
