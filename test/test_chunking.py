"""SubsamplingGeometry (PyTorch-free) agrees with the encoder's convolutional subsampling."""
import pytest
import torch

from espnet_durep.chunking import SubsamplingGeometry
from espnet_durep.layers.subsampling import SUBSAMPLING_LAYOUTS, ConvSubsampling


@pytest.mark.parametrize("name", sorted(SUBSAMPLING_LAYOUTS))
def test_lengths_and_receptive_field_match_the_convolutions(name):
    layout = SUBSAMPLING_LAYOUTS[name]
    geometry, conv = SubsamplingGeometry.of(layout), ConvSubsampling(20, 8, layout, 0.0).eval()
    assert geometry.receptive_field == conv.receptive_field and geometry.subsampling == conv.subsampling
    for frames in range(geometry.receptive_field, 60):
        assert conv(torch.zeros(1, frames, 20)).size(1) == geometry.output_length(frames)
    assert geometry.output_length(geometry.receptive_field - 1) == 0


@pytest.mark.parametrize("chunk", [1, 3, 16])
def test_steps_cover_every_output_frame_once(chunk):
    geometry = SubsamplingGeometry.of(SUBSAMPLING_LAYOUTS["conv2d"])
    for buffered in range(0, 150, 7):
        steps, consumed = geometry.steps(buffered, chunk, is_final=True)
        emitted = sum(geometry.output_length(stop - start) if stop - start < geometry.window(chunk) else chunk
                      for start, stop in steps)
        assert emitted == geometry.output_length(buffered)
        assert consumed == emitted * geometry.subsampling
        partial, _ = geometry.steps(buffered, chunk, is_final=False)
        assert all(stop - start == geometry.window(chunk) for start, stop in partial)
