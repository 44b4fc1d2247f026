"""The per-frame linear maps of a model, and swapping them for another implementation.

Both ``nn.Linear`` and the convolution module's kernel-1 :class:`Pointwise` convolutions are
linear maps of channels-last frames (B..., K) -> (B..., N); inference-time variants of them
(int8 weights) replace every one with :func:`replace_linear_maps`.
"""
from __future__ import annotations

from typing import Callable

from torch import nn

from espnet_durep.layers.dual_mode_conv import Pointwise

LINEAR_MAPS = (nn.Linear, Pointwise)


def replace_linear_maps(module: nn.Module, make: Callable[[nn.Module], nn.Module]) -> int:
    """Replace (in place) every module inside ``module`` whose type is exactly one of
    :data:`LINEAR_MAPS` by ``make(it)``; returns how many were replaced."""
    replaced = 0
    for parent in list(module.modules()):
        for name, child in list(parent.named_children()):
            if type(child) in LINEAR_MAPS:
                setattr(parent, name, make(child))
                replaced += 1
    return replaced
