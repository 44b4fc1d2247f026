"""Chunk attention masks for streaming mode (Dual-mode ASR / U2 dynamic chunk training).

Frames are grouped into chunks of ``chunk_size`` encoder frames.  Query frame ``i`` may
attend key frame ``j`` iff

* ``chunk(j) <= chunk(i)`` (no future chunk);
* ``chunk(j) >= chunk(i) - num_left_chunks`` when ``num_left_chunks >= 0``
  (``-1`` = unlimited left context).

``chunk_size >= T`` (or ``chunk_size <= 0``) gives full attention.
"""
from __future__ import annotations

import torch


def chunk_attention_mask(
    num_frames: int,
    chunk_size: int,
    num_left_chunks: int = -1,
    device: torch.device | None = None,
) -> torch.Tensor:
    """Boolean mask (T, T); ``mask[i, j]`` is True where query ``i`` may attend key ``j``."""
    if chunk_size <= 0 or chunk_size >= num_frames:
        return torch.ones(num_frames, num_frames, dtype=torch.bool, device=device)
    idx = torch.arange(num_frames, device=device)
    chunk = idx // chunk_size
    q_chunk, k_chunk = chunk[:, None], chunk[None, :]
    visible = k_chunk <= q_chunk
    if num_left_chunks >= 0:
        visible &= k_chunk >= q_chunk - num_left_chunks
    return visible


def frames_to_ms(frames: int, subsampling: int, frame_shift_ms: float = 10.0) -> float:
    """Encoder frames -> milliseconds (frames x subsampling x feature frame shift)."""
    return float(frames * subsampling * frame_shift_ms)
