"""Conformer convolution module with parameter-free dual-mode behaviour.

The depthwise convolution (odd ``kernel_size`` K, ``P = (K - 1) // 2``) runs as selected
by ``conv_mode``; the same weights serve both modes:

* ``causal`` — a causal K-tap convolution in both modes (left context K-1, no future).
* ``dual``   — Dual-mode ASR: the symmetric K-tap kernel in full-context mode; in
  streaming mode its P future taps are masked, leaving a causal (P+1)-tap kernel.
* ``chunk``  — dynamic chunk convolution: the symmetric kernel in full-context mode; in
  streaming mode future taps reach only frames inside the current chunk (zeros beyond).

Layer norm replaces Conformer's batch norm so both modes share one set of statistics.
"""
from __future__ import annotations

from typing import Tuple

import torch
import torch.nn.functional as F
from torch import nn

CONV_MODES = ("causal", "dual", "chunk")


class Pointwise(nn.Conv1d):
    """A kernel-1 ``Conv1d`` (weight (C_out, C_in, 1), the checkpoint layout of Conformer's
    pointwise convolutions) applied to channels-last frames (B, T, C_in) -> (B, T, C_out): a
    linear map, run as one, so that the frames need no transposing."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(in_channels, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight.squeeze(-1), self.bias)


class DualModeConvolution(nn.Module):
    def __init__(self, channels: int, kernel_size: int, conv_mode: str = "chunk"):
        super().__init__()
        if conv_mode not in CONV_MODES:
            raise ValueError(f"conv_mode must be one of {CONV_MODES}, got {conv_mode!r}")
        if kernel_size % 2 == 0:
            raise ValueError(f"cnn_module_kernel must be odd, got {kernel_size}")
        self.conv_mode = conv_mode
        self.kernel_size = kernel_size
        self.pad = (kernel_size - 1) // 2
        self.pointwise_in = Pointwise(channels, 2 * channels)
        self.depthwise = nn.Conv1d(channels, channels, kernel_size, groups=channels)
        self.norm = nn.LayerNorm(channels)
        self.pointwise_out = Pointwise(channels, channels)

    @property
    def cache_frames(self) -> int:
        """Left-context frames :meth:`forward_chunk` keeps between chunks."""
        return self.kernel_size - 1 if self.conv_mode == "causal" else self.pad

    def _weight(self, streaming: bool) -> torch.Tensor:
        if streaming and self.conv_mode == "dual":
            return self.depthwise.weight[..., : self.pad + 1]  # drop the future taps
        return self.depthwise.weight

    def _depthwise(self, x: torch.Tensor, streaming: bool, chunk_size: int) -> torch.Tensor:
        """(B, C, T) -> (B, C, T) over a whole (zero-padded) sequence."""
        weight, bias = self._weight(streaming), self.depthwise.bias
        groups = x.size(1)
        if self.conv_mode == "causal":
            return F.conv1d(F.pad(x, (self.kernel_size - 1, 0)), weight, bias, groups=groups)
        if not streaming:
            return F.conv1d(F.pad(x, (self.pad, self.pad)), weight, bias, groups=groups)
        if self.conv_mode == "dual":
            return F.conv1d(F.pad(x, (self.pad, 0)), weight, bias, groups=groups)
        # chunk mode: each chunk sees P frames of left context and zeros after its end
        b, c, t = x.shape
        n_chunks = -(-t // chunk_size)
        x = F.pad(x, (self.pad, n_chunks * chunk_size - t))
        windows = x.unfold(2, chunk_size + self.pad, chunk_size)  # (B, C, n, chunk + P)
        windows = F.pad(windows, (0, self.pad)).permute(0, 2, 1, 3).reshape(b * n_chunks, c, -1)
        y = F.conv1d(windows, weight, bias, groups=groups)  # (B*n, C, chunk)
        return y.view(b, n_chunks, c, chunk_size).permute(0, 2, 1, 3).reshape(b, c, -1)[..., :t]

    def _pre(self, x: torch.Tensor) -> torch.Tensor:
        h = self.pointwise_in(x)
        return F.glu(h, dim=-1).transpose(1, 2)  # (B, C, T)

    def _post(self, y: torch.Tensor) -> torch.Tensor:
        y = F.silu(self.norm(y.transpose(1, 2)))
        return self.pointwise_out(y)  # (B, T, C)

    def forward(self, x: torch.Tensor, valid: torch.Tensor, streaming: bool, chunk_size: int) -> torch.Tensor:
        """x: (B, T, C); valid: (B, T) bool (padding is zeroed before the depthwise conv)."""
        h = self._pre(x).masked_fill(~valid[:, None, :], 0.0)
        return self._post(self._depthwise(h, streaming, chunk_size))

    def forward_chunk(self, x: torch.Tensor, cache: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Streaming step. x: (B, Tc, C) one chunk; cache: (B, C, cache_frames) left context."""
        h = torch.cat([cache, self._pre(x)], dim=2)
        right = self.pad if self.conv_mode == "chunk" else 0
        y = F.conv1d(F.pad(h, (0, right)), self._weight(True), self.depthwise.bias, groups=h.size(1))
        new_cache = h[..., h.size(2) - self.cache_frames:]
        return self._post(y), new_cache
