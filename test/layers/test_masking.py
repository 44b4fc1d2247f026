"""length_mask and masked_mean against explicit loops."""
import torch

from espnet_durep.layers.masking import length_mask, masked_mean


def test_length_mask():
    assert length_mask(torch.tensor([0, 2, 3]), 3).tolist() == [[False] * 3, [True, True, False], [True] * 3]


def test_masked_mean_along_any_dim_and_empty_utterances():
    x = torch.randn(3, 4, 5, 2)
    lengths = torch.tensor([5, 2, 0])
    got = masked_mean(x, lengths, dim=2)
    for b, n in enumerate(lengths.tolist()):
        want = x[b, :, :n].mean(1) if n else torch.zeros(4, 2)
        torch.testing.assert_close(got[b], want)
    torch.testing.assert_close(masked_mean(x[:, 0], lengths)[0], x[0, 0].mean(0))
