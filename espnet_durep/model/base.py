"""What every model of this package shares, on top of ESPnet's ``ESPnetASRModel``.

* one feature path: front-end, SpecAugment (training only, from ``specaug_start_steps`` on)
  and normalisation (:meth:`DurepModelBase.features`, and :func:`model_features` for a teacher
  of any ESPnet model class);
* a saved training-step counter: on small corpora, SpecAugment from the first update can keep
  CTC-like losses on their blank plateau, so it starts once the model aligns.  The counter is
  a buffer, so a resumed run continues from its step (exclude it with ``--init_param
  ...:::train_steps`` when initialising a new model from a trained one);
* the distillation teacher: frozen, in eval mode, and never a sub-module (not saved, not moved
  by the trainer's DDP wrapper, never trained).
"""
from __future__ import annotations

from typing import Optional, Tuple

import torch


def model_features(model, speech: torch.Tensor, speech_lengths: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Normalised features (B, T, idim), (B,) of raw speech through ``model``'s front-end (any ESPnet
    ASR model; ours also apply SpecAugment when training)."""
    if isinstance(model, DurepModelBase):
        return model.features(speech, speech_lengths)
    feats, flens = model._extract_feats(speech, speech_lengths)
    if model.normalize is not None:
        feats, flens = model.normalize(feats, flens)
    return feats, flens


class DurepModelBase:
    """Mixin for an ESPnetASRModel (``self.specaug``, ``self.normalize``, ``self.training``)."""

    def _init_base(self, specaug_start_steps: int) -> None:
        if specaug_start_steps < 0:
            raise ValueError(f"specaug_start_steps must be >= 0, got {specaug_start_steps}")
        self.specaug_start_steps = specaug_start_steps
        self.register_buffer("train_steps", torch.zeros((), dtype=torch.long))
        self._teacher = None

    # ------------------------------------------------------------ features
    def _augment(self, feats: torch.Tensor, flens: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """SpecAugment (B, T, F) features when training, from ``specaug_start_steps`` on."""
        if self.specaug is not None and self.training and int(self.train_steps) >= self.specaug_start_steps:
            feats, flens = self.specaug(feats, flens)
        return feats, flens

    def features(self, speech: torch.Tensor, speech_lengths: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Front-end, SpecAugment (training only) and normalisation: (B, T, idim), (B,)."""
        feats, flens = self._augment(*self._extract_feats(speech, speech_lengths))
        if self.normalize is not None:
            feats, flens = self.normalize(feats, flens)
        return feats, flens

    def _count_step(self) -> None:
        """Call once per training forward pass."""
        if self.training:
            self.train_steps += 1

    # ------------------------------------------------------------ teacher
    @property
    def teacher(self) -> Optional[torch.nn.Module]:
        return self._teacher

    def _attach_frozen(self, teacher: torch.nn.Module) -> None:
        """Keep ``teacher`` frozen, in eval mode, outside the module tree."""
        teacher.eval()
        for p in teacher.parameters():
            p.requires_grad_(False)
        object.__setattr__(self, "_teacher", teacher)  # not a sub-module: never saved

    def _teacher_on(self, device: torch.device) -> torch.nn.Module:
        """The teacher, moved to ``device`` the first time the batches are there."""
        if next(self._teacher.parameters()).device != device:
            self._teacher.to(device)
        return self._teacher
