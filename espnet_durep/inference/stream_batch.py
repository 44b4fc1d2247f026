"""Many independent streams through one encoder, advanced together in batched chunk steps.

A server's job: streams join and leave at any time, receive audio at their own pace and
have different amounts of history. Each stream keeps its own state (feature buffer,
attention cache with its own length, convolution cache); :meth:`EncoderStreamBatch.step`
stacks the streams that have a complete chunk window, left-pads their attention caches to a
common length with a padding mask, runs one
:meth:`~espnet_durep.encoder.dual_mode_conformer.DualModeConformerEncoder.forward_chunk`,
and hands every stream back its own slice. A stream's output is the output of decoding it
alone; one that is not ready simply waits, and never holds the others back.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Hashable, List

import torch

from espnet_durep.encoder.dual_mode_conformer import DualModeConformerEncoder


@dataclass
class _Stream:
    feats: torch.Tensor       # (n, idim) features not yet consumed
    att_cache: torch.Tensor   # (L, H, Tc, 2 * d_k), this stream's own Tc
    cnn_cache: torch.Tensor   # (L, D, K')


class EncoderStreamBatch:
    """Streams of one chunking (chunk_size, num_left_chunks) over one encoder.

    Use: :meth:`add` a stream, :meth:`accept` its feature frames as they come, call
    :meth:`step` to advance every stream that has a complete chunk (returns the new encoder
    frames per stream), :meth:`finish` to flush a stream's last partial chunk and remove it.
    """

    def __init__(self, encoder: DualModeConformerEncoder, chunk_size: int, num_left_chunks: int = -1):
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
        self.encoder = encoder
        self.chunk_size = chunk_size
        self.required_cache_size = num_left_chunks * chunk_size if num_left_chunks >= 0 else -1
        self.window = encoder.chunk_window(chunk_size)
        self.hop = chunk_size * encoder.subsampling
        self.streams: Dict[Hashable, _Stream] = {}

    def add(self, stream_id: Hashable) -> None:
        if stream_id in self.streams:
            raise ValueError(f"stream {stream_id!r} already exists")
        empty = self.encoder.init_cache(1, self.chunk_size)
        self.streams[stream_id] = _Stream(empty.feats[0], empty.att_cache[:, 0], empty.cnn_cache[:, 0])

    def accept(self, stream_id: Hashable, feats: torch.Tensor) -> None:
        """Append (n, idim) feature frames to a stream."""
        stream = self._get(stream_id)
        stream.feats = torch.cat([stream.feats, feats.to(stream.feats)], dim=0)

    def ready(self) -> List[Hashable]:
        """Streams that hold a complete chunk window."""
        return [sid for sid, s in self.streams.items() if s.feats.size(0) >= self.window]

    @torch.no_grad()
    def step(self) -> Dict[Hashable, torch.Tensor]:
        """Advance every ready stream by one chunk in one batched step: {id: (chunk, D)}."""
        ids = self.ready()
        if not ids:
            return {}
        streams = [self.streams[sid] for sid in ids]
        ys = self._run(streams, torch.stack([s.feats[: self.window] for s in streams]))
        for s in streams:
            s.feats = s.feats[self.hop:]
        return dict(zip(ids, ys))

    @torch.no_grad()
    def finish(self, stream_id: Hashable) -> torch.Tensor:
        """Flush a stream's remaining frames (complete chunks, then the partial one) and
        remove it: its last (n, D) encoder frames."""
        stream = self._get(stream_id)
        outputs = []
        while stream.feats.size(0) >= self.encoder.embed.receptive_field:
            ys = self._run([stream], stream.feats[None, : self.window])[0]
            stream.feats = stream.feats[ys.size(0) * self.encoder.subsampling:]
            outputs.append(ys)
        del self.streams[stream_id]
        if not outputs:
            return stream.feats.new_zeros(0, self.encoder.output_size())
        return torch.cat(outputs)

    def _run(self, streams: List[_Stream], xs: torch.Tensor) -> List[torch.Tensor]:
        """One forward_chunk over ``streams`` with windows xs (B, F, idim); updates their caches."""
        lengths = [s.att_cache.size(2) for s in streams]
        longest = max(lengths)
        att = torch.stack([torch.nn.functional.pad(s.att_cache, (0, 0, longest - n, 0)) if n < longest
                           else s.att_cache for s, n in zip(streams, lengths)], dim=1)  # (L, B, H, Tmax, 2 d_k)
        mask = None  # streams of equal history (the steady state) need no padding mask
        if min(lengths) < longest:
            first = longest - torch.tensor(lengths, device=xs.device)  # first real cache frame per stream
            mask = torch.arange(longest, device=xs.device)[None, :] >= first[:, None]
        cnn = torch.stack([s.cnn_cache for s in streams], dim=1)
        ys, att, cnn = self.encoder.forward_chunk(xs, self.required_cache_size, att, cnn, mask)
        c = ys.size(1)
        for b, (s, n) in enumerate(zip(streams, lengths)):
            keep = n + c if self.required_cache_size < 0 else min(n + c, self.required_cache_size)
            s.att_cache = att[:, b, :, att.size(3) - keep:]
            s.cnn_cache = cnn[:, b]
        return list(ys)

    def _get(self, stream_id: Hashable) -> _Stream:
        if stream_id not in self.streams:
            raise KeyError(f"no stream {stream_id!r} (add it first; finished streams are removed)")
        return self.streams[stream_id]
