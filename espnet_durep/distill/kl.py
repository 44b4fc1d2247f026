"""Masked KL divergence between posteriors, the primitive of every posterior KD loss."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def lengths_to_mask(lengths: torch.Tensor, max_len: int) -> torch.Tensor:
    """(B,) lengths -> (B, max_len) bool, True on valid positions."""
    return torch.arange(max_len, device=lengths.device)[None, :] < lengths[:, None]


def kl_per_position(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float = 1.0):
    """KL(teacher || student) over the last dim, per position (..., ) — teacher not detached."""
    t_logp = F.log_softmax(teacher_logits / temperature, dim=-1)
    s_logp = F.log_softmax(student_logits / temperature, dim=-1)
    return (t_logp.exp() * (t_logp - s_logp)).sum(-1)


def masked_kl_div(
    student_logits: torch.Tensor, teacher_logits: torch.Tensor, mask: torch.Tensor, temperature: float = 1.0
) -> torch.Tensor:
    """Mean over ``mask`` of KL(softmax(teacher/T) || softmax(student/T)) * T^2 (Hinton).

    student_logits, teacher_logits: (B, L, V); mask: (B, L) bool.
    """
    kl = kl_per_position(student_logits, teacher_logits, temperature)
    return (kl * mask).sum() / mask.sum().clamp(min=1) * temperature**2
