"""DualModeConformerEncoder: streaming exactness, no future leakage, bounded caches, ESPnet contract."""
from __future__ import annotations

import itertools

import pytest
import torch
import yaml
from espnet.nets.pytorch_backend.transformer.subsampling import TooShortUttError

import espnet_durep.tasks.durep  # noqa: F401  (the task registers the encoder)
from espnet_durep.encoder.dual_mode_conformer import DualModeConformerEncoder
from espnet_durep.layers.dual_mode_conv import CONV_MODES
from espnet_durep.layers.subsampling import SUBSAMPLING_LAYOUTS

torch.set_num_threads(1)  # tiny tensors: extra threads only add contention

IDIM = 20
INPUT_LAYERS = sorted(SUBSAMPLING_LAYOUTS)
TINY = dict(output_size=16, attention_heads=2, linear_units=32, num_blocks=2, cnn_module_kernel=5,
            dropout_rate=0.0, positional_dropout_rate=0.0, attention_dropout_rate=0.0)
# input_layer -> ESPnet's output length for n input frames (its mask slicing, written out)
ESPNET_OLENS = {
    "conv2d": lambda n: ((n - 1) // 2 - 1) // 2,
    "conv2d6": lambda n: ((n - 1) // 2 - 2) // 3,
    "conv2d8": lambda n: (((n - 1) // 2 - 1) // 2 - 1) // 2,
}


def make_encoder(conv_mode: str = "chunk", input_layer: str = "conv2d", seed: int = 0, **overrides):
    torch.manual_seed(seed)
    options = {**TINY, "conv_mode": conv_mode, "input_layer": input_layer, **overrides}
    return DualModeConformerEncoder(IDIM, **options).eval()


def padded_batch(lengths, seed: int = 1, pad_value: float = 0.0):
    g = torch.Generator().manual_seed(seed)
    x = torch.full((len(lengths), max(lengths), IDIM), pad_value)
    for b, n in enumerate(lengths):
        x[b, :n] = torch.randn(n, IDIM, generator=g)
    return x, torch.tensor(lengths)


both_variants = pytest.mark.parametrize("conv_mode,input_layer", list(itertools.product(CONV_MODES, INPUT_LAYERS)))


# ----------------------------------------------------------------------- exactness
@both_variants
def test_streaming_forward_equals_masked_streaming_forward(conv_mode, input_layer):
    """Chunk-by-chunk with caches == masked ``forward`` on a padded batch (per utterance)."""
    enc = make_encoder(conv_mode, input_layer)
    s, r = enc.subsampling, enc.embed.receptive_field
    lengths = [37 * s + r, 29 * s + r - 3]  # chunk 16: 3 and 2 chunks, the last one partial
    x, ilens = padded_batch(lengths)
    with torch.no_grad():
        for chunk, left in itertools.product([1, 4, 16], [-1, 0, 2]):
            ys, olens, _ = enc(x, ilens, mode="streaming", chunk_size=chunk, num_left_chunks=left)
            # default feed = one chunk of features; 7 and 1 frames straddle chunk boundaries
            feeds = [None] + ([7] if chunk == 4 else []) + ([1] if left == 2 and chunk == 4 else [])
            for b, n in enumerate(lengths):
                for feed in feeds:
                    got = enc.streaming_forward(x[b:b + 1, :n], chunk, left, feed_frames=feed)
                    assert got.shape == (1, int(olens[b]), enc.output_size())
                    torch.testing.assert_close(
                        got[0], ys[b, :olens[b]], atol=1e-4, rtol=1e-4,
                        msg=lambda m: f"chunk={chunk} left={left} utt={b} feed={feed}: {m}")


@pytest.mark.parametrize("left", [-1, 0, 3])
def test_cached_keys_values_stay_bounded(left):
    enc = make_encoder()
    chunk = 2
    cache = enc.init_cache(1, chunk, left)
    x = torch.randn(1, 400, IDIM)
    emitted = 0
    with torch.no_grad():
        for start in range(0, 400, 13):
            emitted += enc.accept_feats(x[:, start:start + 13], cache)[0].size(1)
            n_layers, batch, heads, cached, width = cache.att_cache.shape
            assert (n_layers, batch, heads, width) == (len(enc.encoders), 1, 2, 2 * enc.encoders[0].self_attn.d_k)
            assert cached == (min(emitted, left * chunk) if left >= 0 else emitted)
            assert cache.cnn_cache.shape == (len(enc.encoders), 1, enc.output_size(), enc.encoders[0].conv.cache_frames)
            assert cache.feats.size(1) < enc.chunk_window(chunk)  # only an unfinished chunk window
    assert emitted > 10 * left * chunk


@both_variants
def test_tensor_chunk_step_equals_the_buffered_stream(conv_mode, input_layer):
    """forward_chunk on explicit windows and stacked caches gives the masked stream pass, and
    one step advances a batch of streams exactly as each stream alone."""
    enc = make_encoder(conv_mode=conv_mode, input_layer=input_layer)
    chunk, left = 3, 1
    window, hop = enc.chunk_window(chunk), chunk * enc.subsampling
    x = torch.randn(2, window + 4 * hop, IDIM)
    with torch.no_grad():
        expected, _, _ = enc(x, torch.tensor([x.size(1)] * 2), mode="streaming", chunk_size=chunk, num_left_chunks=left)
        cache = enc.init_cache(2, chunk, left)
        att, cnn, outs = cache.att_cache, cache.cnn_cache, []
        for start in range(0, x.size(1) - window + 1, hop):
            ys, att, cnn = enc.forward_chunk(x[:, start:start + window], left * chunk, att, cnn)
            assert ys.size(1) == chunk and att.size(3) <= left * chunk
            outs.append(ys)
        alone, _, _ = enc.forward_chunk(x[1:, :window], left * chunk, cache.att_cache[:, 1:], cache.cnn_cache[:, 1:])
    torch.testing.assert_close(torch.cat(outs, dim=1), expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(alone, outs[0][1:], atol=1e-5, rtol=1e-5)


class ChunkStep(torch.nn.Module):
    """``forward_chunk`` with its left context fixed, as an exporter would wrap it."""

    def __init__(self, enc, required_cache_size: int):
        super().__init__()
        self.enc, self.required_cache_size = enc, required_cache_size

    def forward(self, xs, att_cache, cnn_cache):
        return self.enc.forward_chunk(xs, self.required_cache_size, att_cache, cnn_cache)


def test_tensor_chunk_step_traces_and_replays_with_new_cache_contents():
    """torch.jit.trace of one step (the route to ONNX) reproduces eager steps on new inputs."""
    enc = make_encoder()
    chunk, left = 2, 2
    window = enc.chunk_window(chunk)
    cache = enc.init_cache(1, chunk, left)
    x = torch.randn(1, window + 40 * chunk * enc.subsampling, IDIM)
    with torch.no_grad():
        att, cnn = cache.att_cache, cache.cnn_cache
        for start in range(0, 3 * chunk * enc.subsampling, chunk * enc.subsampling):  # fill the left context
            _, att, cnn = enc.forward_chunk(x[:, start:start + window], left * chunk, att, cnn)
        step = torch.jit.trace(ChunkStep(enc, left * chunk), (x[:, :window], att, cnn), check_trace=False)
        for start in range(3 * chunk * enc.subsampling, 10 * chunk * enc.subsampling, chunk * enc.subsampling):
            got = step(x[:, start:start + window], att, cnn)
            want = enc.forward_chunk(x[:, start:start + window], left * chunk, att, cnn)
            for g, w in zip(got, want):
                torch.testing.assert_close(g, w, atol=1e-5, rtol=1e-5)
            att, cnn = want[1], want[2]


@pytest.mark.parametrize("conv_mode", CONV_MODES)
def test_chunk_step_scripts_with_torchscript_for_every_chunk_and_left_context(conv_mode):
    """One scripted step (no trace-time sizes) equals the eager step at chunk sizes 1-3, left 0/2/all."""
    enc = make_encoder(conv_mode)
    scripted = torch.jit.script(ChunkStep(enc, -1))
    with torch.no_grad():
        for chunk, left in ((1, 0), (2, 2), (3, -1)):
            window, cache = enc.chunk_window(chunk), enc.init_cache(1, chunk, left)
            x = torch.randn(1, window + 5 * chunk * enc.subsampling, IDIM)
            att, cnn = cache.att_cache, cache.cnn_cache
            for start in range(0, 5 * chunk * enc.subsampling, chunk * enc.subsampling):
                want = enc.forward_chunk(x[:, start:start + window], cache.required_cache_size, att, cnn)
                got = scripted(x[:, start:start + window], att, cnn)
                keep = got[1].size(3) if left < 0 else min(got[1].size(3), left * chunk)
                torch.testing.assert_close(got[0], want[0], atol=1e-5, rtol=1e-5)
                torch.testing.assert_close(got[1][:, :, :, got[1].size(3) - keep:], want[1], atol=1e-5, rtol=1e-5)
                att, cnn = want[1], want[2]


# ---------------------------------------------------------------------- look-ahead
@both_variants
def test_no_future_leakage_and_tight_lookahead(conv_mode, input_layer):
    enc = make_encoder(conv_mode, input_layer)
    chunk, s, look = 2, enc.subsampling, enc.embed.lookahead_frames
    x = torch.randn(1, 6 * chunk * s + enc.embed.receptive_field, IDIM)
    ilens = torch.tensor([x.size(1)])

    def encode(feats, mode):
        with torch.no_grad():
            return enc(feats, ilens, mode=mode, chunk_size=chunk, num_left_chunks=-1)[0]

    stream, full = encode(x, "streaming"), encode(x, "full")
    for k in range(4):
        seen = slice(0, (k + 1) * chunk)  # encoder frames of chunks 0..k
        first_unseen = (k + 1) * chunk * s + look
        future = x.clone()
        future[:, first_unseen:] += 3.0 * torch.randn_like(future[:, first_unseen:])
        torch.testing.assert_close(encode(future, "streaming")[:, seen], stream[:, seen], atol=1e-6, rtol=0)
        assert not torch.allclose(encode(future, "full")[:, seen], full[:, seen], atol=1e-3)
        last_needed = x.clone()
        last_needed[:, first_unseen - 1] += 3.0 * torch.randn(IDIM)
        assert not torch.allclose(encode(last_needed, "streaming")[:, seen], stream[:, seen], atol=1e-4), \
            f"frame {first_unseen - 1} is inside the documented look-ahead of chunk {k} but unused"


@pytest.mark.parametrize("input_layer,chunk_ms,lookahead_ms", [("conv2d", 40.0, 30.0), ("conv2d6", 60.0, 50.0),
                                                              ("conv2d8", 80.0, 70.0)])
def test_chunk_and_lookahead_milliseconds(input_layer, chunk_ms, lookahead_ms):
    enc = make_encoder(input_layer=input_layer)
    assert enc.chunk_ms(1) == chunk_ms
    assert enc.chunk_ms(16) == 16 * chunk_ms
    assert enc.lookahead_ms == lookahead_ms
    assert enc.embed.receptive_field == {"conv2d": 7, "conv2d6": 11, "conv2d8": 15}[input_layer]


# ------------------------------------------------------------------ ESPnet contract
@pytest.mark.parametrize("input_layer", INPUT_LAYERS)
def test_output_size_and_lengths_follow_espnet(input_layer):
    enc = make_encoder(input_layer=input_layer)
    assert enc.output_size() == TINY["output_size"]
    lengths = [15, 16, 23, 40, 41, 57]
    x, ilens = padded_batch(lengths)
    with torch.no_grad():
        ys, olens, states = enc(x, ilens)
    assert states is None
    assert olens.tolist() == [ESPNET_OLENS[input_layer](n) for n in lengths]
    assert ys.shape == (len(lengths), max(olens), enc.output_size())


@pytest.mark.parametrize("mode", ["full", "streaming"])
@pytest.mark.parametrize("conv_mode", CONV_MODES)
def test_padded_batch_equals_each_utterance_alone(mode, conv_mode):
    enc = make_encoder(conv_mode)
    lengths = [61, 40, 27]
    x, ilens = padded_batch(lengths, pad_value=50.0)  # loud padding must not leak
    with torch.no_grad():
        ys, olens, _ = enc(x, ilens, mode=mode, chunk_size=3)
        for b, n in enumerate(lengths):
            alone, alone_len, _ = enc(x[b:b + 1, :n], ilens[b:b + 1], mode=mode, chunk_size=3)
            assert int(alone_len) == int(olens[b])
            torch.testing.assert_close(ys[b, :olens[b]], alone[0], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("input_layer", INPUT_LAYERS)
def test_too_short_input_raises_espnet_error(input_layer):
    enc = make_encoder(input_layer=input_layer)
    r = enc.embed.receptive_field
    short = torch.randn(1, r - 1, IDIM)
    with pytest.raises(TooShortUttError) as err:
        enc(short, torch.tensor([r - 1]))
    assert err.value.limit == r and err.value.actual_size == r - 1
    with pytest.raises(TooShortUttError):
        enc.streaming_forward(short)
    with torch.no_grad():
        ys, olens, _ = enc(torch.randn(1, r, IDIM), torch.tensor([r]))
    assert olens.tolist() == [1] and ys.shape[1] == 1


def test_registered_and_buildable_from_yaml():
    from espnet2.tasks.asr import encoder_choices

    assert encoder_choices.classes["dual_mode_conformer"] is DualModeConformerEncoder
    conf = """
output_size: 16
attention_heads: 2
linear_units: 32
num_blocks: 2
cnn_module_kernel: 3
input_layer: conv2d6
conv_mode: dual
chunk_size: 4
num_left_chunks: 2
dynamic_chunk_range: [2, 5]
"""
    enc = encoder_choices.get_class("dual_mode_conformer")(input_size=IDIM, **yaml.safe_load(conf))
    assert isinstance(enc, DualModeConformerEncoder)
    assert (enc.output_size(), enc.subsampling, len(enc.encoders)) == (16, 6, 2)
    assert (enc.chunk_size, enc.num_left_chunks, enc.dynamic_chunk_range) == (4, 2, (2, 5))
    assert enc.encoders[0].conv.conv_mode == "dual"


@pytest.mark.parametrize("options,message", [
    ({"input_layer": "conv1d"}, "input_layer"),
    ({"default_mode": "online"}, "default_mode"),
    ({"chunk_size": 0}, "chunk_size"),
    ({"dynamic_chunk_range": (3, 2)}, "dynamic_chunk_range"),
    ({"conv_mode": "future"}, "conv_mode"),
    ({"cnn_module_kernel": 4}, "cnn_module_kernel"),
])
def test_bad_options_name_the_option(options, message):
    with pytest.raises(ValueError, match=message):
        make_encoder(**{"conv_mode": "chunk", **options})


def test_bad_mode_and_layers_are_rejected():
    enc = make_encoder()
    x, ilens = padded_batch([30])
    with pytest.raises(ValueError, match="mode"):
        enc(x, ilens, mode="offline")
    with pytest.raises(ValueError, match="return_layers"):
        enc(x, ilens, return_layers=[3])


def test_legacy_mode_name_warns_and_equals_streaming():
    """``mode="stream"`` (the old name) still runs streaming mode, with a deprecation warning."""
    enc = make_encoder()
    x, ilens = padded_batch([60, 45])
    with torch.no_grad():
        want = enc(x, ilens, mode="streaming", chunk_size=2, num_left_chunks=1)[0]
        with pytest.warns(DeprecationWarning, match="mode: 'stream' is deprecated, write 'streaming' instead"):
            got = enc(x, ilens, mode="stream", chunk_size=2, num_left_chunks=1)[0]
    torch.testing.assert_close(got, want, atol=0, rtol=0)
    with pytest.warns(DeprecationWarning, match="default_mode"):
        legacy = make_encoder(default_mode="stream")
    assert legacy.default_mode == "streaming"


def test_unknown_modes_name_the_option_the_value_and_the_choices():
    enc = make_encoder()
    x, ilens = padded_batch([30])
    with pytest.raises(ValueError, match=r"^mode must be one of \('full', 'streaming'\), got 'offline'$"):
        enc(x, ilens, mode="offline")
    with pytest.raises(ValueError, match=r"^default_mode must be one of \('full', 'streaming'\), got 'online'$"):
        make_encoder(default_mode="online")


def test_return_layers_gives_intermediate_blocks():
    enc = make_encoder()
    x, ilens = padded_batch([40, 30])
    with torch.no_grad():
        ys, _, layers = enc(x, ilens, return_layers=(0, 2))
        assert sorted(layers) == [0, 2]
        assert layers[0].shape == layers[2].shape == ys.shape
        torch.testing.assert_close(enc.after_norm(layers[2]), ys)
        torch.testing.assert_close(layers[0], enc.embed(x))


# ------------------------------------------------------------------- both modes
@pytest.mark.parametrize("conv_mode", CONV_MODES)
def test_gradient_reaches_every_parameter_in_both_modes(conv_mode):
    enc = make_encoder(conv_mode).train()
    x, ilens = padded_batch([60, 45])
    for mode in ("full", "streaming"):
        enc.zero_grad(set_to_none=True)
        ys, olens, _ = enc(x, ilens, mode=mode, chunk_size=2, num_left_chunks=1)
        valid = torch.arange(ys.size(1))[None, :, None] < olens[:, None, None]
        (ys * torch.randn_like(ys)).masked_fill(~valid, 0.0).sum().backward()
        for name, p in enc.named_parameters():
            assert p.grad is not None and torch.isfinite(p.grad).all(), f"{mode}: {name}"
            assert p.grad.abs().sum() > 0, f"{mode}: no gradient reaches {name}"
        if mode == "streaming" and conv_mode == "dual":
            pad = enc.encoders[0].conv.pad
            for layer in enc.encoders:  # the future taps are unused when streaming
                assert torch.all(layer.conv.depthwise.weight.grad[..., pad + 1:] == 0)


@pytest.mark.parametrize("conv_mode", CONV_MODES)
def test_full_and_streaming_differ_unless_chunk_covers_utterance(conv_mode):
    enc = make_encoder(conv_mode)
    x, ilens = padded_batch([80])
    with torch.no_grad():
        full = enc(x, ilens, mode="full")[0]
        stream = enc(x, ilens, mode="streaming", chunk_size=4)[0]
        whole = enc(x, ilens, mode="streaming", chunk_size=full.size(1))[0]
    assert not torch.allclose(full, stream, atol=1e-3)
    if conv_mode == "dual":  # streaming always drops the conv's future taps
        assert not torch.allclose(full, whole, atol=1e-3)
    else:
        torch.testing.assert_close(whole, full, atol=1e-5, rtol=1e-5)


# ---------------------------------------------------------- dynamic chunk training
def test_dynamic_chunks_are_sampled_in_range_and_reproducible():
    enc = make_encoder(chunk_size=7, num_left_chunks=1, dynamic_chunk_range=(2, 5)).train()
    torch.manual_seed(0)
    draws = [enc.resolve_chunking("streaming", None, None) for _ in range(200)]
    assert {c for c, _ in draws} == {2, 3, 4, 5}
    assert {left for _, left in draws} == {1}
    torch.manual_seed(0)
    assert [enc.resolve_chunking("streaming", None, None) for _ in range(200)] == draws
    assert enc.resolve_chunking("streaming", 6, None) == (6, 1)  # an explicit chunk is not resampled
    assert enc.resolve_chunking("full", None, None) == (0, -1)


def test_dynamic_left_chunks_are_sampled_in_range():
    enc = make_encoder(dynamic_chunk_range=(1, 3), dynamic_left_chunks=True, left_chunks_range=(0, 2)).train()
    torch.manual_seed(0)
    draws = [enc.resolve_chunking("streaming", None, None) for _ in range(200)]
    assert {left for _, left in draws} == {0, 1, 2}
    assert {c for c, _ in draws} == {1, 2, 3}


def test_training_forward_uses_the_sampled_chunking():
    enc = make_encoder(dynamic_chunk_range=(1, 4), num_left_chunks=1).train()
    x, ilens = padded_batch([90, 70])
    for seed in range(3):
        torch.manual_seed(seed)
        chunk, left = enc.sample_chunking()
        torch.manual_seed(seed)
        sampled = enc(x, ilens, mode="streaming")[0]
        torch.testing.assert_close(sampled, enc(x, ilens, mode="streaming", chunk_size=chunk, num_left_chunks=left)[0])


def test_full_context_prob_one_always_gives_full_context():
    enc = make_encoder(full_context_prob=1.0).train()
    assert all(enc.resolve_chunking("streaming", None, None) == (0, -1) for _ in range(50))
    x, ilens = padded_batch([50])
    torch.testing.assert_close(enc(x, ilens, mode="streaming")[0], enc(x, ilens, mode="full")[0])


def test_eval_uses_configured_chunking():
    enc = make_encoder(chunk_size=3, num_left_chunks=2, dynamic_chunk_range=(5, 9), full_context_prob=1.0)
    assert not enc.training
    assert all(enc.resolve_chunking("streaming", None, None) == (3, 2) for _ in range(20))
    assert make_encoder(dynamic_chunk_training=False).train().resolve_chunking("streaming", None, None) == (16, -1)
    x, ilens = padded_batch([60])
    with torch.no_grad():
        default = enc(x, ilens, mode="streaming")[0]
        explicit = enc(x, ilens, mode="streaming", chunk_size=3, num_left_chunks=2)[0]
    torch.testing.assert_close(default, explicit, atol=0, rtol=0)


def test_streaming_layer_outputs_equal_the_masked_stream_pass():
    """accept_feats collects intermediate block outputs that equal forward(return_layers=...)."""
    enc = make_encoder()
    chunk, left, n = 2, 1, 90
    x = torch.randn(1, n, IDIM)
    with torch.no_grad():
        _, _, expected = enc(x, torch.tensor([n]), mode="streaming", chunk_size=chunk, num_left_chunks=left,
                             return_layers=(0, 1, 2))
        cache = enc.init_cache(1, chunk, left, return_layers=(2, 0, 1))
        for start in range(0, n, 7):
            enc.accept_feats(x[:, start:start + 7], cache, is_final=start + 7 >= n)
    assert cache.return_layers == (0, 1, 2)
    for k in (0, 1, 2):
        torch.testing.assert_close(torch.cat(cache.layers[k], dim=1), expected[k], atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="return_layers \\[3\\] outside 0..2"):
        enc.init_cache(1, chunk, left, return_layers=(3,))
