"""CascadedConformerEncoder: causal first pass streams exactly, second pass sees the future."""
from __future__ import annotations

import pytest
import torch

import espnet_durep.tasks.durep  # noqa: F401  (the task registers the encoder)
from espnet_durep.encoder.cascaded_conformer import CascadedConformerEncoder

torch.set_num_threads(1)

IDIM = 20
CAUSAL = dict(output_size=16, attention_heads=2, linear_units=32, num_blocks=2, cnn_module_kernel=5,
              dropout_rate=0.0, positional_dropout_rate=0.0, chunk_size=2, conv_mode="chunk")


def make_encoder(integration="cascaded", seed=0, **overrides):
    torch.manual_seed(seed)
    options = {**dict(causal_conf=CAUSAL, num_blocks=2, attention_heads=2, linear_units=32, cnn_module_kernel=5,
                      dropout_rate=0.0, positional_dropout_rate=0.0, integration=integration), **overrides}
    return CascadedConformerEncoder(IDIM, **options).eval()


def feats(n, seed=1):
    return torch.randn(1, n, IDIM, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("chunk,left", [(2, -1), (3, 1), (1, 0)])
def test_first_pass_is_the_cached_streaming_path(chunk, left):
    enc = make_encoder()
    x = feats(30 * enc.subsampling + 3)
    with torch.no_grad():
        first, second, olens = enc.forward_both(x, torch.tensor([x.size(1)]), chunk, left)
        streamed = enc.causal.streaming_forward(x, chunk, left)
    assert first.shape == second.shape == (1, int(olens[0]), 16)
    torch.testing.assert_close(streamed, first, atol=1e-4, rtol=1e-4)
    assert not torch.allclose(first, second, atol=1e-3)


def test_first_pass_ignores_the_future_and_second_pass_uses_it():
    enc = make_encoder()
    chunk, s, look = 2, enc.subsampling, enc.causal.embed.lookahead_frames
    x = feats(8 * chunk * s + enc.causal.embed.receptive_field)
    ilens = torch.tensor([x.size(1)])
    with torch.no_grad():
        first, second, _ = enc.forward_both(x, ilens, chunk, -1)
        for k in range(3):
            future = x.clone()
            first_unseen = (k + 1) * chunk * s + look
            future[:, first_unseen:] += 3.0 * torch.randn_like(future[:, first_unseen:])
            f2, s2, _ = enc.forward_both(future, ilens, chunk, -1)
            seen = slice(0, (k + 1) * chunk)
            torch.testing.assert_close(f2[:, seen], first[:, seen], atol=1e-6, rtol=0)
            assert not torch.allclose(s2[:, seen], second[:, seen], atol=1e-3)


def test_forward_is_the_second_pass_with_espnet_contract():
    enc = make_encoder()
    x = torch.randn(2, 60, IDIM)
    ilens = torch.tensor([60, 45])
    with torch.no_grad():
        out, olens, states = enc(x, ilens, chunk_size=2)
        _, second, lens2 = enc.forward_both(x, ilens, 2)
    assert states is None and enc.output_size() == 16 and enc.subsampling == enc.causal.subsampling
    torch.testing.assert_close(out, second)
    assert olens.tolist() == lens2.tolist() == enc.causal.embed.output_lengths(ilens).tolist()


def test_padding_does_not_change_the_second_pass():
    enc = make_encoder()
    x = feats(45)
    padded = torch.cat([x, 5.0 * torch.randn(1, 20, IDIM)], dim=1)
    with torch.no_grad():
        alone, lens, _ = enc(x, torch.tensor([45]), chunk_size=2)
        batch, _, _ = enc(padded, torch.tensor([45]), chunk_size=2)
    torch.testing.assert_close(batch[:, : int(lens[0])], alone, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("integration,depends", [("cascaded", True), ("parallel", False)])
def test_integration_chooses_what_the_second_pass_reads(integration, depends):
    enc = make_encoder(integration)
    x = feats(60)
    ilens = torch.tensor([60])
    with torch.no_grad():
        _, second, _ = enc.forward_both(x, ilens, 2)
        for p in enc.causal.encoders.parameters():  # the causal blocks, not the shared subsampling
            p.add_(0.5 * torch.randn_like(p))
        _, changed, _ = enc.forward_both(x, ilens, 2)
    assert (not torch.allclose(changed, second, atol=1e-4)) == depends


def test_chunk_zero_is_full_context():
    enc = make_encoder()
    x = feats(60)
    ilens = torch.tensor([60])
    with torch.no_grad():
        first, _, _ = enc.forward_both(x, ilens, 0)
        full, _, _ = enc.causal(x, ilens, mode="full")
    torch.testing.assert_close(first, full)


def test_training_samples_the_streaming_chunk():
    enc = make_encoder(causal_conf={**CAUSAL, "dynamic_chunk_range": [1, 4]}).train()
    torch.manual_seed(0)
    draws = {enc.resolve_chunking(None, None)[0] for _ in range(40)}
    assert draws == {1, 2, 3, 4}
    assert enc.eval().resolve_chunking(None, None) == (2, -1)


@pytest.mark.parametrize("bad,match", [({"integration": "stacked"}, "integration"), ({"num_blocks": 0}, "num_blocks")])
def test_bad_options_are_clear_errors(bad, match):
    with pytest.raises(ValueError, match=match):
        CascadedConformerEncoder(IDIM, causal_conf=CAUSAL, **bad)
