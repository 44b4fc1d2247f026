"""Similarity-preserving KD (Tung & Mori 2019), used between the full-context (teacher
side) and the streaming path as in multi-decoder joint optimisation (arXiv 2405.13514).

Representations are compared through row-normalised similarity matrices, so the two
sides may have different widths:

* ``axis="batch"``: mean-pool each utterance over its valid frames -> A (B, D);
  G = A A^T (B, B); loss = ||norm(G_s) - norm(G_t)||_F^2 / B^2.
* ``axis="time"``: per utterance X X^T over its valid frames (T_b, T_b);
  ||.||_F^2 / T_b^2, averaged over the batch.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from espnet_durep.distill.kl import lengths_to_mask

AXES = ("batch", "time")


def _row_normalised_gram(x: torch.Tensor) -> torch.Tensor:
    return F.normalize(x @ x.transpose(-1, -2), dim=-1)


def sp_kd_loss(
    student: torch.Tensor,
    teacher: torch.Tensor,
    lengths: torch.Tensor,
    axis: str = "batch",
    detach_teacher: bool = True,
) -> torch.Tensor:
    """student: (B, T, D); teacher: (B, T, D'); lengths: (B,)."""
    if axis not in AXES:
        raise ValueError(f"axis must be one of {AXES}, got {axis!r}")
    if detach_teacher:
        teacher = teacher.detach()
    mask = lengths_to_mask(lengths, student.size(1)).unsqueeze(-1).to(student.dtype)
    if axis == "batch":
        count = mask.sum(1).clamp(min=1)
        g_s = _row_normalised_gram((student * mask).sum(1) / count)
        g_t = _row_normalised_gram((teacher * mask).sum(1) / count)
        return ((g_s - g_t) ** 2).sum() / student.size(0) ** 2
    losses = []
    for b, n in enumerate(lengths.tolist()):
        g_s = _row_normalised_gram(student[b, :n])
        g_t = _row_normalised_gram(teacher[b, :n])
        losses.append(((g_s - g_t) ** 2).sum() / max(n, 1) ** 2)
    return torch.stack(losses).mean()


class SPKD(nn.Module):
    """sp-KD with fixed options (``axis``, ``detach_teacher``)."""

    def __init__(self, axis: str = "batch", detach_teacher: bool = True):
        super().__init__()
        if axis not in AXES:
            raise ValueError(f"axis must be one of {AXES}, got {axis!r}")
        self.axis = axis
        self.detach_teacher = detach_teacher

    def forward(self, student: torch.Tensor, teacher: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return sp_kd_loss(student, teacher, lengths, self.axis, self.detach_teacher)
