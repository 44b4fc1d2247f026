"""The normalisation rule: every KD term keeps its ratio to the ASR loss when utterances get longer.

Two real AN4 utterances are fed as they are and each repeated three times (audio and
text concatenated).  ESPnet's CTC, attention and RNN-T losses are per-utterance sums, so
they grow about 3x; each KD term must grow the same way (a per-frame mean would make its
weight 3x weaker on the long batch).
"""
from __future__ import annotations

import copy
from pathlib import Path

import pytest
import soundfile as sf
import torch

from tiny_asr import TINY_CONFIG, build_args, save_experiment
from tiny_transducer import cascaded_config, multi_decoder_config
from espnet_durep.distill.sp_kd import sp_kd_loss
from espnet_durep.tasks.durep import DurepTask

torch.set_num_threads(1)

WAV_DIR = Path(__file__).resolve().parents[2] / "egs2/mini_an4/durep1/corpus/an4_nemo_subset/wav/train"
UTTS = ["an104-mrcb-b.wav", "an127-mcen-b.wav"]
TOLERANCE = 1.5  # KD/ASR ratio of the 3x batch vs the 1x batch must be within [1/1.5, 1.5]


def _batch(repeat: int):
    waves = [torch.from_numpy(sf.read(WAV_DIR / u, dtype="float32")[0]) for u in UTTS]
    waves = [w.repeat(repeat) for w in waves]
    texts = [torch.tensor([2, 3, 4, 5, 6]).repeat(repeat), torch.tensor([6, 5, 2, 3]).repeat(repeat)]
    speech = torch.nn.utils.rnn.pad_sequence(waves, batch_first=True)
    text = torch.nn.utils.rnn.pad_sequence(texts, batch_first=True, padding_value=-1)
    return speech, torch.tensor([len(w) for w in waves]), text, torch.tensor([len(t) for t in texts])


def _ratios(model, asr_keys):
    """{kd term: (KD/ASR of the 3x batch) / (KD/ASR of the 1x batch)}."""
    model.eval()
    out = []
    for repeat in (1, 3):
        with torch.no_grad():
            _, stats, _ = model(*_batch(repeat))
        asr = sum(float(stats[k]) for k in asr_keys)
        out.append({k: float(v) / asr for k, v in stats.items() if k.startswith("loss_kd_")})
    return {k: out[1][k] / out[0][k] for k in out[0]}


def _assert_invariant(ratios, expected_terms):
    assert set(ratios) == set(expected_terms)
    for name, r in ratios.items():
        assert 1 / TOLERANCE < r < TOLERANCE, f"{name}: KD/ASR changes {r:.2f}x when utterances are 3x longer"


def test_dual_mode_terms_scale_with_the_asr_loss(tmp_path):
    teacher_cfg = copy.deepcopy(TINY_CONFIG)
    teacher_cfg["model_conf"]["mode_schedule"] = "full"
    teacher_exp, _ = save_experiment(tmp_path, "teacher", teacher_cfg, seed=3)
    student_cfg = copy.deepcopy(TINY_CONFIG)
    student_cfg["model_conf"].update(
        inplace_kd_weight=1.0, sp_kd_weight=1.0, sp_kd_conf={"axis": "time"},
        teacher_layer_kd_weight=1.0, teacher_posterior_kd_weight=1.0, teacher_discrete_kd_weight=1.0,
        teacher_kd_conf={"layer_pairs": [[1, 1], [2, 2]], "codebook_size": 16, "code_dim": 4})
    args = build_args(tmp_path, student_cfg, ["--teacher_asr_train_config", str(teacher_exp / "config.yaml"),
                                              "--teacher_asr_model_file", str(teacher_exp / "model.pth")])
    torch.manual_seed(0)
    model = DurepTask.build_model(args)
    ratios = _ratios(model, ["loss_full", "loss_streaming"])
    _assert_invariant(ratios, ["loss_kd_inplace_ctc", "loss_kd_inplace_att", "loss_kd_sp_enc", "loss_kd_sp_dec"] + [
        f"loss_kd_{kind}_{mode}" for kind in ("layer", "posterior", "discrete") for mode in ("full", "streaming")])


@pytest.mark.parametrize("kind", ["full", "collapsed"])
def test_transducer_kd_scales_with_the_rnnt_loss(tmp_path, kind):
    teacher_exp, _ = save_experiment(tmp_path, "teacher", cascaded_config(), seed=3)
    args = build_args(tmp_path, cascaded_config(teacher_rnnt_kd_weight=1.0, rnnt_kd_conf={"kind": kind}),
                      ["--teacher_asr_train_config", str(teacher_exp / "config.yaml"),
                       "--teacher_asr_model_file", str(teacher_exp / "model.pth")])
    torch.manual_seed(0)
    model = DurepTask.build_model(args)
    _assert_invariant(_ratios(model, ["loss_streaming", "loss_lookahead"]),
                      ["loss_kd_rnnt_streaming", "loss_kd_rnnt_lookahead"])


def test_multi_decoder_sp_kd_scales_with_the_asr_loss(tmp_path):
    args = build_args(tmp_path, multi_decoder_config(sp_kd_weight=1.0, sp_kd_conf={"axis": "time"}))
    torch.manual_seed(0)
    model = DurepTask.build_model(args)
    _assert_invariant(_ratios(model, ["loss_streaming", "loss_lookahead"]), ["loss_kd_sp_enc", "loss_kd_sp_dec"])


def test_sp_kd_batch_axis_scales_with_frames():
    # axis "batch" compares utterance means; tiling keeps the means, so only the frame count changes.
    # (A model's own pooled states change with the sequence, which says nothing about the scale.)
    g = torch.Generator().manual_seed(0)
    s, t = torch.randn(4, 6, 5, generator=g), torch.randn(4, 6, 7, generator=g)
    lengths = torch.full((4,), 6)
    short = sp_kd_loss(s, t, lengths, "batch")
    long = sp_kd_loss(s.repeat(1, 3, 1), t.repeat(1, 3, 1), lengths * 3, "batch")
    assert long.item() == pytest.approx(3 * short.item(), rel=1e-5)
