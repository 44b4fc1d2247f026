"""DualModeConvolution: each conv_mode against a per-tap loop reference, cache streaming."""
from __future__ import annotations

import copy

import pytest
import torch

from espnet_durep.layers.dual_mode_conv import CONV_MODES, DualModeConvolution

torch.set_num_threads(1)  # tiny tensors: extra threads only add contention

C, K = 3, 5
P = (K - 1) // 2


def make_conv(mode: str, seed: int = 0) -> DualModeConvolution:
    torch.manual_seed(seed)
    conv = DualModeConvolution(C, K, mode).eval()
    with torch.no_grad():
        conv.depthwise.bias.normal_()
    return conv


def reference_depthwise(conv: DualModeConvolution, h: torch.Tensor, streaming: bool, chunk: int) -> torch.Tensor:
    """Loop over output frames and taps; h: (B, C, T) already zeroed at padding."""
    w, b = conv.depthwise.weight[:, 0], conv.depthwise.bias  # (C, K), (C,)
    _, _, t = h.shape
    y = b[None, :, None].repeat(h.size(0), 1, t)
    for i in range(t):
        for k in range(K):
            if conv.conv_mode == "causal":
                j = i + k - (K - 1)
            else:
                j = i + k - P
                if streaming and conv.conv_mode == "dual" and j > i:
                    continue
                if streaming and conv.conv_mode == "chunk" and j >= (i // chunk + 1) * chunk:
                    continue
            if 0 <= j < t:
                y[:, :, i] += w[:, k] * h[:, :, j]
    return y


@pytest.mark.parametrize("mode", CONV_MODES)
@pytest.mark.parametrize("streaming,chunk", [(False, 0), (True, 1), (True, 3), (True, 4), (True, 20)])
def test_depthwise_matches_loop_reference(mode, streaming, chunk):
    conv = make_conv(mode)
    h = torch.randn(2, C, 11)
    got = conv._depthwise(h, streaming, chunk)
    torch.testing.assert_close(got, reference_depthwise(conv, h, streaming, chunk), atol=1e-5, rtol=1e-5)


def test_dual_streaming_equals_conv_with_future_taps_zeroed():
    conv = make_conv("dual")
    zeroed = copy.deepcopy(conv)
    with torch.no_grad():
        zeroed.depthwise.weight[..., P + 1:] = 0.0
    x, valid = torch.randn(2, 9, C), torch.ones(2, 9, dtype=torch.bool)
    streamed = conv(x, valid, streaming=True, chunk_size=3)
    torch.testing.assert_close(streamed, zeroed(x, valid, streaming=False, chunk_size=0), atol=1e-6, rtol=1e-6)
    assert not torch.allclose(streamed, conv(x, valid, streaming=False, chunk_size=0), atol=1e-3)


@pytest.mark.parametrize("chunk", [9, 10, 50])
def test_chunk_mode_with_chunk_covering_sequence_equals_full(chunk):
    conv = make_conv("chunk")
    x, valid = torch.randn(2, 9, C), torch.ones(2, 9, dtype=torch.bool)
    torch.testing.assert_close(conv(x, valid, True, chunk), conv(x, valid, False, 0), atol=1e-6, rtol=1e-6)


def test_causal_mode_is_the_same_in_both_modes():
    conv = make_conv("causal")
    x, valid = torch.randn(2, 9, C), torch.ones(2, 9, dtype=torch.bool)
    torch.testing.assert_close(conv(x, valid, True, 2), conv(x, valid, False, 0))


@pytest.mark.parametrize("mode", CONV_MODES)
def test_padding_frames_do_not_leak_into_valid_frames(mode):
    conv = make_conv(mode)
    x = torch.randn(1, 9, C)
    valid = torch.arange(9)[None] < 6
    garbage = x.clone()
    garbage[:, 6:] = 100.0
    for streaming, chunk in [(False, 0), (True, 4)]:
        a = conv(x, valid, streaming, chunk)[:, :6]
        b = conv(garbage, valid, streaming, chunk)[:, :6]
        torch.testing.assert_close(a, b)
        torch.testing.assert_close(a, conv(x[:, :6], valid[:, :6], streaming, chunk))


@pytest.mark.parametrize("mode", CONV_MODES)
@pytest.mark.parametrize("chunk", [1, 3, 4])
def test_forward_chunk_with_cache_equals_streaming_forward(mode, chunk):
    conv = make_conv(mode)
    t = 10  # last chunk is partial for chunk 3 and 4
    x = torch.randn(2, t, C)
    expected = conv(x, torch.ones(2, t, dtype=torch.bool), streaming=True, chunk_size=chunk)
    cache = torch.zeros(2, C, conv.cache_frames)
    outs = []
    for start in range(0, t, chunk):
        y, cache = conv.forward_chunk(x[:, start:start + chunk], cache)
        assert cache.shape == (2, C, conv.cache_frames)
        outs.append(y)
    torch.testing.assert_close(torch.cat(outs, dim=1), expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("mode,frames", [("causal", K - 1), ("dual", P), ("chunk", P)])
def test_cache_frames(mode, frames):
    assert DualModeConvolution(C, K, mode).cache_frames == frames


def test_bad_options_are_rejected():
    with pytest.raises(ValueError, match="conv_mode"):
        DualModeConvolution(C, K, "lookahead")
    with pytest.raises(ValueError, match="odd"):
        DualModeConvolution(C, 4, "dual")
