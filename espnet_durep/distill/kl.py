"""Masked KL divergence between posteriors and the per-utterance reduction of every KD term.

Normalisation rule (:func:`per_utterance_sum`): a KD term is summed over the positions of
each utterance (frames, tokens or lattice nodes) and averaged over the utterances of the
batch, like ESPnet's CTC, attention (``length_normalized_loss: false``) and RNN-T losses.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def per_utterance_sum(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Sum of ``values`` over the valid positions of each utterance, mean over the batch.

    values, mask: (B, ...) of the same shape (mask bool or 0/1).  Returns a scalar.
    """
    return (values * mask).reshape(values.size(0), -1).sum(1).mean()


def kl_per_position(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float = 1.0):
    """KL(teacher || student) over the last dim, per position (..., ) — teacher not detached."""
    t_logp = F.log_softmax(teacher_logits / temperature, dim=-1)
    s_logp = F.log_softmax(student_logits / temperature, dim=-1)
    return (t_logp.exp() * (t_logp - s_logp)).sum(-1)


def masked_kl_div(
    student_logits: torch.Tensor, teacher_logits: torch.Tensor, mask: torch.Tensor, temperature: float = 1.0
) -> torch.Tensor:
    """KL(softmax(teacher/T) || softmax(student/T)) * T^2 (Hinton), :func:`per_utterance_sum` over ``mask``.

    student_logits, teacher_logits: (B, L, V); mask: (B, L) bool.
    """
    kl = kl_per_position(student_logits, teacher_logits, temperature)
    return per_utterance_sum(kl, mask) * temperature**2
