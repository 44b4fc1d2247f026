"""Log-mel features (ESPnet's ``DefaultFrontend`` + ``GlobalMVN``) in NumPy, frame by frame.

:class:`LogMelSettings` holds everything the computation needs as arrays (the padded analysis
window, the mel matrix, the normalisation statistics), so it can be saved with an exported
model and run without PyTorch; :class:`LogMelFeatures` feeds it from a
:class:`~espnet_durep.frontend.framing.WaveformFramer`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from espnet_durep.frontend.framing import WaveformFramer

_ARRAYS = ("window", "melmat", "mean", "std")


@dataclass
class LogMelSettings:
    """sample_rate, n_fft, hop; window (n_fft,) (the analysis window centred in n_fft);
    melmat (n_fft // 2 + 1, n_mels); log_base (None: natural log); normalized (STFT scaled by
    n_fft ** -0.5); mean / std (n_mels,) of the global normalisation (None: not applied)."""

    sample_rate: int
    n_fft: int
    hop: int
    center: bool
    normalized: bool
    window: np.ndarray
    melmat: np.ndarray
    log_base: Optional[float] = None
    mean: Optional[np.ndarray] = None
    std: Optional[np.ndarray] = None

    @property
    def num_mels(self) -> int:
        return int(self.melmat.shape[1])

    def save(self, path: Path) -> dict:
        """Write the arrays to ``path`` (.npz); returns the scalar settings (for a manifest)."""
        np.savez(path, **{k: getattr(self, k) for k in _ARRAYS if getattr(self, k) is not None})
        return {"sample_rate": self.sample_rate, "n_fft": self.n_fft, "hop": self.hop, "center": self.center,
                "normalized": self.normalized, "log_base": self.log_base, "arrays": Path(path).name}

    @classmethod
    def load(cls, scalars: dict, directory: Path) -> "LogMelSettings":
        with np.load(Path(directory) / scalars["arrays"]) as arrays:
            loaded = {k: arrays[k].astype(np.float32) if k in arrays else None for k in _ARRAYS}
        return cls(int(scalars["sample_rate"]), int(scalars["n_fft"]), int(scalars["hop"]), bool(scalars["center"]),
                   bool(scalars["normalized"]), log_base=scalars["log_base"], **loaded)

    def frames(self, segment: np.ndarray) -> np.ndarray:
        """Features (k, n_mels) of every full window in ``segment`` (n,) (``center=False``)."""
        if segment.size < self.n_fft:
            return np.zeros((0, self.num_mels), dtype=np.float32)
        windows = np.lib.stride_tricks.sliding_window_view(segment, self.n_fft)[:: self.hop]
        spec = np.fft.rfft(windows * self.window, axis=-1)
        power = spec.real**2 + spec.imag**2
        if self.normalized:
            power = power / self.n_fft
        mel = np.maximum(power @ self.melmat, 1e-10)
        feats = np.log(mel) if self.log_base is None else np.log(mel) / np.log(self.log_base)
        if self.mean is not None:
            feats = feats - self.mean
        if self.std is not None:
            feats = feats / self.std
        return feats.astype(np.float32)


class LogMelFeatures:
    """Feed waveform pieces, get the feature frames (k, n_mels) they complete."""

    def __init__(self, settings: LogMelSettings):
        self.settings = settings
        self.framer = WaveformFramer(settings.n_fft, settings.hop, settings.center)

    @property
    def num_samples(self) -> int:
        return self.framer.num_samples

    def reset(self) -> None:
        self.framer.reset()

    def accept_waveform(self, samples) -> np.ndarray:
        return self.settings.frames(self.framer.accept_waveform(samples))

    def finalize(self) -> np.ndarray:
        return self.settings.frames(self.framer.finalize())

    def whole(self, speech) -> np.ndarray:
        """Offline features (T, n_mels) of a whole waveform (the same frames as streaming)."""
        self.reset()
        feats = np.concatenate([self.accept_waveform(speech), self.finalize()])
        self.reset()
        return feats
