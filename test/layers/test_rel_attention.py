"""Relative-position attention: distance embeddings, and cached chunks equal full-attention rows."""
from __future__ import annotations

import math

import pytest
import torch

from espnet_durep.layers.chunk_mask import chunk_attention_mask
from espnet_durep.layers.rel_attention import RelativePositions, RelPositionSelfAttention

torch.set_num_threads(1)  # tiny tensors: extra threads only add contention

D, H = 8, 2


def sinusoid(distance: int) -> torch.Tensor:
    """Interleaved (sin, cos) embedding of one distance, written out per dimension."""
    out = torch.empty(D)
    for i in range(0, D, 2):
        angle = distance / (10000.0 ** (i / D))
        out[i], out[i + 1] = math.sin(angle), math.cos(angle)
    return out


@pytest.mark.parametrize("num_queries,num_keys", [(1, 1), (3, 3), (2, 7), (4, 9)])
def test_relative_positions_embed_query_key_distance(num_queries, num_keys):
    pos_emb, rel_index = RelativePositions(D, 0.0)(num_queries, num_keys)
    assert rel_index.shape == (num_queries, num_keys)
    assert pos_emb.size(0) == num_queries + num_keys - 1  # distances -(Tq-1) .. Tk-1
    first_query = num_keys - num_queries
    for i in range(num_queries):
        for j in range(num_keys):
            torch.testing.assert_close(pos_emb[rel_index[i, j]], sinusoid(first_query + i - j), atol=1e-5, rtol=0)


def make_attention(seed: int = 0) -> RelPositionSelfAttention:
    torch.manual_seed(seed)
    return RelPositionSelfAttention(H, D, dropout_rate=0.0).eval()


def attend(att, x, mask, kv_cache=None):
    num_keys = x.size(1) + (0 if kv_cache is None else kv_cache[0].size(2))
    pos_emb, rel_index = RelativePositions(D, 0.0)(x.size(1), num_keys)
    return att(x, mask, pos_emb, rel_index, kv_cache)


def test_matches_explicit_per_head_formula():
    """softmax(((q+u)k + (q+v)r_{i-j}) / sqrt(d_k)) v, written out with loops."""
    att = make_attention()
    t = 5
    x = torch.randn(1, t, D)
    mask = chunk_attention_mask(t, 2)[None]
    got, _ = attend(att, x, mask)
    d_k = D // H
    q = att.linear_q(x)[0].view(t, H, d_k)
    k = att.linear_k(x)[0].view(t, H, d_k)
    v = att.linear_v(x)[0].view(t, H, d_k)
    heads = torch.zeros(t, H, d_k)
    for h in range(H):
        for i in range(t):
            scores = torch.full((t,), float("-inf"))
            for j in range(t):
                if mask[0, i, j]:
                    r = att.linear_pos(sinusoid(i - j)).view(H, d_k)[h]
                    scores[j] = ((q[i, h] + att.pos_bias_u[h]) @ k[j, h]
                                 + (q[i, h] + att.pos_bias_v[h]) @ r) / math.sqrt(d_k)
            heads[i, h] = torch.softmax(scores, dim=0) @ v[:, h]
    expected = att.linear_out(heads.reshape(t, D))
    torch.testing.assert_close(got[0], expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("chunk,left", [(1, -1), (2, -1), (3, 1), (2, 0), (4, 2)])
def test_cached_chunk_equals_rows_of_full_attention(chunk, left):
    att = make_attention()
    t = 11
    x = torch.randn(2, t, D)
    with torch.no_grad():
        full, (keys, values) = attend(att, x, chunk_attention_mask(t, chunk, left)[None])
        for start in range(0, t, chunk):
            first = 0 if left < 0 else max(0, start - left * chunk)
            cache = (keys[:, :, first:start], values[:, :, first:start])
            stop = min(start + chunk, t)
            mask = torch.ones(1, stop - start, stop - first, dtype=torch.bool)
            rows, (k, v) = attend(att, x[:, start:stop], mask, cache)
            torch.testing.assert_close(rows, full[:, start:stop], atol=1e-5, rtol=1e-5)
            torch.testing.assert_close(k, keys[:, :, first:stop])


def test_last_chunk_with_whole_prefix_cache_equals_unmasked_attention():
    att = make_attention()
    x = torch.randn(1, 9, D)
    with torch.no_grad():
        full, (keys, values) = attend(att, x, torch.ones(1, 9, 9, dtype=torch.bool))
        rows, _ = attend(att, x[:, 6:], torch.ones(1, 3, 9, dtype=torch.bool), (keys[:, :, :6], values[:, :, :6]))
    torch.testing.assert_close(rows, full[:, 6:], atol=1e-5, rtol=1e-5)


def test_blocked_keys_have_no_influence_and_empty_rows_give_zero_context():
    att = make_attention()
    x = torch.randn(1, 6, D)
    mask = torch.ones(1, 6, 6, dtype=torch.bool)
    mask[0, :, 4:] = False
    mask[0, 2] = False  # a query with no visible key
    changed = x.clone()
    changed[:, 4:] += 10.0
    with torch.no_grad():
        a, _ = attend(att, x, mask)
        b, _ = attend(att, changed, mask)
    torch.testing.assert_close(a[:, :4], b[:, :4], atol=1e-6, rtol=0)
    torch.testing.assert_close(a[0, 2], att.linear_out.bias.detach())


def test_heads_must_divide_model_size():
    with pytest.raises(ValueError, match="attention_heads=3"):
        RelPositionSelfAttention(3, D, 0.0)
