"""EncoderStreamBatch: streams of different lengths that join, pause and leave at different
times, advanced in batched chunk steps, each get exactly the frames of decoding them alone."""
from __future__ import annotations

import pytest
import torch

from espnet_durep.encoder.dual_mode_conformer import DualModeConformerEncoder
from espnet_durep.inference.stream_batch import EncoderStreamBatch

torch.set_num_threads(1)
IDIM = 20
TINY = dict(output_size=16, attention_heads=2, linear_units=32, num_blocks=2, cnn_module_kernel=5,
            dropout_rate=0.0, positional_dropout_rate=0.0, attention_dropout_rate=0.0)


@pytest.mark.parametrize("conv_mode", ["chunk", "causal"])
@pytest.mark.parametrize("left", [-1, 1])
def test_batched_streams_equal_each_stream_alone(conv_mode, left):
    torch.manual_seed(0)
    enc = DualModeConformerEncoder(IDIM, conv_mode=conv_mode, **TINY).eval()
    chunk = 2
    g = torch.Generator().manual_seed(1)
    lengths = {"a": 97, "b": 40, "c": 150, "d": 23}
    feats = {k: torch.randn(n, IDIM, generator=g) for k, n in lengths.items()}
    joins = {"a": 0, "b": 0, "c": 3, "d": 5}  # round at which each stream starts
    batch = EncoderStreamBatch(enc, chunk, left)
    fed = {k: 0 for k in feats}
    got = {k: [] for k in feats}
    batch_sizes = []
    for rnd in range(200):
        for k in feats:
            if joins[k] == rnd:
                batch.add(k)
            if k in batch.streams and rnd % (2 if k == "b" else 1) == 0:  # b receives audio every other round
                n = int(torch.randint(1, 12, (), generator=g))
                batch.accept(k, feats[k][fed[k]:fed[k] + n])
                fed[k] = min(fed[k] + n, lengths[k])
        while batch.ready():
            batch_sizes.append(len(batch.ready()))
            for k, ys in batch.step().items():
                got[k].append(ys)
        for k in list(batch.streams):
            if fed[k] == lengths[k]:  # its audio is over: flush and leave; the others go on
                got[k].append(batch.finish(k))
        if not batch.streams and rnd > max(joins.values()):
            break
    assert max(batch_sizes) >= 3  # streams really were advanced together
    with torch.no_grad():
        for k, x in feats.items():
            alone = enc.streaming_forward(x[None], chunk, left)[0]
            torch.testing.assert_close(torch.cat(got[k]), alone, atol=1e-5, rtol=1e-5, msg=lambda m: f"stream {k}: {m}")


def test_stream_errors_name_the_stream():
    enc = DualModeConformerEncoder(IDIM, **TINY).eval()
    batch = EncoderStreamBatch(enc, 2)
    batch.add("x")
    with pytest.raises(ValueError, match="stream 'x' already exists"):
        batch.add("x")
    with pytest.raises(KeyError, match="no stream 'y'"):
        batch.accept("y", torch.zeros(3, IDIM))
    assert batch.finish("x").shape == (0, 16) and batch.step() == {}
