"""ASR-aware distillation from a separately trained, frozen teacher (DuRep).

* :class:`LayerRegressionKD` — chosen student layers regress chosen teacher layers
  (DistilHuBERT: L1 + ``-log sigmoid(cos)``), through a linear projection when the widths
  differ.  The projections are training-only (dropped at export, see
  :mod:`espnet_durep.model.export`).
* :func:`posterior_kd` — KL to the teacher's CTC (frame) or decoder (token) posteriors.
* :class:`RandomProjectionQuantizer` + :class:`DiscreteTargetKD` — optional discrete
  targets (BEST-RQ style codes of a teacher layer) the student predicts with CE.

Every term is summed over each utterance's frames (tokens for decoder posteriors) and
averaged over the batch (:func:`espnet_durep.distill.kl.per_utterance_sum`).
"""
from __future__ import annotations

from typing import Dict, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from espnet_durep.distill.kl import masked_kl_div, per_utterance_sum
from espnet_durep.layers.masking import length_mask

LAYER_LOSSES = ("l1_cos", "l1", "l2", "cos")


def _align(student: torch.Tensor, teacher: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Crop (B, T, D) sequences to a common length; they may differ by one frame at most."""
    ts, tt = student.size(1), teacher.size(1)
    if abs(ts - tt) > 1:
        raise ValueError(f"student has {ts} frames but teacher has {tt}: frame rates differ")
    t = min(ts, tt)
    return student[:, :t], teacher[:, :t]


class LayerRegressionKD(nn.Module):
    """Regress student layers onto teacher layers.

    Args:
        student_dim, teacher_dim: widths; a per-pair Linear(student_dim, teacher_dim)
            exists only when they differ.
        layer_pairs: [(student_layer, teacher_layer), ...].
        loss_type: "l1_cos" (L1 + cos_weight * -log sigmoid(cos)), "l1", "l2" or "cos".
    """

    def __init__(
        self,
        student_dim: int,
        teacher_dim: int,
        layer_pairs: Sequence[Tuple[int, int]],
        loss_type: str = "l1_cos",
        cos_weight: float = 1.0,
    ):
        super().__init__()
        if loss_type not in LAYER_LOSSES:
            raise ValueError(f"loss_type must be one of {LAYER_LOSSES}, got {loss_type!r}")
        self.layer_pairs = [(int(s), int(t)) for s, t in layer_pairs]
        self.loss_type = loss_type
        self.cos_weight = cos_weight
        self.projections = nn.ModuleDict(
            {f"{s}_{t}": nn.Linear(student_dim, teacher_dim) for s, t in self.layer_pairs}
        ) if student_dim != teacher_dim else None

    def pair_loss(self, student: torch.Tensor, teacher: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Loss between (B, T, D) sequences: per-frame loss summed over valid frames (mask (B, T)), mean over utterances."""
        per_frame = student.new_zeros(mask.shape)
        if self.loss_type in ("l1", "l1_cos"):
            per_frame = per_frame + (student - teacher).abs().mean(-1)
        if self.loss_type == "l2":
            per_frame = per_frame + ((student - teacher) ** 2).mean(-1)
        if self.loss_type in ("cos", "l1_cos"):
            weight = self.cos_weight if self.loss_type == "l1_cos" else 1.0
            per_frame = per_frame - weight * F.logsigmoid(F.cosine_similarity(student, teacher, dim=-1))
        return per_utterance_sum(per_frame, mask)

    def forward(
        self,
        student_layers: Dict[int, torch.Tensor],
        teacher_layers: Dict[int, torch.Tensor],
        lengths: torch.Tensor,
    ) -> torch.Tensor:
        """Mean over layer pairs; lengths are the student's (B,) frame counts."""
        losses = []
        for s, t in self.layer_pairs:
            student, teacher = _align(student_layers[s], teacher_layers[t].detach())
            if self.projections is not None:
                student = self.projections[f"{s}_{t}"](student)
            mask = length_mask(lengths.clamp(max=student.size(1)), student.size(1))
            losses.append(self.pair_loss(student, teacher, mask))
        return torch.stack(losses).mean()


def posterior_kd(
    student_logits: torch.Tensor, teacher_logits: torch.Tensor, lengths: torch.Tensor, temperature: float = 1.0
) -> torch.Tensor:
    """KL(teacher || student) * T^2 over (B, L, V) posteriors (CTC frames or decoder tokens)."""
    student_logits, teacher_logits = _align(student_logits, teacher_logits.detach())
    mask = length_mask(lengths.clamp(max=student_logits.size(1)), student_logits.size(1))
    return masked_kl_div(student_logits, teacher_logits, mask, temperature)


class RandomProjectionQuantizer(nn.Module):
    """Frozen random-projection quantiser (BEST-RQ): (B, T, D) -> (B, T) codes.

    The projection and the l2-normalised codebook are drawn from ``seed``; they are
    non-persistent buffers (recreated identically from the seed, so checkpoints stay
    small and codes are reproducible).
    """

    def __init__(self, input_dim: int, codebook_size: int, code_dim: int, seed: int = 0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        projection = torch.empty(input_dim, code_dim)
        nn.init.xavier_uniform_(projection, generator=g)
        codebook = F.normalize(torch.randn(codebook_size, code_dim, generator=g), dim=-1)
        self.register_buffer("projection", projection, persistent=False)
        self.register_buffer("codebook", codebook, persistent=False)

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.layer_norm(x, x.shape[-1:])
        z = F.normalize(x @ self.projection, dim=-1)
        return (z @ self.codebook.t()).argmax(-1)


class DiscreteTargetKD(nn.Module):
    """Student head predicting teacher codes: cross-entropy summed over valid frames, mean over utterances."""

    def __init__(self, student_dim: int, codebook_size: int):
        super().__init__()
        self.head = nn.Linear(student_dim, codebook_size)

    def forward(self, student_hidden: torch.Tensor, codes: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        t = min(student_hidden.size(1), codes.size(1))
        if abs(student_hidden.size(1) - codes.size(1)) > 1:
            raise ValueError(f"student has {student_hidden.size(1)} frames but codes have {codes.size(1)}")
        logits = self.head(student_hidden[:, :t])
        mask = length_mask(lengths.clamp(max=t), t)
        ce = F.cross_entropy(logits.transpose(1, 2), codes[:, :t], reduction="none")
        return per_utterance_sum(ce, mask)
