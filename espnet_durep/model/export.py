"""Separate training-only parameters from what an inference model needs.

Distillation heads (projections to teacher widths, discrete-code heads) live under
module names starting with ``kd_``; they are trained and checkpointed (so a killed run
resumes), but an inference model is built without them and they are dropped at export.
"""
from __future__ import annotations

from typing import Dict

import torch

TRAINING_ONLY_PREFIXES = ("kd_",)


def is_training_only(key: str) -> bool:
    return key.startswith(TRAINING_ONLY_PREFIXES)


def strip_training_only(state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Copy of ``state_dict`` without the training-only entries."""
    return {k: v for k, v in state_dict.items() if not is_training_only(k)}
