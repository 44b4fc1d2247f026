"""One pre-norm Conformer block (macaron FFN, rel-pos MHSA, dual-mode conv, FFN)."""
from __future__ import annotations

from typing import Optional, Tuple

import torch
from torch import nn

from espnet_durep.layers.dual_mode_conv import DualModeConvolution
from espnet_durep.layers.rel_attention import RelPositionSelfAttention


class FeedForward(nn.Module):
    def __init__(self, d_model: int, hidden: int, dropout_rate: float):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(d_model, hidden), nn.SiLU(), nn.Dropout(dropout_rate), nn.Linear(hidden, d_model)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class ConformerLayer(nn.Module):
    """x -> x + 1/2 FFN -> + MHSA -> + Conv -> + 1/2 FFN -> LayerNorm (all pre-norm)."""

    def __init__(
        self,
        d_model: int,
        n_head: int,
        linear_units: int,
        cnn_module_kernel: int,
        conv_mode: str,
        dropout_rate: float,
        attention_dropout_rate: float,
        macaron_style: bool = True,
    ):
        super().__init__()
        self.ff_macaron = FeedForward(d_model, linear_units, dropout_rate) if macaron_style else None
        self.norm_ff_macaron = nn.LayerNorm(d_model) if macaron_style else None
        self.ff_scale = 0.5 if macaron_style else 1.0
        self.norm_mha = nn.LayerNorm(d_model)
        self.self_attn = RelPositionSelfAttention(n_head, d_model, attention_dropout_rate)
        self.norm_conv = nn.LayerNorm(d_model)
        self.conv = DualModeConvolution(d_model, cnn_module_kernel, conv_mode)
        self.norm_ff = nn.LayerNorm(d_model)
        self.ff = FeedForward(d_model, linear_units, dropout_rate)
        self.norm_final = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout_rate)

    def _attend(
        self,
        x: torch.Tensor,
        att_mask: torch.Tensor,
        pos: Tuple[torch.Tensor, torch.Tensor],
        kv_cache: Optional[Tuple[torch.Tensor, torch.Tensor]],
    ) -> Tuple[torch.Tensor, Tuple[torch.Tensor, torch.Tensor]]:
        """Macaron FFN and self-attention: (x after attention, keys/values incl. these frames)."""
        if self.ff_macaron is not None and self.norm_ff_macaron is not None:
            x = x + self.ff_scale * self.dropout(self.ff_macaron(self.norm_ff_macaron(x)))
        att, kv = self.self_attn(self.norm_mha(x), att_mask, pos[0], pos[1], kv_cache)
        return x + self.dropout(att), kv

    def _finish(self, x: torch.Tensor, conv_out: torch.Tensor) -> torch.Tensor:
        x = x + self.dropout(conv_out)
        x = x + self.ff_scale * self.dropout(self.ff(self.norm_ff(x)))
        return self.norm_final(x)

    def forward(
        self,
        x: torch.Tensor,
        att_mask: torch.Tensor,
        valid: torch.Tensor,
        pos: Tuple[torch.Tensor, torch.Tensor],
        streaming: bool,
        chunk_size: int,
    ) -> torch.Tensor:
        """Whole sequence. x: (B, T, D); att_mask: (B, T, T); valid: (B, T)."""
        x, _ = self._attend(x, att_mask, pos, None)
        return self._finish(x, self.conv(self.norm_conv(x), valid, streaming, chunk_size))

    def forward_chunk(
        self,
        x: torch.Tensor,
        att_mask: torch.Tensor,
        pos: Tuple[torch.Tensor, torch.Tensor],
        kv_cache: Optional[Tuple[torch.Tensor, torch.Tensor]],
        conv_cache: torch.Tensor,
    ) -> Tuple[torch.Tensor, Tuple[torch.Tensor, torch.Tensor], torch.Tensor]:
        """One chunk with caches. Returns (y, keys/values incl. this chunk, new conv cache)."""
        x, kv = self._attend(x, att_mask, pos, kv_cache)
        conv_out, conv_cache = self.conv.forward_chunk(self.norm_conv(x), conv_cache)
        return self._finish(x, conv_out), kv, conv_cache
