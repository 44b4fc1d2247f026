"""ConvSubsampling: receptive field / look-ahead, lengths equal ESPnet's Conv2dSubsampling*."""
from __future__ import annotations

import pytest
import torch
from espnet.nets.pytorch_backend.transformer.subsampling import (
    Conv2dSubsampling,
    Conv2dSubsampling6,
    Conv2dSubsampling8,
    check_short_utt,
)

from espnet_durep.layers.subsampling import SUBSAMPLING_LAYOUTS, ConvSubsampling

torch.set_num_threads(1)  # tiny tensors: extra threads only add contention

IDIM, ODIM = 20, 8
ESPNET_CLASSES = {"conv2d": Conv2dSubsampling, "conv2d6": Conv2dSubsampling6, "conv2d8": Conv2dSubsampling8}
# input_layer -> (subsampling, receptive field, look-ahead frames), worked out by hand
EXPECTED_GEOMETRY = {"conv2d": (4, 7, 3), "conv2d6": (6, 11, 5), "conv2d8": (8, 15, 7)}


def make(input_layer: str) -> ConvSubsampling:
    torch.manual_seed(0)
    return ConvSubsampling(IDIM, ODIM, SUBSAMPLING_LAYOUTS[input_layer], dropout_rate=0.0).eval()


@pytest.mark.parametrize("input_layer", sorted(SUBSAMPLING_LAYOUTS))
def test_geometry(input_layer):
    sub = make(input_layer)
    assert (sub.subsampling, sub.receptive_field, sub.lookahead_frames) == EXPECTED_GEOMETRY[input_layer]


@pytest.mark.parametrize("input_layer", sorted(SUBSAMPLING_LAYOUTS))
def test_lengths_equal_espnet_conv2d_subsampling(input_layer):
    """ESPnet's output length for an utterance of n frames (its mask slicing on an unpadded input)."""
    ours = make(input_layer)
    theirs = ESPNET_CLASSES[input_layer](IDIM, ODIM, 0.0).eval()
    lengths = torch.arange(ours.receptive_field, 80)
    expected = []
    with torch.no_grad():
        for n in lengths.tolist():
            y_theirs, mask = theirs(torch.randn(1, n, IDIM), torch.ones(1, 1, n, dtype=torch.bool))
            assert mask.size(2) == y_theirs.size(1)
            assert ours(torch.randn(1, n, IDIM)).size(1) == y_theirs.size(1)
            expected.append(mask.size(2))
    assert ours.output_lengths(lengths).tolist() == expected


@pytest.mark.parametrize("input_layer", sorted(SUBSAMPLING_LAYOUTS))
def test_receptive_field_agrees_with_espnet_short_utterance_limit(input_layer):
    ours = make(input_layer)
    theirs = ESPNET_CLASSES[input_layer](IDIM, ODIM, 0.0)
    assert check_short_utt(theirs, ours.receptive_field - 1) == (True, ours.receptive_field)
    assert check_short_utt(theirs, ours.receptive_field) == (False, -1)
    assert int(ours.output_lengths(torch.tensor(ours.receptive_field - 1))) == 0
    assert int(ours.output_lengths(torch.tensor(ours.receptive_field))) == 1


@pytest.mark.parametrize("input_layer", sorted(SUBSAMPLING_LAYOUTS))
def test_output_frame_reads_exactly_its_receptive_field(input_layer):
    """Perturbing input frame j changes exactly the outputs t with t*S <= j <= t*S + R - 1."""
    sub = make(input_layer)
    s, r = sub.subsampling, sub.receptive_field
    x = torch.randn(1, 4 * s + r, IDIM)
    with torch.no_grad():
        base = sub(x)
        for j in range(x.size(1)):
            bumped = x.clone()
            bumped[:, j] += 5.0 * torch.randn(IDIM)
            changed = (sub(bumped) - base).abs().amax(dim=-1)[0] > 0
            expected = torch.tensor([t * s <= j <= t * s + r - 1 for t in range(base.size(1))])
            assert torch.equal(changed, expected), f"input frame {j}"


def test_input_size_too_small_is_rejected():
    with pytest.raises(ValueError, match="input_size=10"):
        ConvSubsampling(10, ODIM, SUBSAMPLING_LAYOUTS["conv2d8"], dropout_rate=0.0)
