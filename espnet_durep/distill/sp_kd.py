"""Similarity-preserving KD (Tung & Mori 2019), used between the full-context (teacher
side) and the streaming path as in multi-decoder joint optimisation (arXiv 2405.13514).

Representations are compared through row-normalised similarity matrices, so the two
sides may have different widths.  Every row is a unit vector, so the squared distance
between a student row and a teacher row lies in [0, 4] whatever the matrix size:

* ``axis="time"``: per utterance, G = X X^T over its valid frames (T_b, T_b); the row
  distances are summed over the utterance's frames (= ||norm(G_s) - norm(G_t)||_F^2);
  mean over the batch.
* ``axis="batch"``: mean-pool each utterance over its valid frames -> A (B, D),
  G = A A^T (B, B); utterance b's row distance counts once per frame of b (x T_b);
  mean over the batch.  Needs several utterances per batch: with one, G is 1 x 1 and the
  loss is identically zero (a warning says so).

Both are sums over each utterance's frames averaged over the batch, the normalisation
rule of :mod:`espnet_durep.distill`.
"""
from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F
from torch import nn

from espnet_durep.layers.masking import length_mask, masked_mean

AXES = ("batch", "time")
MIN_BATCH = 4  # axis "batch": below this a batch has too few pairs to compare


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
    if axis == "batch":
        g_s = _row_normalised_gram(masked_mean(student, lengths))
        g_t = _row_normalised_gram(masked_mean(teacher, lengths))
        row_distance = ((g_s - g_t) ** 2).sum(-1)  # (B,)
        return (row_distance * lengths.to(student.dtype)).mean()
    losses = []
    for b, n in enumerate(lengths.tolist()):
        g_s = _row_normalised_gram(student[b, :n])
        g_t = _row_normalised_gram(teacher[b, :n])
        losses.append(((g_s - g_t) ** 2).sum())
    return torch.stack(losses).mean()


class SPKD(nn.Module):
    """sp-KD with fixed options (``axis``, ``detach_teacher``); warns once on batches too small for ``axis: batch``."""

    def __init__(self, axis: str = "batch", detach_teacher: bool = True):
        super().__init__()
        if axis not in AXES:
            raise ValueError(f"axis must be one of {AXES}, got {axis!r}")
        self.axis = axis
        self.detach_teacher = detach_teacher
        self._warned_small_batch = False

    def forward(self, student: torch.Tensor, teacher: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        if self.axis == "batch" and student.size(0) < MIN_BATCH and not self._warned_small_batch:
            self._warned_small_batch = True
            warnings.warn(
                f"sp-KD with axis 'batch' got a batch of {student.size(0)} utterance(s): it compares "
                f"utterances with each other, so it is {'zero' if student.size(0) == 1 else 'weak'} on "
                f"batches under {MIN_BATCH}; use larger batches or sp_kd_conf.axis: time")
        return sp_kd_loss(student, teacher, lengths, self.axis, self.detach_teacher)
