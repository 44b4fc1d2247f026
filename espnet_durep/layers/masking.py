"""Length masks and masked means over padded batches (one implementation for every module)."""
from __future__ import annotations

import torch


def length_mask(lengths: torch.Tensor, max_len: int) -> torch.Tensor:
    """(B,) lengths -> (B, max_len) bool, True on the first ``lengths[b]`` positions."""
    return torch.arange(max_len, device=lengths.device)[None, :] < lengths[:, None]


def masked_mean(x: torch.Tensor, lengths: torch.Tensor, dim: int = 1) -> torch.Tensor:
    """Mean of ``x`` (B, ..., L, ...) over its first ``lengths[b]`` positions along ``dim`` (B,) lengths;
    an utterance of length 0 gives 0."""
    mask = length_mask(lengths, x.size(dim)).to(x.dtype)
    shape = [mask.size(0)] + [1] * (x.dim() - 1)
    shape[dim] = mask.size(1)
    total = (x * mask.reshape(shape)).sum(dim)
    count = lengths.clamp(min=1).to(x.dtype).reshape([-1] + [1] * (total.dim() - 1))
    return total / count
