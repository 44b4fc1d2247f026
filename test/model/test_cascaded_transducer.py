"""CascadedTransducerModel: shared tied decoder, loss wiring, teacher RNN-T KD, inference API."""
from __future__ import annotations

import pytest
import torch

from espnet_durep.decoder.transducer_search import TransducerSearch
from espnet_durep.model.cascaded_transducer import CascadedTransducerModel
from espnet_durep.tasks.durep import DurepTask
from tiny_asr import save_experiment
from tiny_transducer import build, cascaded_config, overfit

torch.set_num_threads(1)


def teacher_args(exp):
    return ["--teacher_asr_train_config", str(exp / "config.yaml"), "--teacher_asr_model_file", str(exp / "model.pth")]


def test_builds_through_the_task_with_one_shared_tied_decoder(tmp_path):
    model = build(tmp_path, cascaded_config())
    assert isinstance(model, CascadedTransducerModel)
    assert model.rnnt_heads("streaming") == model.rnnt_heads("lookahead") == (model.decoder, model.joint_network)
    assert model.joint_network.output.weight is model.decoder.embed.weight
    assert model.ctc is None  # ctc_weight 0: no CTC head, no unused parameters
    assert model.streaming_encoder is model.encoder.causal


def test_loss_mixes_the_passes_and_reports_both(tmp_path, toy_batch):
    model = build(tmp_path, cascaded_config(streaming_weight=0.3, ctc_weight=0.2)).eval()
    loss, stats, weight = model(*toy_batch)
    for p in ("streaming", "lookahead"):
        mixed = 0.8 * stats[f"loss_rnnt_{p}"] + 0.2 * stats[f"loss_ctc_{p}"]
        torch.testing.assert_close(stats[f"loss_{p}"], mixed)
    torch.testing.assert_close(loss, 0.3 * stats["loss_streaming"] + 0.7 * stats["loss_lookahead"])
    assert not torch.allclose(stats["loss_rnnt_streaming"], stats["loss_rnnt_lookahead"])
    assert int(weight) == 2 and "acc" not in stats


def test_rnnt_loss_is_the_negative_log_likelihood_of_the_lattice(tmp_path, toy_batch):
    """Against a forward recursion written out for utterance 0 of the batch."""
    model = build(tmp_path, cascaded_config()).eval()
    speech, speech_lengths, text, text_lengths = toy_batch
    feats, flens = model.features(speech, speech_lengths)
    encs, lens = model.encode_passes(feats, flens, 2, -1)
    targets = model.targets(text[:1].clone(), text_lengths[:1])
    out = model.transducer("streaming", encs["streaming"][:1], lens[:1], targets)
    logp = out.logits[0].log_softmax(-1)
    y = targets.labels[0, : int(text_lengths[0])].tolist()
    T, U = int(lens[0]), len(y)
    alpha = torch.full((T, U + 1), -float("inf"))
    for t in range(T):
        for u in range(U + 1):
            if t == 0 and u == 0:
                alpha[t, u] = 0.0
                continue
            terms = []
            if t > 0:
                terms.append(alpha[t - 1, u] + logp[t - 1, u, 0])
            if u > 0:
                terms.append(alpha[t, u - 1] + logp[t, u - 1, y[u - 1]])
            alpha[t, u] = torch.logsumexp(torch.stack(terms), 0)
    nll = -(alpha[T - 1, U] + logp[T - 1, U, 0])
    torch.testing.assert_close(out.loss, nll, atol=1e-3, rtol=1e-4)


def test_overfits_a_toy_batch_in_both_passes(tmp_path, toy_batch):
    model = build(tmp_path, cascaded_config())
    first, last = overfit(model, toy_batch, steps=40)
    for p in ("streaming", "lookahead"):
        assert last[f"loss_rnnt_{p}"] < 0.5 * first[f"loss_rnnt_{p}"], (p, first, last)


def test_identical_teacher_gives_zero_kd_and_no_teacher_gradients(tmp_path, toy_batch):
    teacher_exp, teacher = save_experiment(tmp_path, "teacher", cascaded_config())
    config = cascaded_config(teacher_rnnt_kd_weight=1.0, rnnt_kd_conf={"kind": "full"})
    student = build(tmp_path, config, teacher_args(teacher_exp))
    assert student.teacher is not None and not student.teacher.training
    assert not any("teacher" in k for k in student.state_dict())
    student.load_state_dict(teacher.state_dict())
    loss, stats, _ = student(*toy_batch)
    assert float(stats["loss_kd_rnnt_streaming"]) == pytest.approx(0.0, abs=1e-5)
    assert float(stats["loss_kd_rnnt_lookahead"]) == pytest.approx(0.0, abs=1e-5)
    loss.backward()
    assert all(p.grad is None for p in student.teacher.parameters())
    assert all(p.grad is not None for p in student.parameters())


@pytest.mark.parametrize("kind", ["full", "collapsed"])
def test_kd_gradients_reach_only_the_student(tmp_path, toy_batch, kind):
    teacher_exp, _ = save_experiment(tmp_path, "teacher", cascaded_config(), seed=7)
    config = cascaded_config(teacher_rnnt_kd_weight=0.5, rnnt_kd_conf={
        "kind": kind, "temperature": 2.0, "kd_passes": ["streaming"], "teacher_pass": "lookahead"})
    student = build(tmp_path, config, teacher_args(teacher_exp))
    loss, stats, _ = student(*toy_batch)
    assert set(k for k in stats if k.startswith("loss_kd")) == {"loss_kd_rnnt_streaming"}
    kd = stats["loss_kd_rnnt_streaming"]
    assert float(kd) > 1e-4
    torch.testing.assert_close(loss, 0.5 * stats["loss_streaming"] + 0.5 * stats["loss_lookahead"] + 0.5 * kd)
    loss.backward()
    assert all(p.grad is None for p in student.teacher.parameters())
    assert student.encoder.causal.embed.conv[0].weight.grad.abs().sum() > 0


def test_a_ctc_teacher_is_rejected(tmp_path, tiny_config):
    teacher_exp, _ = save_experiment(tmp_path, "teacher", tiny_config)
    config = cascaded_config(teacher_rnnt_kd_weight=1.0)
    with pytest.raises(ValueError, match="transducer teacher"):
        build(tmp_path, config, teacher_args(teacher_exp))


def test_saves_and_reloads_through_the_task(tmp_path, toy_batch):
    exp, model = save_experiment(tmp_path, "student", cascaded_config(ctc_weight=0.3))
    overfit(model, toy_batch, steps=2)
    torch.save(model.state_dict(), exp / "model.pth")
    loaded, args = DurepTask.build_model_from_file(exp / "config.yaml", exp / "model.pth")
    assert loaded.joint_network.output.weight is loaded.decoder.embed.weight
    model.eval(), loaded.eval()
    with torch.no_grad():
        torch.testing.assert_close(loaded(*[t.clone() for t in toy_batch])[0], model(*[t.clone() for t in toy_batch])[0])
    assert args.joint_net_conf == {"joint_activation_type": "tanh"}


def test_streaming_inference_equals_the_masked_streaming_pass(tmp_path, toy_batch):
    model = build(tmp_path, cascaded_config()).eval()
    speech, speech_lengths = toy_batch[0][:1], toy_batch[1][:1]
    feats, flens = model.features(speech, speech_lengths)
    enc, lens = model.encode_for_decoding(feats, flens, mode="streaming", chunk_size=2)
    streamed = model.streaming_encoder.streaming_forward(feats, 2, -1)
    torch.testing.assert_close(streamed, enc, atol=1e-4, rtol=1e-4)
    chunked, whole = model.streaming_search(beam_size=2), model.streaming_search(beam_size=2)
    assert isinstance(chunked, TransducerSearch)
    cache = model.streaming_encoder.init_cache(1, 2)
    with torch.no_grad():
        for start in range(0, feats.size(1), 8):
            frames, cache = model.streaming_encoder.accept_feats(
                feats[:, start:start + 8], cache, is_final=start + 8 >= feats.size(1))
            chunked.advance(frames[0])
    whole.advance(enc[0, : int(lens[0])])
    assert chunked.frames_seen == whole.frames_seen == int(lens[0])
    assert [(h.tokens, h.token_frames) for h in chunked.finalize()] == [(h.tokens, h.token_frames) for h in whole.finalize()]


def test_full_mode_decodes_the_lookahead_pass(tmp_path, toy_batch):
    model = build(tmp_path, cascaded_config()).eval()
    feats, flens = model.features(*toy_batch[:2])
    enc, lens = model.encode_for_decoding(feats, flens, mode="full", chunk_size=2)
    with torch.no_grad():
        _, second, _ = model.encoder.forward_both(feats, flens, 2)
    torch.testing.assert_close(enc, second)
    search = model.streaming_search(beam_size=1, mode="full", max_symbols_per_frame=2)
    search.advance(enc[0, : int(lens[0])])
    assert search.finalize()[0].score < 0
    with pytest.raises(ValueError, match="mode"):
        model.encode_for_decoding(feats, flens, mode="offline")


def test_a_config_with_the_old_pass_and_mode_names_builds_with_warnings(tmp_path, toy_batch):
    """stream_weight, kd_passes: [stream] and causal_conf.default_mode: stream, as configs said before."""
    config = cascaded_config(rnnt_kd_conf={"kd_passes": ["stream", "lookahead"]})
    config["model_conf"] = {"stream_weight": 0.3, **{k: v for k, v in config["model_conf"].items()
                                                     if k != "streaming_weight"}}
    config["encoder_conf"]["causal_conf"]["default_mode"] = "stream"
    with pytest.warns(DeprecationWarning) as caught:
        model = build(tmp_path, config).eval()
    messages = " | ".join(str(w.message) for w in caught)
    for option in ("model_conf.stream_weight", "rnnt_kd_conf.kd_passes", "default_mode"):
        assert option in messages, messages
    assert (model.streaming_weight, model.kd_passes) == (0.3, ("streaming", "lookahead"))
    assert model.encoder.causal.default_mode == "streaming"
    loss, stats, _ = model(*toy_batch)
    torch.testing.assert_close(loss, 0.3 * stats["loss_streaming"] + 0.7 * stats["loss_lookahead"])
    feats, flens = model.features(*toy_batch[:2])
    with pytest.warns(DeprecationWarning, match="mode: 'stream' is deprecated"):
        old = model.encode_for_decoding(feats, flens, mode="stream", chunk_size=2)[0]
    torch.testing.assert_close(old, model.encode_for_decoding(feats, flens, mode="streaming", chunk_size=2)[0])
    with pytest.warns(DeprecationWarning, match="pass: 'stream' is deprecated"):
        assert model.rnnt_heads("stream") == model.rnnt_heads("streaming")


@pytest.mark.parametrize("model_conf,error,match", [
    ({"ctc_weight": 1.0}, ValueError, "ctc_weight"),
    ({"streaming_weight": 1.5}, ValueError, "streaming_weight"),
    ({"rnnt_kd_conf": {"kind": "soft"}}, ValueError, "kind"),
    ({"rnnt_kd_conf": {"teacher_pass": "first"}}, ValueError, "teacher_pass"),
    ({"rnnt_kd_conf": {"kd_passes": ["full"]}}, ValueError,
     r"rnnt_kd_conf.kd_passes must be one of \('streaming', 'lookahead'\), got 'full'"),
])
def test_bad_model_conf_is_a_clear_error(tmp_path, model_conf, error, match):
    with pytest.raises(error, match=match):
        build(tmp_path, cascaded_config(**model_conf))


def test_needs_the_cascaded_encoder_and_tied_decoder(tmp_path, tiny_config):
    config = cascaded_config()
    config.update(encoder=tiny_config["encoder"], encoder_conf=tiny_config["encoder_conf"])
    with pytest.raises(TypeError, match="cascaded_conformer"):
        build(tmp_path, config)
    config = cascaded_config()
    config["model_conf"]["joint_net_conf"] = {}
    with pytest.raises(ValueError, match="top level"):
        build(tmp_path, config)
