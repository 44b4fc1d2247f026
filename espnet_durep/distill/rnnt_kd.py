"""Transducer posterior KD from a frozen teacher over the (t, u) output lattice.

* ``full``: KL(teacher || student) of the whole output distribution at every valid node.
* ``collapsed`` (Panchapagesan et al. 2021): at node (t, u) both distributions are
  collapsed to {blank, the correct next label y_{u+1}, everything else}; on the last row
  (u = U, no next label) to {blank, everything else}.  Only O(B*T*U) collapsed values
  are kept.

Joint outputs are (B, T, U+1, V) logits; ``t_lengths`` (B,) and ``u_lengths`` (B,) give
the valid lattice of each utterance (T_b x (U_b + 1) nodes).  Losses are means over valid
nodes, multiplied by T^2 for temperature T.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from espnet_durep.distill.kl import kl_per_position

KINDS = ("full", "collapsed")


def _node_mask(t_lengths: torch.Tensor, u_lengths: torch.Tensor, t: int, u1: int) -> torch.Tensor:
    """(B, T, U+1) bool: valid lattice nodes."""
    tt = torch.arange(t, device=t_lengths.device)[None, :, None] < t_lengths[:, None, None]
    uu = torch.arange(u1, device=u_lengths.device)[None, None, :] <= u_lengths[:, None, None]
    return tt & uu


def rnnt_kd_full(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    t_lengths: torch.Tensor,
    u_lengths: torch.Tensor,
    temperature: float = 1.0,
) -> torch.Tensor:
    mask = _node_mask(t_lengths, u_lengths, student_logits.size(1), student_logits.size(2))
    kl = kl_per_position(student_logits, teacher_logits.detach(), temperature)
    return (kl * mask).sum() / mask.sum().clamp(min=1) * temperature**2


def collapse(
    logits: torch.Tensor, targets: torch.Tensor, u_lengths: torch.Tensor, blank_id: int, temperature: float = 1.0
) -> torch.Tensor:
    """(B, T, U+1, V) logits -> (B, T, U+1, 3) probabilities of {blank, y_{u+1}, rest}."""
    logp = F.log_softmax(logits / temperature, dim=-1)
    b, t, u1, _ = logp.shape
    p_blank = logp[..., blank_id].exp()
    next_label = F.pad(targets.clamp(min=0), (0, u1 - targets.size(1)), value=blank_id)[:, :u1]
    has_label = torch.arange(u1, device=logits.device)[None, :] < u_lengths[:, None]  # (B, U+1)
    index = next_label[:, None, :, None].expand(b, t, u1, 1)
    p_label = logp.gather(-1, index).squeeze(-1).exp() * has_label[:, None, :]
    p_rest = (1.0 - p_blank - p_label).clamp(min=0.0)
    return torch.stack([p_blank, p_label, p_rest], dim=-1)


def rnnt_kd_collapsed(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    targets: torch.Tensor,
    t_lengths: torch.Tensor,
    u_lengths: torch.Tensor,
    blank_id: int,
    temperature: float = 1.0,
) -> torch.Tensor:
    """targets: (B, U) label ids (padding any value beyond ``u_lengths``)."""
    p_t = collapse(teacher_logits.detach(), targets, u_lengths, blank_id, temperature)
    p_s = collapse(student_logits, targets, u_lengths, blank_id, temperature)
    kl = (torch.xlogy(p_t, p_t) - torch.xlogy(p_t, p_s.clamp(min=1e-12))).sum(-1)
    mask = _node_mask(t_lengths, u_lengths, student_logits.size(1), student_logits.size(2))
    return (kl * mask).sum() / mask.sum().clamp(min=1) * temperature**2


class RNNTKD(nn.Module):
    """Transducer KD with fixed options (``kind``: full | collapsed)."""

    def __init__(self, kind: str = "collapsed", temperature: float = 1.0, blank_id: int = 0):
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        self.kind, self.temperature, self.blank_id = kind, temperature, blank_id

    def forward(self, student_logits, teacher_logits, targets, t_lengths, u_lengths) -> torch.Tensor:
        if self.kind == "full":
            return rnnt_kd_full(student_logits, teacher_logits, t_lengths, u_lengths, self.temperature)
        return rnnt_kd_collapsed(student_logits, teacher_logits, targets, t_lengths, u_lengths,
                                 self.blank_id, self.temperature)
