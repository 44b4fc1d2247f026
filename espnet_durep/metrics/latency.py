"""Latency of a streaming recogniser, in milliseconds.

* **Algorithmic latency** — how much audio after a frame the model must see before it
  can emit that frame: the chunk (a frame at the start of a chunk waits for the whole
  chunk; on average half of it), the look-ahead of the subsampling convolutions and the
  right half of the STFT window.  It does not depend on the machine.
* **Real-time clock** (:class:`RealTimeClock`) — audio is taken to arrive in real time;
  each ``accept_waveform`` call starts when its audio has arrived and the previous call
  has finished, and takes the measured compute time.  First-token and final latency are
  read off this clock.
* **Emission delay** — for every correctly recognised token, the time at which the
  streaming recogniser emitted it minus the time of the same reference token in a CTC
  forced alignment of the full-context model (the end of its first aligned frame).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torchaudio


@dataclass(frozen=True)
class AlgorithmicLatency:
    worst_ms: float
    average_ms: float


def algorithmic_latency(chunk_ms: float, subsampling_lookahead_ms: float,
                        frontend_lookahead_ms: float, frame_ms: float) -> AlgorithmicLatency:
    """Latency of a chunk of ``chunk_ms`` made of encoder frames of ``frame_ms``.

    The first frame of a chunk waits ``chunk_ms - frame_ms`` for the rest of the chunk, the
    last waits 0; every frame also waits for its own span and the look-aheads.
    """
    fixed = frame_ms + subsampling_lookahead_ms + frontend_lookahead_ms
    return AlgorithmicLatency(worst_ms=chunk_ms - frame_ms + fixed, average_ms=(chunk_ms - frame_ms) / 2 + fixed)


class RealTimeClock:
    """Simulated real-time arrival of audio and the measured compute of each call."""

    def __init__(self, sample_rate: int):
        self.sample_rate = sample_rate
        self.samples = 0
        self.finish_s = 0.0
        self.compute_s = 0.0

    def step(self, new_samples: int, compute_s: float) -> float:
        """Account for a call fed ``new_samples`` that computed ``compute_s``; returns its finish time (s)."""
        self.samples += new_samples
        arrival = self.samples / self.sample_rate
        self.finish_s = max(self.finish_s, arrival) + compute_s
        self.compute_s += compute_s
        return self.finish_s

    @property
    def audio_s(self) -> float:
        return self.samples / self.sample_rate


def forced_alignment_times_ms(
    ctc_log_probs: torch.Tensor, token_ids: Sequence[int], frame_ms: float, blank_id: int = 0
) -> Optional[List[float]]:
    """End time (ms) of the first frame of each token in the CTC forced alignment.

    ctc_log_probs: (T, V) full-context CTC log-posteriors.  Returns None when the
    tokens cannot be aligned (more tokens and repeats than frames, or no tokens).
    """
    tokens = list(token_ids)
    repeats = sum(a == b for a, b in zip(tokens, tokens[1:]))
    if not tokens or len(tokens) + repeats > ctc_log_probs.size(0):
        return None
    targets = torch.tensor([tokens], dtype=torch.int32)
    path, _ = torchaudio.functional.forced_align(ctc_log_probs[None].float().cpu(), targets, blank=blank_id)
    path = path[0].tolist()
    # a token starts where a non-blank label differs from the previous frame's label
    times = [(t + 1) * frame_ms for t, label in enumerate(path)
             if label != blank_id and (t == 0 or label != path[t - 1])]
    return times if len(times) == len(tokens) else None


def matched_tokens(hyp: Sequence[int], ref: Sequence[int]) -> List[Tuple[int, int]]:
    """(hyp index, ref index) of the correct tokens of a minimum-edit-distance alignment."""
    n, m = len(hyp), len(ref)
    cost = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n + 1):
        cost[i][0] = i
    for j in range(m + 1):
        cost[0][j] = j
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            cost[i][j] = min(cost[i - 1][j] + 1, cost[i][j - 1] + 1,
                             cost[i - 1][j - 1] + (hyp[i - 1] != ref[j - 1]))
    pairs, i, j = [], n, m
    while i > 0 and j > 0:
        if hyp[i - 1] == ref[j - 1] and cost[i][j] == cost[i - 1][j - 1]:
            pairs.append((i - 1, j - 1))
            i, j = i - 1, j - 1
        elif cost[i][j] == cost[i - 1][j - 1] + 1:
            i, j = i - 1, j - 1
        elif cost[i][j] == cost[i - 1][j] + 1:
            i -= 1
        else:
            j -= 1
    return pairs[::-1]


def emission_delays_ms(hyp: Sequence[int], hyp_times_ms: Sequence[float],
                       ref: Sequence[int], ref_times_ms: Sequence[float]) -> List[float]:
    """Emission time minus reference time of every correct hypothesis token."""
    return [hyp_times_ms[h] - ref_times_ms[r] for h, r in matched_tokens(hyp, ref)]


def summarise(values: Sequence[float]) -> Optional[Dict[str, float]]:
    """{mean, p50, p90, count} of ``values`` (None when empty)."""
    if not values:
        return None
    v = torch.tensor(list(values), dtype=torch.float64)
    return {"mean": float(v.mean()), "p50": float(v.quantile(0.5)), "p90": float(v.quantile(0.9)),
            "count": len(values)}
