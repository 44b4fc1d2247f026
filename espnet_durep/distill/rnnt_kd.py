"""Transducer posterior KD from a frozen teacher over the (t, u) output lattice.

* ``full``: KL(teacher || student) of the whole output distribution at every valid node.
* ``collapsed`` (Panchapagesan et al. 2021): at node (t, u) both distributions are
  collapsed to {blank, the correct next label y_{u+1}, everything else}; on the last row
  (u = U, no next label) to {blank, everything else}.  Only O(B*T*U) collapsed values
  are kept, all in log space.

Joint outputs are (B, T, U+1, V) logits; ``t_lengths`` (B,) and ``u_lengths`` (B,) give
the valid lattice of each utterance (T_b x (U_b + 1) nodes).

Normalisation: an alignment path through the lattice visits T_b + U_b nodes, and the
RNN-T loss of an utterance is a sum over such a path.  So each utterance's KD loss is the
mean KL over its valid nodes times T_b + U_b (an expected per-path sum), averaged over
the batch: the same per-utterance scale as the RNN-T loss, whatever the length.  Losses
are multiplied by T^2 for temperature T.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from espnet_durep.distill.kl import kl_per_position
from espnet_durep.layers.masking import length_mask

KINDS = ("full", "collapsed")


def _node_mask(t_lengths: torch.Tensor, u_lengths: torch.Tensor, t: int, u1: int) -> torch.Tensor:
    """(B, T, U+1) bool: valid lattice nodes."""
    return length_mask(t_lengths, t)[:, :, None] & length_mask(u_lengths + 1, u1)[:, None, :]


def lattice_path_sum(kl: torch.Tensor, t_lengths: torch.Tensor, u_lengths: torch.Tensor) -> torch.Tensor:
    """(B, T, U+1) node losses -> scalar: per utterance mean over valid nodes x (T_b + U_b), mean over B."""
    mask = _node_mask(t_lengths, u_lengths, kl.size(1), kl.size(2))
    nodes = mask.sum((1, 2)).clamp(min=1)
    per_utt = (kl * mask).sum((1, 2)) / nodes * (t_lengths + u_lengths).to(kl.dtype)
    return per_utt.mean()


def rnnt_kd_full(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    t_lengths: torch.Tensor,
    u_lengths: torch.Tensor,
    temperature: float = 1.0,
) -> torch.Tensor:
    kl = kl_per_position(student_logits, teacher_logits.detach(), temperature)
    return lattice_path_sum(kl, t_lengths, u_lengths) * temperature**2


def collapse(
    logits: torch.Tensor, targets: torch.Tensor, u_lengths: torch.Tensor, blank_id: int, temperature: float = 1.0
) -> torch.Tensor:
    """(B, T, U+1, V) logits -> (B, T, U+1, 3) log-probabilities of {blank, y_{u+1}, rest}.

    On the last row (no next label) the label entry is -inf and "rest" is every non-blank.
    """
    logp = F.log_softmax(logits / temperature, dim=-1)
    b, t, u1, v = logp.shape
    next_label = F.pad(targets.clamp(min=0), (0, max(0, u1 - targets.size(1))), value=blank_id)[:, :u1]
    has_label = length_mask(u_lengths, u1)  # (B, U+1)
    next_label = next_label.masked_fill(~has_label, blank_id)
    index = next_label[:, None, :, None].expand(b, t, u1, 1)
    lp_blank = logp[..., blank_id]
    lp_label = logp.gather(-1, index).squeeze(-1).masked_fill(~has_label[:, None, :], float("-inf"))
    taken = F.one_hot(next_label, v).bool()[:, None] | F.one_hot(torch.tensor(blank_id, device=logits.device), v).bool()
    lp_rest = logp.masked_fill(taken, float("-inf")).logsumexp(-1)
    return torch.stack([lp_blank, lp_label, lp_rest], dim=-1)


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
    lp_t = collapse(teacher_logits.detach(), targets, u_lengths, blank_id, temperature)
    lp_s = collapse(student_logits, targets, u_lengths, blank_id, temperature)
    p_t = lp_t.exp()
    # 0 * (-inf - -inf) is nan: entries the teacher gives no mass contribute nothing
    kl = torch.where(p_t > 0, p_t * (lp_t - lp_s), torch.zeros_like(p_t)).sum(-1)
    return lattice_path_sum(kl, t_lengths, u_lengths) * temperature**2


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
