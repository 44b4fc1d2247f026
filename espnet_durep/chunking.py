"""Chunk arithmetic of the streaming encoder, free of PyTorch (shared with the runtime).

The encoder's convolutional subsampling is a stack of (kernel, stride) layers over feature
frames.  A streaming step reads :meth:`SubsamplingGeometry.window` feature frames to emit
``chunk_size`` encoder frames and then drops the ``chunk_size * subsampling`` frames it no
longer needs; :meth:`SubsamplingGeometry.steps` plans the steps over a feature buffer.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple


@dataclass(frozen=True)
class SubsamplingGeometry:
    """layout: ((kernel, stride), ...) of the subsampling layers over time."""

    layout: Tuple[Tuple[int, int], ...]

    @classmethod
    def of(cls, layout: Sequence[Sequence[int]]) -> "SubsamplingGeometry":
        return cls(tuple((int(k), int(s)) for k, s in layout))

    @property
    def subsampling(self) -> int:
        return math.prod(s for _, s in self.layout)

    @property
    def receptive_field(self) -> int:
        """Feature frames the first output frame reads."""
        receptive, jump = 1, 1
        for kernel, stride in self.layout:
            receptive += (kernel - 1) * jump
            jump *= stride
        return receptive

    @property
    def lookahead_frames(self) -> int:
        """Feature frames an output frame reads beyond its own ``subsampling`` frames."""
        return max(0, self.receptive_field - self.subsampling)

    def output_length(self, frames: int) -> int:
        """Encoder frames of ``frames`` feature frames (0 when too short)."""
        for kernel, stride in self.layout:
            frames = (frames - kernel) // stride + 1
        return max(0, frames)

    def window(self, chunk_size: int) -> int:
        """Feature frames one streaming step reads to emit ``chunk_size`` encoder frames."""
        return (chunk_size - 1) * self.subsampling + self.receptive_field

    def steps(self, buffered: int, chunk_size: int, is_final: bool) -> Tuple[List[Tuple[int, int]], int]:
        """Steps over a buffer of ``buffered`` feature frames: ([(start, stop) read by each step], frames
        consumed).  Only complete windows, unless ``is_final`` (then a last, shorter chunk too)."""
        steps, start = [], 0
        while (read := self.next_step(buffered - start, chunk_size, is_final)) is not None:
            steps.append((start, start + read))
            start += min(chunk_size, self.output_length(read)) * self.subsampling
        return steps, start

    def next_step(self, buffered: int, chunk_size: int, is_final: bool) -> Optional[int]:
        """Feature frames the next step reads from a buffer of ``buffered``, None if it must wait."""
        window = self.window(chunk_size)
        if buffered >= window:
            return window
        if is_final and self.output_length(buffered) > 0:
            return buffered
        return None


def chunk_frames(chunk_ms: Optional[float], chunk_size: Optional[int], frame_ms: float, default: int) -> int:
    """A streaming chunk in encoder frames, from milliseconds or from frames (None: ``default``)."""
    if chunk_ms is not None:
        frames = chunk_ms / frame_ms
        if abs(frames - round(frames)) > 1e-6 or round(frames) < 1:
            raise ValueError(f"chunk_ms={chunk_ms} is not a positive multiple of the {frame_ms:g} ms encoder frame")
        return int(round(frames))
    chunk = default if chunk_size is None else int(chunk_size)
    if chunk < 1:
        raise ValueError(f"streaming chunk_size must be >= 1, got {chunk}")
    return chunk
