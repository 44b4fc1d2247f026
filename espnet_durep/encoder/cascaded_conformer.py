"""Cascaded Conformer encoder: a causal (streaming) first pass and a shallow non-causal second pass.

Cascaded encoders (Narayanan et al., ICASSP 2021; the shallow cascade of arXiv 2312.09842):
a :class:`DualModeConformerEncoder` runs in streaming mode (chunk attention masks during
training, ``forward_chunk`` at inference) and produces the first-pass frames; a few
full-attention Conformer blocks then re-encode those frames with right context for the
second (look-ahead) pass.  Both passes have the same frame rate and width, so one
transducer decoder and joint network can serve both.

``integration`` chooses what the non-causal blocks read:

* ``cascaded`` — the causal encoder's output (the second pass refines the first);
* ``parallel`` — the causal encoder's subsampled features (block 0), i.e. a
  non-streaming encoder beside the streaming one, sharing only the subsampling.

Streaming inference uses only :attr:`CascadedConformerEncoder.causal`.
"""
from __future__ import annotations

from typing import Optional, Tuple

import torch
from espnet2.asr.encoder.abs_encoder import AbsEncoder
from torch import nn

from espnet_durep.encoder.dual_mode_conformer import DualModeConformerEncoder
from espnet_durep.layers.conformer_layer import ConformerLayer
from espnet_durep.layers.masking import length_mask
from espnet_durep.layers.rel_attention import RelativePositions
from espnet_durep.modes import FULL, STREAMING

INTEGRATIONS = ("cascaded", "parallel")


class CascadedConformerEncoder(AbsEncoder):
    """Causal :class:`DualModeConformerEncoder` + shallow full-context Conformer blocks.

    Args:
        input_size: feature dimension.
        causal_conf: options of the causal :class:`DualModeConformerEncoder`
            (output_size, num_blocks, chunk_size, dynamic_chunk_training, ...).
        num_blocks: non-causal Conformer blocks (>= 1).
        attention_heads, linear_units, cnn_module_kernel, macaron_style: non-causal block
            size; their width is the causal encoder's ``output_size``.
        dropout_rate, positional_dropout_rate, attention_dropout_rate: non-causal dropouts.
        integration: "cascaded" or "parallel" (see the module docstring).
    """

    def __init__(
        self,
        input_size: int,
        causal_conf: Optional[dict] = None,
        num_blocks: int = 2,
        attention_heads: int = 4,
        linear_units: int = 1024,
        cnn_module_kernel: int = 15,
        macaron_style: bool = True,
        dropout_rate: float = 0.1,
        positional_dropout_rate: float = 0.1,
        attention_dropout_rate: float = 0.0,
        integration: str = "cascaded",
    ):
        super().__init__()
        if integration not in INTEGRATIONS:
            raise ValueError(f"integration must be one of {INTEGRATIONS}, got {integration!r}")
        if num_blocks < 1:
            raise ValueError(f"the non-causal stack needs num_blocks >= 1, got {num_blocks}")
        self.causal = DualModeConformerEncoder(input_size, **dict(causal_conf or {}))
        d_model = self.causal.output_size()
        self.integration = integration
        self.rel_pos = RelativePositions(d_model, positional_dropout_rate)
        # never run in streaming mode, so the depthwise convolutions are always symmetric
        self.encoders = nn.ModuleList(
            ConformerLayer(d_model, attention_heads, linear_units, cnn_module_kernel, "chunk",
                           dropout_rate, attention_dropout_rate, macaron_style)
            for _ in range(num_blocks)
        )
        self.after_norm = nn.LayerNorm(d_model)

    def output_size(self) -> int:
        return self.causal.output_size()

    @property
    def subsampling(self) -> int:
        return self.causal.subsampling

    def resolve_chunking(self, chunk_size: Optional[int], num_left_chunks: Optional[int]) -> Tuple[int, int]:
        """Chunking of the causal pass: (chunk, left), chunk 0 meaning full context.

        None takes the causal encoder's defaults (sampled per call when training with
        dynamic chunks); an explicit ``chunk_size <= 0`` asks for full context.
        """
        if chunk_size is not None and chunk_size <= 0:
            return 0, -1
        return self.causal.resolve_chunking(STREAMING, chunk_size, num_left_chunks)

    def non_causal(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Full-attention blocks over (B, T, D) frames with (B,) valid lengths -> (B, T, D)."""
        t = x.size(1)
        valid = length_mask(lengths, t)
        att_mask = valid[:, None, :].expand(-1, t, -1)
        pos = self.rel_pos(t, t)
        for layer in self.encoders:
            x = layer(x, att_mask, valid, pos, streaming=False, chunk_size=0)
        return self.after_norm(x)

    def forward_both(
        self,
        xs_pad: torch.Tensor,
        ilens: torch.Tensor,
        chunk_size: Optional[int] = None,
        num_left_chunks: Optional[int] = None,
    ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Both passes of a padded batch.

        Args:
            xs_pad: (B, T, idim) features; ilens: (B,) lengths.
            chunk_size, num_left_chunks: chunking of the causal pass in encoder frames
                (None: the causal encoder's default, sampled when training dynamically).
        Returns:
            first pass (B, T', D) (causal, streaming mode), second pass (B, T', D), and
            (B,) output lengths.
        """
        chunk, left = self.resolve_chunking(chunk_size, num_left_chunks)
        wanted = (0,) if self.integration == "parallel" else ()
        # chunk 0 is a full-context draw of dynamic chunk training (full_context_prob)
        first, olens, layers = self.causal(xs_pad, ilens, mode=STREAMING if chunk > 0 else FULL,
                                           chunk_size=chunk, num_left_chunks=left, return_layers=wanted)
        second = self.non_causal(layers[0] if layers else first, olens)
        return first, second, olens

    def forward(
        self,
        xs_pad: torch.Tensor,
        ilens: torch.Tensor,
        prev_states: Optional[torch.Tensor] = None,
        chunk_size: Optional[int] = None,
        num_left_chunks: Optional[int] = None,
    ) -> Tuple[torch.Tensor, torch.Tensor, None]:
        """Second-pass (look-ahead) output (B, T', D), (B,) lengths and None (ESPnet contract)."""
        _, second, olens = self.forward_both(xs_pad, ilens, chunk_size, num_left_chunks)
        return second, olens, None
