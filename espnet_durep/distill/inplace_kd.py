"""In-place KD of Dual-mode ASR: the full-context pass teaches the streaming pass.

The full-context posteriors are detached targets; the streaming posteriors learn from
them frame by frame (CTC) and token by token (attention decoder), summed over each
utterance's frames / tokens and averaged over the batch (the normalisation rule of
:mod:`espnet_durep.distill`).  A streaming model
emits later than a full-context one, so a tolerance window lets streaming frame ``t``
match the best full-context frame in ``[t - tolerance, t]``.
"""
from __future__ import annotations

from typing import Dict, Optional

import torch
from torch import nn

from espnet_durep.distill.kl import kl_per_position, masked_kl_div, per_utterance_sum
from espnet_durep.layers.masking import length_mask


def ctc_inplace_kd(
    stream_logits: torch.Tensor,
    full_logits: torch.Tensor,
    lengths: torch.Tensor,
    temperature: float = 1.0,
    tolerance: int = 0,
) -> torch.Tensor:
    """Frame-level KL(full || streaming) * T^2, summed over valid frames, mean over utterances.

    stream_logits, full_logits: (B, T, V); lengths: (B,).  With ``tolerance`` d > 0 the
    target of frame t is the full-context frame in [t-d, t] with the smallest KL.
    """
    full_logits = full_logits.detach()
    mask = length_mask(lengths, stream_logits.size(1))
    if tolerance <= 0:
        return masked_kl_div(stream_logits, full_logits, mask, temperature)
    candidates = []
    for shift in range(tolerance + 1):
        shifted = torch.roll(full_logits, shifts=shift, dims=1)
        kl = kl_per_position(stream_logits, shifted, temperature)
        if shift:
            kl[:, :shift] = float("inf")  # frames before 0 are no candidates
        candidates.append(kl)
    best = torch.stack(candidates).min(dim=0).values
    return per_utterance_sum(best, mask) * temperature**2


def decoder_inplace_kd(
    stream_logits: torch.Tensor, full_logits: torch.Tensor, ys_lengths: torch.Tensor, temperature: float = 1.0
) -> torch.Tensor:
    """Token-level KL(full || streaming) * T^2 over (B, U, V) decoder outputs, summed over valid tokens,
    mean over utterances."""
    mask = length_mask(ys_lengths, stream_logits.size(1))
    return masked_kl_div(stream_logits, full_logits.detach(), mask, temperature)


class InplaceKD(nn.Module):
    """Options of in-place KD: ``temperature`` and CTC ``tolerance`` (frames)."""

    def __init__(self, temperature: float = 1.0, tolerance: int = 0):
        super().__init__()
        self.temperature = temperature
        self.tolerance = tolerance

    def forward(
        self,
        stream_ctc_logits: torch.Tensor,
        full_ctc_logits: torch.Tensor,
        enc_lengths: torch.Tensor,
        stream_dec_logits: Optional[torch.Tensor] = None,
        full_dec_logits: Optional[torch.Tensor] = None,
        ys_lengths: Optional[torch.Tensor] = None,
    ) -> Dict[str, torch.Tensor]:
        out = {"loss_kd_inplace_ctc": ctc_inplace_kd(
            stream_ctc_logits, full_ctc_logits, enc_lengths, self.temperature, self.tolerance)}
        if stream_dec_logits is not None and full_dec_logits is not None:
            out["loss_kd_inplace_att"] = decoder_inplace_kd(
                stream_dec_logits, full_dec_logits, ys_lengths, self.temperature)
        return out
