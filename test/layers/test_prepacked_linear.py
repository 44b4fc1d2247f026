import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from espnet_durep.layers.dual_mode_conv import DualModeConvolution, Pointwise
from espnet_durep.layers.prepacked_linear import (
    ROW_BUCKET, PrepackedLinear, prepack_linear_weights, prepacking_available)

pytestmark = pytest.mark.skipif(not prepacking_available(), reason="no oneDNN in this PyTorch build")


def _reference(source: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return F.linear(x, source.weight.reshape(source.weight.shape[0], -1), source.bias)


@pytest.mark.parametrize("rows", [1, ROW_BUCKET - 1, ROW_BUCKET, ROW_BUCKET + 1, 250])
@pytest.mark.parametrize("make", [lambda: nn.Linear(24, 40), lambda: nn.Linear(24, 40, bias=False),
                                  lambda: Pointwise(24, 40)])
def test_matches_the_plain_linear_map(rows, make):
    torch.manual_seed(0)
    source = make()
    packed = PrepackedLinear(source, rows_hint=8)
    x = torch.randn(2, rows, 24)
    with torch.inference_mode():
        y = packed(x)
    assert y.shape == (2, rows, 40)
    torch.testing.assert_close(y, _reference(source, x), atol=1e-5, rtol=1e-5)
    assert packed._packed is not None  # the packed path ran, not the fallback


def test_shares_parameters_and_keeps_the_state_dict():
    conv = DualModeConvolution(16, 5)
    before = {k: v.clone() for k, v in conv.state_dict().items()}
    assert prepack_linear_weights(conv) == 2
    assert isinstance(conv.pointwise_in, PrepackedLinear)
    after = conv.state_dict()
    assert list(after) == list(before)
    for k in before:
        assert after[k].shape == before[k].shape and torch.equal(after[k], before[k])


def test_same_output_as_the_unpacked_module_in_both_modes():
    torch.manual_seed(0)
    conv = DualModeConvolution(16, 5, "chunk")
    packed = copy.deepcopy(conv)
    prepack_linear_weights(packed)
    x, valid = torch.randn(2, 23, 16), torch.ones(2, 23, dtype=torch.bool)
    with torch.no_grad():
        for streaming in (False, True):
            torch.testing.assert_close(packed(x, valid, streaming, 4), conv(x, valid, streaming, 4),
                                       atol=1e-5, rtol=1e-5)


def test_packs_again_after_the_weight_changes_in_place():
    torch.manual_seed(0)
    source = nn.Linear(8, 8)
    packed = PrepackedLinear(source)
    x = torch.randn(3, 8)
    with torch.no_grad():
        first = packed(x)
        other = nn.Linear(8, 8)
        packed.load_state_dict(other.state_dict())
        torch.testing.assert_close(packed(x), other(x), atol=1e-5, rtol=1e-5)
        assert not torch.allclose(packed(x), first)


def test_falls_back_when_training_and_gradients_reach_the_weight():
    torch.manual_seed(0)
    source = nn.Linear(8, 4)
    packed = PrepackedLinear(source)
    x = torch.randn(5, 8)
    packed(x).sum().backward()
    assert packed._packed is None
    assert source.weight.grad is not None and torch.allclose(source.weight.grad, x.sum(0).expand(4, 8))


def test_follows_dtype_changes_and_copies():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 3))
    prepack_linear_weights(model)
    x = torch.randn(4, 8)
    with torch.no_grad():
        y = model(x)
        clone = copy.deepcopy(model)  # after packing: the packed tensors are not copied
        torch.testing.assert_close(clone(x), y)
        model.double()
        torch.testing.assert_close(model(x.double()), y.double(), atol=1e-5, rtol=1e-5)


def test_tied_weights_stay_tied():
    embed = nn.Embedding(10, 8)
    model = nn.ModuleDict({"embed": embed, "out": nn.Linear(8, 10, bias=False)})
    model["out"].weight = embed.weight
    prepack_linear_weights(model)
    assert model["out"].weight is embed.weight


def test_tracing_records_the_plain_operator():
    torch.manual_seed(0)
    packed = PrepackedLinear(nn.Linear(8, 4))
    x = torch.randn(3, 8)
    traced = torch.jit.trace(packed, x)
    assert "mkldnn" not in str(traced.graph)
    torch.testing.assert_close(traced(x), packed(x).detach(), atol=1e-6, rtol=1e-6)


def test_weights_made_in_inference_mode_are_not_packed():
    torch.manual_seed(0)
    with torch.inference_mode():  # no version counter: in-place changes could not be seen
        source = nn.Linear(8, 4)
        packed = PrepackedLinear(source)
        x = torch.randn(3, 8)
        torch.testing.assert_close(packed(x), source(x))
        with torch.no_grad():
            source.weight.mul_(2)
        torch.testing.assert_close(packed(x), source(x))
    assert packed._packed is None


def test_rejects_modules_it_cannot_pack():
    with pytest.raises(TypeError, match="Conv1d"):
        PrepackedLinear(nn.Conv1d(4, 4, 3))
    with pytest.raises(ValueError, match="rows_hint"):
        PrepackedLinear(nn.Linear(4, 4), rows_hint=0)
