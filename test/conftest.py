"""Shared fixtures: tiny dual-mode models built through DurepTask (see tiny_asr.py)."""
from __future__ import annotations

import copy

import pytest
import torch

from tiny_asr import TINY_CONFIG, build_args


@pytest.fixture
def build_task_args():
    """``build_task_args(dir, config_dict, extra_cli_args) -> argparse.Namespace``."""
    return build_args


@pytest.fixture
def tiny_config():
    return copy.deepcopy(TINY_CONFIG)


@pytest.fixture
def toy_batch():
    """Two utterances of 0.4 / 0.3 s random audio with short token targets."""
    g = torch.Generator().manual_seed(0)
    speech = torch.randn(2, 6400, generator=g)
    speech_lengths = torch.tensor([6400, 4800])
    text = torch.tensor([[2, 3, 4, 5], [6, 2, 3, -1]])
    text_lengths = torch.tensor([4, 3])
    return speech, speech_lengths, text, text_lengths
