"""Streaming features equal the model's offline frontend (+ global MVN) for any piece sizes."""
import numpy as np
import pytest
import torch
from espnet2.asr.frontend.default import DefaultFrontend
from espnet2.layers.global_mvn import GlobalMVN

from espnet_durep.inference.frontend import StreamingFeatures


def _offline(frontend, normalize, wave):
    feats, lens = frontend(wave[None], torch.tensor([wave.numel()]))
    if normalize is not None:
        feats, lens = normalize(feats, lens)
    return feats[0]


def _streamed(features, wave, pieces):
    out, start = [], 0
    for n in pieces:
        out.append(features.accept_waveform(wave[start:start + n]))
        start += n
    out.append(features.accept_waveform(wave[start:]))
    out.append(features.finalize())
    return torch.cat(out)


@pytest.fixture
def stats_file(tmp_path):
    rng = np.random.default_rng(0)
    n_mels = 40
    count = 100.0
    mean, var = rng.normal(size=n_mels), rng.uniform(0.5, 2.0, size=n_mels)
    path = tmp_path / "feats_stats.npz"
    np.savez(path, count=count, sum=mean * count, sum_square=(var + mean**2) * count)
    return path


@pytest.mark.parametrize("win_length,hop", [(400, 160), (512, 128), (None, 256)])
@pytest.mark.parametrize("pieces", [[1, 1, 300], [160] * 20, [5000], [17, 999, 3, 4000]])
def test_streaming_features_equal_offline(win_length, hop, pieces, stats_file):
    frontend = DefaultFrontend(n_fft=512, win_length=win_length, hop_length=hop, n_mels=40).eval()
    normalize = GlobalMVN(stats_file)
    wave = 0.1 * torch.randn(12345, generator=torch.Generator().manual_seed(1))
    offline = _offline(frontend, normalize, wave)
    streamed = _streamed(StreamingFeatures(frontend, normalize), wave, pieces)
    assert streamed.shape == offline.shape
    torch.testing.assert_close(streamed, offline, atol=1e-5, rtol=1e-5)


def test_frames_come_out_as_soon_as_their_window_is_complete():
    frontend = DefaultFrontend(n_fft=512, win_length=400, hop_length=160, n_mels=40).eval()
    features = StreamingFeatures(frontend)
    assert features.lookahead_samples == 256
    assert features.accept_waveform(torch.zeros(256)).size(0) == 0  # frame 0 needs sample 255 and one more for the reflection
    assert features.accept_waveform(torch.zeros(1)).size(0) == 1
    assert features.accept_waveform(torch.zeros(159)).size(0) == 1  # frame 1 ends at 160 + 256
    assert features.num_frames == 2


def test_buffer_stays_bounded_on_long_audio():
    frontend = DefaultFrontend(n_fft=512, win_length=400, hop_length=160, n_mels=40).eval()
    features = StreamingFeatures(frontend)
    for _ in range(200):
        features.accept_waveform(torch.zeros(1600))
    assert features.framer._buf.size < 512 + 1600


def test_too_short_audio_is_a_clear_error():
    features = StreamingFeatures(DefaultFrontend(n_fft=512, hop_length=160, n_mels=40).eval())
    features.accept_waveform(torch.zeros(100))
    with pytest.raises(ValueError, match="too short"):
        features.finalize()
