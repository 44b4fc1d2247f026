"""WaveformFramer: the segments it returns hold exactly the centred STFT's frames."""
import numpy as np
import pytest
import torch

from espnet_durep.frontend.framing import WaveformFramer


@pytest.mark.parametrize("center", [True, False])
@pytest.mark.parametrize("pieces", [[1] * 40 + [5000], [160] * 40, [9999]])
def test_segments_give_the_frames_of_the_whole_signal(center, pieces):
    n_fft, hop = 64, 16
    wave = np.random.default_rng(0).normal(size=sum(pieces)).astype(np.float32)
    whole = torch.stft(torch.from_numpy(wave), n_fft, hop, window=torch.hann_window(n_fft), center=center,
                       return_complex=True).abs().T
    framer, frames, start = WaveformFramer(n_fft, hop, center), [], 0
    for n in pieces:
        frames.append(framer.accept_waveform(wave[start:start + n]))
        start += n
    frames.append(framer.finalize())
    got = [torch.stft(torch.from_numpy(s.copy()), n_fft, hop, window=torch.hann_window(n_fft), center=False,
                      return_complex=True).abs().T for s in frames if s.size >= n_fft]
    torch.testing.assert_close(torch.cat(got), whole, atol=1e-4, rtol=1e-4)
    assert framer.num_frames == whole.size(0)


def test_too_short_audio_is_a_clear_error():
    framer = WaveformFramer(512, 160)
    framer.accept_waveform(np.zeros(100, dtype=np.float32))
    with pytest.raises(ValueError, match="too short"):
        framer.finalize()
