"""Incremental log-mel features equal to the model's offline frontend.

ESPnet's ``DefaultFrontend`` computes a centred STFT, a power spectrum and log-mel
filterbanks; ``GlobalMVN`` then normalises each frame.  Every step after the STFT is per
frame, so :class:`~espnet_durep.frontend.framing.WaveformFramer` cuts the arriving audio
into the segments of complete frames and this module runs the model's own modules on them.
"""
from __future__ import annotations

from typing import Optional

import torch
from espnet2.asr.frontend.default import DefaultFrontend

from espnet_durep.frontend.framing import WaveformFramer


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
        self.window = getattr(torch, f"{stft.window}_window")(self.win_length) if stft.window else None
        self.framer = WaveformFramer(self.n_fft, self.hop, self.center)

    @property
    def sample_rate(self) -> int:
        return int(self.frontend.logmel.mel_options["sr"])

    @property
    def lookahead_samples(self) -> int:
        """Samples after a frame's centre that its window reads."""
        return self.framer.lookahead_samples

    @property
    def num_samples(self) -> int:
        return self.framer.num_samples

    @property
    def num_frames(self) -> int:
        return self.framer.num_frames

    def reset(self) -> None:
        self.framer.reset()

    def _frames(self, segment) -> torch.Tensor:
        """Feature frames (k, D) of every full window in ``segment`` (n,)."""
        if segment.size < self.n_fft:
            return torch.zeros(0, self.frontend.output_size())
        device = self.frontend.logmel.melmat.device  # the model's device; the buffers stay on the CPU
        window = None if self.window is None else self.window.to(device)
        spec = torch.stft(torch.from_numpy(segment)[None].to(device), n_fft=self.n_fft, hop_length=self.hop,
                          win_length=self.win_length, window=window, center=False, normalized=self.normalized,
                          onesided=self.onesided, return_complex=True)  # (1, F, k)
        power = spec.real**2 + spec.imag**2
        power = power.transpose(1, 2)  # (1, k, F)
        lengths = torch.tensor([power.size(1)])
        feats, _ = self.frontend.logmel(power, lengths)
        if self.normalize is not None:
            feats, _ = self.normalize(feats, lengths)
        return feats[0].cpu()

    @torch.no_grad()
    def accept_waveform(self, samples) -> torch.Tensor:
        """samples: (n,) float in [-1, 1] -> (k, D) newly completed feature frames."""
        samples = torch.as_tensor(samples, dtype=torch.float32).reshape(-1).cpu().numpy()
        return self._frames(self.framer.accept_waveform(samples))

    @torch.no_grad()
    def finalize(self) -> torch.Tensor:
        """End of audio: the remaining frames (k, D), using the right reflect padding."""
        return self._frames(self.framer.finalize())
