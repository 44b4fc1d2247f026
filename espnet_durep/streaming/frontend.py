"""Incremental log-mel features equal to the model's offline frontend.

ESPnet's ``DefaultFrontend`` computes a centred STFT (frame ``t`` is centred on sample
``t * hop`` and the signal is reflect-padded by ``n_fft // 2`` at both ends), a power
spectrum and log-mel filterbanks; ``GlobalMVN`` then normalises each frame.  Every step
after the STFT is per frame, so features can be produced as audio arrives:

* the left reflect padding needs only the first ``n_fft // 2 + 1`` samples;
* frame ``t`` is ready once sample ``t * hop + n_fft // 2 - 1`` has arrived (the STFT
  look-ahead, :attr:`lookahead_samples`);
* the right reflect padding needs the end of the signal, so the last frames come from
  :meth:`StreamingFeatures.finalize`.

Only the samples of frames not yet computed are kept, so memory and work per call do
not grow with the length of the utterance.
"""
from __future__ import annotations

from typing import Optional

import torch
from espnet2.asr.frontend.default import DefaultFrontend


class StreamingFeatures:
    """Feed waveform pieces, get the feature frames they complete.

    Args:
        frontend: the model's ``DefaultFrontend`` (its STFT and log-mel settings are used).
        normalize: the model's feature normaliser (e.g. ``GlobalMVN``) or None.
    """

    def __init__(self, frontend: DefaultFrontend, normalize: Optional[torch.nn.Module] = None):
        # (its optional WPE/beamformer front-end acts on multi-channel input only: mono passes through)
        if not isinstance(frontend, DefaultFrontend) or frontend.stft is None:
            raise ValueError(f"streaming features need ESPnet's default STFT/log-mel frontend; "
                             f"this model has {type(frontend).__name__}")
        stft = frontend.stft
        self.frontend = frontend
        self.normalize = normalize
        self.n_fft, self.hop, self.win_length = stft.n_fft, stft.hop_length, stft.win_length or stft.n_fft
        self.center, self.normalized, self.onesided = stft.center, stft.normalized, stft.onesided
        self.pad = self.n_fft // 2 if self.center else 0
        window = getattr(torch, f"{stft.window}_window")(self.win_length) if stft.window else None
        self.window = window
        self.reset()

    @property
    def sample_rate(self) -> int:
        return int(self.frontend.logmel.mel_options["sr"])

    @property
    def lookahead_samples(self) -> int:
        """Samples after a frame's centre that its window reads."""
        return self.n_fft - self.pad if self.center else self.n_fft

    def reset(self) -> None:
        self._buf = torch.zeros(0)  # samples from the start of the next frame on
        self._head = torch.zeros(0)  # first samples, until the left padding can be made
        self._tail = torch.zeros(0)  # last pad + 1 samples (right reflect padding)
        self._started = not self.center
        self.num_samples = 0
        self.num_frames = 0

    def _frames(self, signal: torch.Tensor) -> torch.Tensor:
        """Feature frames of every full window in ``signal`` (n,) -> (k, D)."""
        if signal.numel() < self.n_fft:
            return torch.zeros(0, self.frontend.output_size())
        device = self.frontend.logmel.melmat.device  # the model's device; the buffers stay on the CPU
        window = None if self.window is None else self.window.to(device)
        spec = torch.stft(signal[None].to(device), n_fft=self.n_fft, hop_length=self.hop, win_length=self.win_length,
                          window=window, center=False, normalized=self.normalized,
                          onesided=self.onesided, return_complex=True)  # (1, F, k)
        power = spec.real**2 + spec.imag**2
        power = power.transpose(1, 2)  # (1, k, F)
        lengths = torch.tensor([power.size(1)])
        feats, _ = self.frontend.logmel(power, lengths)
        if self.normalize is not None:
            feats, _ = self.normalize(feats, lengths)
        return feats[0].cpu()

    def _consume(self) -> torch.Tensor:
        n = 0 if self._buf.numel() < self.n_fft else (self._buf.numel() - self.n_fft) // self.hop + 1
        if n == 0:
            return torch.zeros(0, self.frontend.output_size())
        feats = self._frames(self._buf[: (n - 1) * self.hop + self.n_fft])
        self._buf = self._buf[n * self.hop:]
        self.num_frames += n
        return feats

    @torch.no_grad()
    def accept_waveform(self, samples: torch.Tensor) -> torch.Tensor:
        """samples: (n,) float in [-1, 1] -> (k, D) newly completed feature frames."""
        samples = torch.as_tensor(samples, dtype=torch.float32).reshape(-1)
        self.num_samples += samples.numel()
        if self.pad:
            self._tail = torch.cat([self._tail, samples])[-(self.pad + 1):]
        if not self._started:
            self._head = torch.cat([self._head, samples])
            if self._head.numel() <= self.pad:
                return torch.zeros(0, self.frontend.output_size())
            samples = torch.cat([self._head[1: self.pad + 1].flip(0), self._head])
            self._head, self._started = torch.zeros(0), True
        self._buf = torch.cat([self._buf, samples])
        return self._consume()

    @torch.no_grad()
    def finalize(self) -> torch.Tensor:
        """End of audio: the remaining frames (k, D), using the right reflect padding."""
        if not self._started:
            raise ValueError(f"audio of {self.num_samples} samples is too short for an STFT with n_fft "
                             f"{self.n_fft} (needs more than {self.pad} samples)")
        if self.pad:
            self._buf = torch.cat([self._buf, self._tail[:-1].flip(0)[: self.pad]])
        return self._consume()
