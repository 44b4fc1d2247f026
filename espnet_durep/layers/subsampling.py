"""Convolutional subsampling whose look-ahead is known exactly (streaming-safe).

One class covers ESPnet's ``conv2d`` (x4), ``conv2d6`` (x6) and ``conv2d8`` (x8) fronts:
a stack of unpadded Conv2d+ReLU layers over (time, freq), then a linear projection.
Output frame ``t`` reads input frames ``[t*S, t*S + R - 1]`` where ``S`` is the total
stride and ``R`` the receptive field, so in streaming mode a chunk needs ``R - S``
feature frames of look-ahead beyond its own span (:attr:`lookahead_frames`).
"""
from __future__ import annotations

import math
from typing import Dict, Sequence, Tuple

import torch
from torch import nn

from espnet_durep.chunking import SubsamplingGeometry

# input_layer name -> ((kernel, stride), ...) along time (and frequency)
SUBSAMPLING_LAYOUTS: Dict[str, Tuple[Tuple[int, int], ...]] = {
    "conv2d": ((3, 2), (3, 2)),
    "conv2d6": ((3, 2), (5, 3)),
    "conv2d8": ((3, 2), (3, 2), (3, 2)),
}


class ConvSubsampling(nn.Module):
    """(B, T, idim) features -> (B, T', odim) frames, scaled by sqrt(odim)."""

    def __init__(self, idim: int, odim: int, layout: Sequence[Tuple[int, int]], dropout_rate: float):
        super().__init__()
        layers, channels, freq = [], 1, idim
        for kernel, stride in layout:
            layers += [nn.Conv2d(channels, odim, kernel, stride), nn.ReLU()]
            channels = odim
            freq = (freq - kernel) // stride + 1
        if freq < 1:
            raise ValueError(f"input_size={idim} is too small for subsampling layout {tuple(layout)}")
        self.conv = nn.Sequential(*layers)
        self.out = nn.Linear(odim * freq, odim)
        self.dropout = nn.Dropout(dropout_rate)
        self.layout = tuple(layout)
        self.geometry = SubsamplingGeometry.of(layout)
        self.xscale = math.sqrt(odim)
        self.subsampling = self.geometry.subsampling
        self.receptive_field = self.geometry.receptive_field
        self.lookahead_frames = self.geometry.lookahead_frames

    def output_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        """Number of output frames for ``lengths`` input frames (0 when too short)."""
        for kernel, stride in self.layout:
            lengths = torch.div(lengths - kernel, stride, rounding_mode="floor") + 1
        return lengths.clamp(min=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, idim) -> (B, T', odim); needs T >= receptive_field."""
        y = self.conv(x.unsqueeze(1))  # (B, C, T', F')
        b, c, t, f = y.shape
        y = self.out(y.transpose(1, 2).reshape(b, t, c * f))
        return self.dropout(y * self.xscale)
