"""chunk_attention_mask against a brute-force double loop of its documented definition."""
from __future__ import annotations

import itertools

import pytest
import torch

from espnet_durep.layers.chunk_mask import chunk_attention_mask, frames_to_ms

torch.set_num_threads(1)  # tiny tensors: extra threads only add contention


def reference_mask(t: int, chunk: int, left: int) -> torch.Tensor:
    """Query i sees key j iff j is not in a future chunk and, when left >= 0, j's chunk is at
    most ``left`` chunks back."""
    if chunk <= 0 or chunk >= t:
        return torch.ones(t, t, dtype=torch.bool)
    mask = torch.zeros(t, t, dtype=torch.bool)
    for i in range(t):
        for j in range(t):
            ci, cj = i // chunk, j // chunk
            allowed = cj <= ci
            if left >= 0 and cj < ci - left:
                allowed = False
            mask[i, j] = allowed
    return mask


@pytest.mark.parametrize(
    "t,chunk,left",
    list(itertools.product([1, 5, 8, 13], [1, 2, 3, 4, 7], [-1, 0, 1, 2])),
)
def test_mask_equals_brute_force(t, chunk, left):
    got = chunk_attention_mask(t, chunk, left)
    assert got.dtype == torch.bool and got.shape == (t, t)
    assert torch.equal(got, reference_mask(t, chunk, left))


@pytest.mark.parametrize("t,chunk", [(6, 6), (6, 9), (6, 0), (6, -2), (1, 1)])
def test_chunk_not_smaller_than_sequence_is_full_attention(t, chunk):
    assert chunk_attention_mask(t, chunk, num_left_chunks=0).all()


def test_hand_written_example():
    # T=5, chunk 2, one left chunk: chunks {0,1} {2,3} {4}
    expected = torch.tensor(
        [
            [1, 1, 0, 0, 0],
            [1, 1, 0, 0, 0],
            [1, 1, 1, 1, 0],
            [1, 1, 1, 1, 0],
            [0, 0, 1, 1, 1],
        ],
        dtype=torch.bool,
    )
    assert torch.equal(chunk_attention_mask(5, 2, num_left_chunks=1), expected)


def test_every_query_sees_its_own_chunk_and_no_later_chunk():
    mask = chunk_attention_mask(20, 4, num_left_chunks=0)
    for i in range(20):
        own = slice(i // 4 * 4, i // 4 * 4 + 4)
        assert mask[i, own].all()
        assert not mask[i, own.stop:].any()
        assert not mask[i, : own.start].any()


@pytest.mark.parametrize("frames,subsampling,shift,expected", [(16, 4, 10.0, 640.0), (1, 6, 10.0, 60.0),
                                                                (3, 8, 12.5, 300.0)])
def test_frames_to_ms(frames, subsampling, shift, expected):
    assert frames_to_ms(frames, subsampling, shift) == expected
