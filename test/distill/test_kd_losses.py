"""Math of every distillation loss: zero on identical inputs, hand-computed values (sums
over each utterance's positions, mean over the batch), gradients only to the student,
padding invariance."""
import math
import warnings

import pytest
import torch

from espnet_durep.distill.inplace_kd import InplaceKD, ctc_inplace_kd, decoder_inplace_kd
from espnet_durep.distill.kl import masked_kl_div
from espnet_durep.distill.rnnt_kd import RNNTKD, rnnt_kd_collapsed, rnnt_kd_full
from espnet_durep.distill.sp_kd import SPKD, sp_kd_loss
from espnet_durep.distill.teacher_kd import (
    DiscreteTargetKD,
    LayerRegressionKD,
    RandomProjectionQuantizer,
    posterior_kd,
)


def _kl(p, q):
    return sum(pi * math.log(pi / qi) for pi, qi in zip(p, q) if pi > 0)


def _softmax(xs):
    e = [math.exp(x) for x in xs]
    return [v / sum(e) for v in e]


def test_masked_kl_matches_hand_computation_and_ignores_padding():
    s = torch.tensor([[[0.0, 1.0], [2.0, 0.0], [9.0, -9.0]]])
    t = torch.tensor([[[1.0, 0.0], [0.0, 0.0], [-9.0, 9.0]]])
    mask = torch.tensor([[True, True, False]])
    expected = _kl(_softmax([1, 0]), _softmax([0, 1])) + _kl(_softmax([0, 0]), _softmax([2, 0]))
    assert masked_kl_div(s, t, mask).item() == pytest.approx(expected, rel=1e-5)
    # temperature: KL of softened distributions times T^2
    expected_t = (_kl(_softmax([0.5, 0]), _softmax([0, 0.5])) + _kl(_softmax([0, 0]), _softmax([1, 0]))) * 4
    assert masked_kl_div(s, t, mask, temperature=2.0).item() == pytest.approx(expected_t, rel=1e-5)


@pytest.mark.parametrize("tolerance", [0, 2])
def test_ctc_inplace_kd_zero_on_identical_and_grad_only_to_student(tolerance):
    full = torch.randn(2, 6, 5, requires_grad=True)
    stream = full.detach().clone().requires_grad_(True)
    lengths = torch.tensor([6, 4])
    loss = ctc_inplace_kd(stream, full, lengths, tolerance=tolerance)
    assert loss.item() == pytest.approx(0.0, abs=1e-6)
    (loss + ctc_inplace_kd(stream * 2, full, lengths, tolerance=tolerance)).backward()
    assert full.grad is None and stream.grad.abs().sum() > 0


def test_ctc_tolerance_matches_delayed_streaming_posteriors():
    torch.manual_seed(0)
    full = torch.randn(1, 8, 4) * 3
    delayed = torch.cat([full[:, :1], full[:, :-1]], dim=1)  # streaming emits one frame later
    lengths = torch.tensor([8])
    assert ctc_inplace_kd(delayed, full, lengths, tolerance=0).item() > 0.1
    assert ctc_inplace_kd(delayed, full, lengths, tolerance=1).item() == pytest.approx(0.0, abs=1e-6)


def test_ctc_tolerance_never_matches_frames_before_the_start():
    full = torch.tensor([[[5.0, 0.0], [0.0, 5.0]]])
    stream = torch.tensor([[[0.0, 5.0], [0.0, 5.0]]])
    # frame 0 has only itself as candidate; frame 1 matches full frame 1 exactly
    expected = _kl(_softmax([5, 0]), _softmax([0, 5]))
    assert ctc_inplace_kd(stream, full, torch.tensor([2]), tolerance=3).item() == pytest.approx(expected, rel=1e-5)


def test_padding_does_not_change_inplace_losses():
    torch.manual_seed(1)
    s, f = torch.randn(1, 4, 3), torch.randn(1, 4, 3)
    junk = torch.randn(1, 3, 3) * 10
    lengths = torch.tensor([4])
    for fn in (lambda a, b: ctc_inplace_kd(a, b, lengths, tolerance=1),
               lambda a, b: decoder_inplace_kd(a, b, lengths)):
        padded = fn(torch.cat([s, junk], 1), torch.cat([f, -junk], 1))
        assert padded.item() == pytest.approx(fn(s, f).item(), rel=1e-6)


def test_inplace_module_reports_ctc_and_attention_terms():
    kd = InplaceKD(temperature=1.0, tolerance=1)
    x = torch.randn(2, 5, 3)
    y = torch.randn(2, 4, 3)
    out = kd(x, x, torch.tensor([5, 3]), y, y, torch.tensor([4, 2]))
    assert set(out) == {"loss_kd_inplace_ctc", "loss_kd_inplace_att"}
    assert all(v.item() == pytest.approx(0.0, abs=1e-6) for v in out.values())


def test_layer_regression_l1_cos_by_hand():
    kd = LayerRegressionKD(2, 2, [(1, 3)], loss_type="l1_cos", cos_weight=0.5)
    s = torch.tensor([[[1.0, 0.0], [1.0, 1.0]]], requires_grad=True)
    t = torch.tensor([[[0.0, 1.0], [2.0, 2.0]]], requires_grad=True)
    loss = kd({1: s}, {3: t}, torch.tensor([2]))
    l1 = (1 + 1) / 2 + (1 + 1) / 2
    cos_term = -math.log(1 / (1 + math.exp(-0.0))) - math.log(1 / (1 + math.exp(-1.0)))
    assert loss.item() == pytest.approx(l1 + 0.5 * cos_term, rel=1e-5)
    loss.backward()
    assert t.grad is None and s.grad.abs().sum() > 0
    assert kd.projections is None  # same width: no extra parameters


@pytest.mark.parametrize("loss_type", ["l1_cos", "l1", "l2", "cos"])
def test_layer_regression_projects_when_widths_differ(loss_type):
    kd = LayerRegressionKD(3, 5, [(1, 1), (2, 4)], loss_type=loss_type)
    assert set(kd.projections) == {"1_1", "2_4"}
    s = {1: torch.randn(2, 6, 3), 2: torch.randn(2, 6, 3)}
    t = {1: torch.randn(2, 7, 5), 4: torch.randn(2, 7, 5)}  # one extra teacher frame is cropped
    loss = kd(s, t, torch.tensor([6, 5]))
    loss.backward()
    assert kd.projections["1_1"].weight.grad is not None


def test_layer_regression_identical_is_minimal_and_frame_rate_mismatch_errors():
    kd = LayerRegressionKD(4, 4, [(1, 1)], loss_type="l1")
    x = torch.randn(1, 5, 4)
    assert kd({1: x}, {1: x}, torch.tensor([5])).item() == pytest.approx(0.0, abs=1e-7)
    with pytest.raises(ValueError, match="student has 5 frames but teacher has 10"):
        kd({1: x}, {1: torch.randn(1, 10, 4)}, torch.tensor([5]))


def test_posterior_kd_zero_on_identical_and_grad_only_to_student():
    t = torch.randn(2, 4, 6, requires_grad=True)
    s = t.detach().clone().requires_grad_(True)
    assert posterior_kd(s, t, torch.tensor([4, 2])).item() == pytest.approx(0.0, abs=1e-6)
    posterior_kd(s * 3, t, torch.tensor([4, 2]), temperature=2.0).backward()
    assert t.grad is None and s.grad.abs().sum() > 0


def test_quantizer_is_deterministic_and_survives_reload():
    x = torch.randn(2, 7, 8)
    a, b = RandomProjectionQuantizer(8, 16, 4, seed=3), RandomProjectionQuantizer(8, 16, 4, seed=3)
    assert torch.equal(a(x), b(x))
    assert not torch.equal(a(x), RandomProjectionQuantizer(8, 16, 4, seed=4)(x))
    assert a.state_dict() == {}  # buffers are recreated from the seed, not stored
    codes = a(x)
    assert codes.shape == (2, 7) and codes.dtype == torch.long and int(codes.max()) < 16


def test_discrete_target_ce_by_hand():
    kd = DiscreteTargetKD(2, 3)
    with torch.no_grad():
        kd.head.weight.copy_(torch.eye(3, 2))
        kd.head.bias.zero_()
    h = torch.tensor([[[1.0, 0.0], [0.0, 2.0], [5.0, 5.0]]])
    codes = torch.tensor([[0, 1, 2]])
    expected = -math.log(_softmax([1, 0, 0])[0]) - math.log(_softmax([0, 2, 0])[1])
    assert kd(h, codes, torch.tensor([2])).item() == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("axis", ["batch", "time"])
def test_sp_kd_zero_for_scaled_teacher_and_grad_only_to_student(axis):
    s = torch.randn(3, 5, 4, requires_grad=True)
    t = (s.detach() * 2.5).requires_grad_(True)  # similarity is scale-free
    lengths = torch.tensor([5, 4, 2])
    assert sp_kd_loss(s, t, lengths, axis).item() == pytest.approx(0.0, abs=1e-6)
    sp_kd_loss(s, torch.randn(3, 5, 6), lengths, axis).backward()
    assert s.grad.abs().sum() > 0
    sp_kd_loss(s, t * torch.randn(3, 5, 4), lengths, axis).backward()
    assert t.grad is None


def test_sp_kd_batch_axis_by_hand():
    s = torch.tensor([[[1.0, 0.0]], [[0.0, 1.0]]])
    t = torch.tensor([[[1.0, 0.0]], [[1.0, 0.0]]])
    # G_s = I -> rows normalised = I; G_t = ones -> rows (1/sqrt2, 1/sqrt2)
    r = 1 / math.sqrt(2)
    row = (1 - r) ** 2 + r**2  # each utterance's row distance, counted once per frame
    assert sp_kd_loss(s, t, torch.tensor([1, 1]), "batch").item() == pytest.approx(row, rel=1e-5)
    # frame counts 3 and 1: (3 * row + 1 * row) / 2
    s3, t3 = s.expand(2, 3, 2), t.expand(2, 3, 2)
    assert sp_kd_loss(s3, t3, torch.tensor([3, 1]), "batch").item() == pytest.approx(2 * row, rel=1e-5)


def test_sp_kd_time_axis_ignores_padding():
    torch.manual_seed(2)
    s, t = torch.randn(1, 3, 4), torch.randn(1, 3, 4)
    padded = sp_kd_loss(torch.cat([s, torch.randn(1, 2, 4)], 1), torch.cat([t, torch.randn(1, 2, 4)], 1),
                        torch.tensor([3]), "time")
    assert padded.item() == pytest.approx(sp_kd_loss(s, t, torch.tensor([3]), "time").item(), rel=1e-6)


def _lattice(seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(2, 3, 3, 4, generator=g), torch.randn(2, 3, 3, 4, generator=g)


@pytest.mark.parametrize("kind", ["full", "collapsed"])
def test_rnnt_kd_zero_on_identical_and_grad_only_to_student(kind):
    t_logits, _ = _lattice()
    teacher = t_logits.clone().requires_grad_(True)
    student = t_logits.clone().requires_grad_(True)
    kd = RNNTKD(kind, blank_id=0)
    targets, tl, ul = torch.tensor([[1, 2], [3, 0]]), torch.tensor([3, 2]), torch.tensor([2, 1])
    assert kd(student, teacher, targets, tl, ul).item() == pytest.approx(0.0, abs=1e-6)
    kd(student * 2, teacher, targets, tl, ul).backward()
    assert teacher.grad is None and student.grad.abs().sum() > 0


def test_rnnt_kd_collapsed_equals_brute_force_loop():
    s, t = _lattice(1)
    targets, tl, ul = torch.tensor([[1, 2], [3, 0]]), torch.tensor([3, 2]), torch.tensor([2, 1])
    per_utt = []
    for b in range(2):
        total, count = 0.0, 0
        for ti in range(int(tl[b])):
            for u in range(int(ul[b]) + 1):
                ps, pt = _softmax(s[b, ti, u].tolist()), _softmax(t[b, ti, u].tolist())
                if u < int(ul[b]):
                    y = int(targets[b, u])
                    cs, ct = [ps[0], ps[y], 1 - ps[0] - ps[y]], [pt[0], pt[y], 1 - pt[0] - pt[y]]
                else:
                    cs, ct = [ps[0], 1 - ps[0]], [pt[0], 1 - pt[0]]
                total += _kl(ct, cs)
                count += 1
        per_utt.append(total / count * (int(tl[b]) + int(ul[b])))  # mean node KL x path length
    got = rnnt_kd_collapsed(s, t, targets, tl, ul, blank_id=0).item()
    assert got == pytest.approx(sum(per_utt) / 2, rel=1e-4)


def test_rnnt_kd_collapsed_is_finite_when_blank_and_label_take_all_mass():
    # p_blank + p_label == 1 in float32: "rest" must come from log space, not 1 - p_b - p_l
    s = torch.full((1, 2, 2, 4), -60.0)
    s[..., 0] = 30.0
    s[..., 1] = 30.0
    t = s.clone()
    t[..., 2] = 0.0
    student = s.clone().requires_grad_(True)
    loss = rnnt_kd_collapsed(student, t, torch.tensor([[1]]), torch.tensor([2]), torch.tensor([1]), blank_id=0)
    loss.backward()
    assert torch.isfinite(loss) and loss.item() > 0
    assert torch.isfinite(student.grad).all()


def test_rnnt_kd_full_equals_brute_force_loop():
    s, t = _lattice(2)
    tl, ul = torch.tensor([2, 3]), torch.tensor([1, 2])
    per_utt = []
    for b in range(2):
        vals = [_kl(_softmax(t[b, ti, u].tolist()), _softmax(s[b, ti, u].tolist()))
                for ti in range(int(tl[b])) for u in range(int(ul[b]) + 1)]
        per_utt.append(sum(vals) / len(vals) * (int(tl[b]) + int(ul[b])))
    assert rnnt_kd_full(s, t, tl, ul).item() == pytest.approx(sum(per_utt) / 2, rel=1e-5)


def test_unknown_options_are_rejected():
    with pytest.raises(ValueError, match="kind"):
        RNNTKD("partial")
    with pytest.raises(ValueError, match="loss_type"):
        LayerRegressionKD(2, 2, [(1, 1)], loss_type="huber")
    with pytest.raises(ValueError, match="axis"):
        sp_kd_loss(torch.randn(1, 2, 2), torch.randn(1, 2, 2), torch.tensor([2]), "channel")


def test_sp_kd_warns_once_on_batches_too_small_for_the_batch_axis():
    kd = SPKD(axis="batch")
    with pytest.warns(UserWarning, match="batch of 1 utterance"):
        assert kd(torch.randn(1, 3, 2), torch.randn(1, 3, 2), torch.tensor([3])).item() == 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        kd(torch.randn(2, 3, 2), torch.randn(2, 3, 2), torch.tensor([3, 2]))  # warned already
        SPKD(axis="time")(torch.randn(1, 3, 2), torch.randn(1, 3, 2), torch.tensor([3]))
