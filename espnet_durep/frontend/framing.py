"""Cut a waveform that arrives in pieces into the segments of complete STFT frames.

ESPnet's ``DefaultFrontend`` computes a centred STFT: frame ``t`` is centred on sample
``t * hop`` and the signal is reflect-padded by ``n_fft // 2`` at both ends.  So frames can
be produced as audio arrives:

* the left reflect padding needs only the first ``n_fft // 2 + 1`` samples;
* frame ``t`` is complete once sample ``t * hop + n_fft // 2 - 1`` has arrived (the STFT
  look-ahead);
* the right reflect padding needs the end of the signal, so the last frames come from
  :meth:`WaveformFramer.finalize`.

:class:`WaveformFramer` returns, per call, the (padded) samples that hold exactly the newly
complete frames: an STFT with ``center=False`` over them gives those frames.  Only the samples
of frames not yet returned are kept, so memory and work per call do not grow with the length
of the utterance.
"""
from __future__ import annotations

import numpy as np


class WaveformFramer:
    """Feed samples, get the segment (n,) whose ``center=False`` STFT gives the new frames.

    Args:
        n_fft: STFT window length in samples (after padding the analysis window).
        hop: frame shift in samples.
        center: frames centred on ``t * hop`` with reflect padding (ESPnet's default).
    """

    def __init__(self, n_fft: int, hop: int, center: bool = True):
        if n_fft < 1 or hop < 1:
            raise ValueError(f"n_fft and hop must be >= 1, got {n_fft}, {hop}")
        self.n_fft, self.hop, self.center = int(n_fft), int(hop), bool(center)
        self.pad = self.n_fft // 2 if self.center else 0
        self.reset()

    @property
    def lookahead_samples(self) -> int:
        """Samples after a frame's centre that its window reads."""
        return self.n_fft - self.pad if self.center else self.n_fft

    def reset(self) -> None:
        empty = np.zeros(0, dtype=np.float32)
        self._buf = empty  # samples from the start of the next frame on
        self._head = empty  # first samples, until the left padding can be made
        self._tail = empty  # last pad + 1 samples (right reflect padding)
        self._started = not self.center
        self.num_samples = 0
        self.num_frames = 0

    def _consume(self) -> np.ndarray:
        n = 0 if self._buf.size < self.n_fft else (self._buf.size - self.n_fft) // self.hop + 1
        if n == 0:
            return self._buf[:0]
        segment = self._buf[: (n - 1) * self.hop + self.n_fft]
        self._buf = self._buf[n * self.hop:]
        self.num_frames += n
        return segment

    def accept_waveform(self, samples) -> np.ndarray:
        """samples: (n,) in [-1, 1] -> the segment of the newly complete frames (maybe empty)."""
        samples = np.asarray(samples, dtype=np.float32).reshape(-1)
        self.num_samples += samples.size
        if self.pad:
            self._tail = np.concatenate([self._tail, samples])[-(self.pad + 1):]
        if not self._started:
            self._head = np.concatenate([self._head, samples])
            if self._head.size <= self.pad:
                return self._buf[:0]
            samples = np.concatenate([self._head[1: self.pad + 1][::-1], self._head])
            self._head, self._started = self._head[:0], True
        self._buf = np.concatenate([self._buf, samples])
        return self._consume()

    def finalize(self) -> np.ndarray:
        """End of audio: the segment of the remaining frames, with the right reflect padding."""
        if not self._started:
            raise ValueError(f"audio of {self.num_samples} samples is too short for an STFT with n_fft "
                             f"{self.n_fft} (needs more than {self.pad} samples)")
        if self.pad:
            self._buf = np.concatenate([self._buf, self._tail[:-1][::-1][: self.pad]])
        return self._consume()
