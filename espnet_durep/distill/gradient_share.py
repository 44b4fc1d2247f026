"""Gradient share of each loss term: how much of an update each term drives.

For weighted terms ``w_k L_k`` (the ASR loss is one of them) and parameters theta (the
encoder's)::

    share_k = ||d(w_k L_k)/d theta||_2 / sum_j ||d(w_j L_j)/d theta||_2

Shares are in [0, 1] and sum to 1.  Each term costs one extra backward pass through the
graph (kept for the trainer's own backward), so models measure it every
``grad_share_interval`` training steps (:class:`LossTerms`).
"""
from __future__ import annotations

from typing import Dict, Iterable, Optional, Tuple

import torch


def gradient_norms(terms: Dict[str, torch.Tensor], params: Iterable[torch.Tensor]) -> Dict[str, torch.Tensor]:
    """name -> L2 norm of d term / d params (0 for a term that does not reach them)."""
    params = [p for p in params if p.requires_grad]
    norms = {}
    for name, value in terms.items():
        if not value.requires_grad:
            norms[name] = torch.zeros((), device=value.device)
            continue
        grads = torch.autograd.grad(value, params, retain_graph=True, allow_unused=True)
        squares = [g.pow(2).sum() for g in grads if g is not None]
        norms[name] = torch.stack(squares).sum().sqrt() if squares else torch.zeros((), device=value.device)
    return norms


def gradient_shares(terms: Dict[str, torch.Tensor], params: Iterable[torch.Tensor]) -> Dict[str, torch.Tensor]:
    """name -> share of the summed gradient norms (see the module docstring)."""
    norms = gradient_norms(terms, params)
    total = torch.stack(list(norms.values())).sum().clamp(min=1e-20)
    return {name: norm / total for name, norm in norms.items()}


class LossTerms:
    """Adds weighted distillation terms to the ASR loss and reports them.

    Statistics: every term's unweighted value under its own name and, when
    ``grad_share_interval`` > 0, ``gshare_asr`` and ``gshare_<term>`` (share of the encoder
    gradient norm) measured on every ``grad_share_interval``-th training step (None, shown
    as nan, on the others; ESPnet's epoch averages skip those).  Not reported in validation.
    """

    def __init__(self, grad_share_interval: int = 0):
        if grad_share_interval < 0:
            raise ValueError(f"grad_share_interval must be >= 0, got {grad_share_interval}")
        self.interval = int(grad_share_interval)
        self.steps = 0
        self.force = False  # measure on every step (kd_report)
        self.last: Dict[str, Tuple[float, torch.Tensor]] = {}  # name -> (weight, loss) of the last call

    def combine(
        self,
        asr_loss: torch.Tensor,
        terms: Dict[str, Tuple[float, torch.Tensor]],
        stats: Dict[str, Optional[torch.Tensor]],
        params: Iterable[torch.Tensor],
        training: bool,
        scale: float = 1.0,
    ) -> torch.Tensor:
        """asr_loss + sum of scale * weight * value over ``terms`` (name -> (weight, value))."""
        weighted = {"asr": asr_loss}
        self.last = {"asr": (1.0, asr_loss.detach())}
        loss = asr_loss
        for name, (weight, value) in terms.items():
            stats[name] = value.detach()
            weighted[name] = scale * weight * value
            self.last[name] = (scale * weight, value.detach())
            loss = loss + weighted[name]
        if (self.interval > 0 and training) or self.force:
            measure = self.force or (torch.is_grad_enabled() and self.steps % self.interval == 0)
            shares = gradient_shares(weighted, params) if measure else {}
            for name in weighted:
                stats[f"gshare_{name}"] = shares[name].detach() if name in shares else None
        if training:
            self.steps += 1
        return loss
