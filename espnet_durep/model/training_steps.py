"""A saved training-step counter, and SpecAugment that starts at a given training step.

Shared by every model of this package. On small corpora, SpecAugment from the first update
can keep CTC-like losses on their blank plateau; starting it once the model aligns
(``specaug_start_steps``) avoids that. The counter is a buffer, so a resumed run continues
from its step (exclude it with ``--init_param ...:::train_steps`` when initialising a new
model from a trained one).
"""
from __future__ import annotations

from typing import Tuple

import torch


class TrainingSteps:
    """Mixin for an ESPnetASRModel (``self.specaug``, ``self.training``)."""

    def _init_training_steps(self, specaug_start_steps: int) -> None:
        if specaug_start_steps < 0:
            raise ValueError(f"specaug_start_steps must be >= 0, got {specaug_start_steps}")
        self.specaug_start_steps = specaug_start_steps
        self.register_buffer("train_steps", torch.zeros((), dtype=torch.long))

    def _augment(self, feats: torch.Tensor, flens: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """SpecAugment (B, T, F) features when training, from ``specaug_start_steps`` on."""
        if self.specaug is not None and self.training and int(self.train_steps) >= self.specaug_start_steps:
            feats, flens = self.specaug(feats, flens)
        return feats, flens

    def _count_step(self) -> None:
        """Call once per training forward pass."""
        if self.training:
            self.train_steps += 1
