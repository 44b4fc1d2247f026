"""Recipe helper tests: the helpers live in egs2/TEMPLATE/durep1/scripts (run as scripts there)."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "egs2" / "TEMPLATE" / "durep1" / "scripts"
sys.path.insert(0, str(SCRIPTS))


def write_tone(path: Path, seconds: float, rate: int = 16000, channels: int = 1) -> Path:
    """A 440 Hz tone of exactly round(seconds * rate) samples."""
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(round(seconds * rate)) / rate
    wave = 0.3 * np.sin(2 * np.pi * 440 * t)
    soundfile.write(path, np.stack([wave] * channels, axis=1) if channels > 1 else wave, rate, subtype="PCM_16")
    return path


@pytest.fixture
def tone():
    """``tone(path, seconds, rate=16000, channels=1) -> path``: write a short test tone."""
    return write_tone


@pytest.fixture
def scripts_dir() -> Path:
    return SCRIPTS
