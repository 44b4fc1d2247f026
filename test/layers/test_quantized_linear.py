import copy

import pytest
import torch
from torch import nn

from espnet_durep.layers.dual_mode_conv import DualModeConvolution, Pointwise
from espnet_durep.layers.quantized_linear import quantize_linear_weights

try:
    from torch.ao.nn.quantized.dynamic import Linear as QuantizedLinear
except ImportError:  # pragma: no cover - a PyTorch without the eager quantisation API
    QuantizedLinear = None

pytestmark = pytest.mark.skipif(
    QuantizedLinear is None or not ({"x86", "fbgemm"} & set(torch.backends.quantized.supported_engines)),
    reason="no int8 dynamic quantisation in this PyTorch build")


def _relative_error(y: torch.Tensor, ref: torch.Tensor) -> float:
    return float((y - ref).norm() / ref.norm())


@pytest.mark.parametrize("make", [lambda: nn.Linear(64, 96), lambda: nn.Linear(64, 96, bias=False),
                                  lambda: Pointwise(64, 96)])
def test_int8_weights_approximate_the_float_map(make):
    torch.manual_seed(0)
    source = make()
    model = nn.Sequential(source)
    x = torch.randn(2, 17, 64)
    with torch.no_grad():
        ref = torch.nn.functional.linear(x, source.weight.reshape(96, 64), source.bias)
    assert quantize_linear_weights(model) == 1
    layer = model[0]
    assert isinstance(layer, QuantizedLinear)
    assert layer.weight().dtype == torch.qint8  # int8 weights, one scale per output channel
    assert layer.weight().qscheme() == torch.per_channel_affine
    with torch.inference_mode():
        y = model(x)
    assert y.shape == ref.shape and y.dtype == torch.float32
    assert 0 < _relative_error(y, ref) < 0.02  # not the float map, but close to it


def test_the_convolution_module_in_both_modes_stays_close():
    torch.manual_seed(0)
    conv = DualModeConvolution(32, 5, "chunk").eval()
    quantized = copy.deepcopy(conv)
    assert quantize_linear_weights(quantized) == 2  # its two pointwise maps; the depthwise stays float
    assert isinstance(quantized.depthwise, nn.Conv1d)
    x, valid = torch.randn(2, 23, 32), torch.ones(2, 23, dtype=torch.bool)
    with torch.no_grad():
        for streaming in (False, True):
            ref = conv(x, valid, streaming, 4)
            assert _relative_error(quantized(x, valid, streaming, 4), ref) < 0.03


def test_every_linear_of_a_nested_model_is_replaced_and_counted():
    model = nn.Sequential(nn.Linear(8, 8), nn.Sequential(nn.ReLU(), Pointwise(8, 4)), nn.LayerNorm(4))
    assert quantize_linear_weights(model) == 2
    assert not any(type(m) in (nn.Linear, Pointwise) for m in model.modules())
    assert isinstance(model[2], nn.LayerNorm)
    assert quantize_linear_weights(model) == 0  # nothing left to quantise


def test_a_model_off_the_cpu_is_a_clear_error():
    model = nn.Sequential(nn.Linear(8, 8)).to("meta")
    with pytest.raises(ValueError, match="CPU option.*meta"):
        quantize_linear_weights(model)
