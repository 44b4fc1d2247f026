"""Distillation losses: in-place KD, teacher (layer / posterior / discrete) KD, sp-KD, RNN-T KD."""
