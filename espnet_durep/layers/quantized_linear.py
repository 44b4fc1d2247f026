"""Linear maps with int8 weights for CPU inference (PyTorch dynamic quantisation).

A streaming chunk multiplies a few frames by every weight of the model, so on CPU its matrix
products are bound by reading the weights (README, Benchmarks). Int8 weights are a quarter of
the bytes. :func:`quantize_linear_weights` replaces every ``nn.Linear`` and kernel-1
:class:`Pointwise` convolution of a model by PyTorch's dynamically quantised linear layer
(weights int8, per output channel; activations quantised per call; float in, float out), as
WeNet's runtime does for its CPU models. The results change slightly (the README measures the
error rates of a trained model); the model is for inference only from then on: it can no
longer be trained, saved as a float checkpoint, exported to ONNX (use ``export_onnx --quantize
int8`` for that) or moved to a GPU.
"""
from __future__ import annotations

import warnings

import torch
from torch import nn

from espnet_durep.layers.linear_maps import replace_linear_maps

QUANTIZATIONS = ("int8",)


def _quantized_linear_class():
    try:
        from torch.ao.nn.quantized.dynamic import Linear
    except ImportError as err:  # removed from future PyTorch releases in favour of torchao
        raise RuntimeError(f"this PyTorch ({torch.__version__}) has no dynamically quantised "
                           f"linear layer (torch.ao.nn.quantized.dynamic.Linear)") from err
    if "fbgemm" not in torch.backends.quantized.supported_engines and \
            "x86" not in torch.backends.quantized.supported_engines:
        raise RuntimeError(f"this PyTorch build has no x86 int8 kernels (quantized engines: "
                           f"{torch.backends.quantized.supported_engines})")
    return Linear


def _as_linear(module: nn.Module) -> nn.Linear:
    """``module`` (an ``nn.Linear`` or a ``Pointwise``) as an ``nn.Linear`` with its weights."""
    if type(module) is nn.Linear:
        return module
    linear = nn.Linear(module.in_channels, module.out_channels, bias=module.bias is not None)
    with torch.no_grad():
        linear.weight.copy_(module.weight.squeeze(-1))
        if module.bias is not None:
            linear.bias.copy_(module.bias)
    return linear


def quantize_linear_weights(module: nn.Module) -> int:
    """Replace (in place) every ``nn.Linear`` and ``Pointwise`` inside ``module``, which must be
    on the CPU, by a dynamically quantised int8 linear layer; returns how many were replaced."""
    quantized_linear = _quantized_linear_class()
    devices = {p.device.type for p in module.parameters()}
    if devices - {"cpu"}:
        raise ValueError(f"int8 weights are a CPU option; the model is on {sorted(devices)}")
    qconfig = torch.ao.quantization.per_channel_dynamic_qconfig

    def quantized(source: nn.Module) -> nn.Module:
        linear = _as_linear(source)
        linear.qconfig = qconfig
        return quantized_linear.from_float(linear)

    with warnings.catch_warnings():
        # from_float warns that the eager quantisation API is deprecated in favour of torchao,
        # which this stack does not ship; the layer itself is what WeNet's runtime uses.
        warnings.filterwarnings("ignore", message=".*deprecat.*")
        return replace_linear_maps(module, quantized)
