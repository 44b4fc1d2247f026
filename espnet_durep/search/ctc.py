"""CTC searches that advance chunk by chunk: greedy (best path) and prefix beam search.

Both keep their whole state between :meth:`advance` calls, so feeding an utterance in
chunks gives exactly the result of feeding it at once.  Each token remembers the
encoder frame at which the search first emitted it (``Hypothesis.token_frames``).

A search is given ``log_posteriors``: a function from encoder frames (T, D) to CTC
log-posteriors, a (T, V) NumPy array (a PyTorch model's CTC head, or an ONNX session).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Tuple

import numpy as np

from espnet_durep.search.base import Hypothesis, StreamingSearch

NEG_INF = -math.inf


def _logaddexp(a: float, b: float) -> float:
    """log(exp(a) + exp(b)) for two floats (the hot path of the prefix search)."""
    if a < b:
        a, b = b, a
    if b == NEG_INF:
        return a
    return a + math.log1p(math.exp(b - a))


LogPosteriors = Callable[[Any], np.ndarray]


class _CTCSearch(StreamingSearch):
    """Shared part: encoder frames -> CTC log-posteriors (T, V) -> :meth:`_step` per frame.

    ``blank_penalty`` is subtracted from the blank's log-posterior of every frame before the
    search: a positive value trades deletions for insertions (0: the plain posteriors).
    """

    def __init__(self, log_posteriors: LogPosteriors, blank_id: int = 0, blank_penalty: float = 0.0):
        if not math.isfinite(blank_penalty):
            raise ValueError(f"blank_penalty must be a finite number, got {blank_penalty}")
        self.log_posteriors = log_posteriors
        self.blank_id = blank_id
        self.blank_penalty = blank_penalty
        self.reset()

    def reset(self) -> None:
        self._frames = 0

    @property
    def frames_seen(self) -> int:
        return self._frames

    def advance(self, enc: Any) -> None:
        if len(enc) == 0:
            return
        log_probs = np.array(self.log_posteriors(enc), dtype=np.float32)  # a copy: the penalty edits it
        if log_probs.ndim != 2 or log_probs.shape[0] != len(enc):
            raise ValueError(f"log_posteriors gave shape {log_probs.shape} for {len(enc)} encoder frames; "
                             f"expected (frames, vocabulary)")
        if self.blank_penalty:
            log_probs[:, self.blank_id] -= self.blank_penalty
        for frame in self._per_frame(log_probs):
            self._step(frame, self._frames)
            self._frames += 1

    def _per_frame(self, log_probs: np.ndarray):
        """What :meth:`_step` needs of each frame of (T, V) log-posteriors (one array call per chunk)."""
        raise NotImplementedError

    def _step(self, frame, t: int) -> None:
        raise NotImplementedError


class CTCGreedySearch(_CTCSearch):
    """Best path: argmax per frame, repeats merged, blanks dropped."""

    def reset(self) -> None:
        super().reset()
        self._tokens: List[int] = []
        self._token_frames: List[int] = []
        self._score = 0.0
        self._last = self.blank_id

    def _per_frame(self, log_probs: np.ndarray):
        best = log_probs.argmax(axis=-1)
        scores = np.take_along_axis(log_probs, best[:, None], axis=-1)[:, 0]
        return zip(scores.tolist(), best.tolist())

    def _step(self, frame, t: int) -> None:
        score, best = frame
        self._score += score
        if best != self.blank_id and best != self._last:
            self._tokens.append(best)
            self._token_frames.append(t)
        self._last = best

    def partial(self) -> List[int]:
        return list(self._tokens)

    def partial_token_frames(self) -> List[int]:
        return list(self._token_frames)

    def finalize(self) -> List[Hypothesis]:
        return [Hypothesis(list(self._tokens), self._score, list(self._token_frames))]


@dataclass
class _Prefix:
    """Log-probabilities of a prefix ending in blank / in its last token, and token frames."""

    blank: float = NEG_INF
    nonblank: float = NEG_INF
    frames: Tuple[int, ...] = field(default_factory=tuple)

    @property
    def total(self) -> float:
        return _logaddexp(self.blank, self.nonblank)


class CTCPrefixBeamSearch(_CTCSearch):
    """CTC prefix beam search (Graves 2012; Hannun et al. 2014).

    Args:
        log_posteriors: encoder frames (T, D) -> CTC log-posteriors, a (T, V) array.
        beam_size: prefixes kept after each frame.
        token_beam: candidate tokens per frame (the most probable ones).
        blank_id: CTC blank index.
        blank_penalty: subtracted from the blank log-posterior of every frame.
    """

    def __init__(self, log_posteriors: LogPosteriors, beam_size: int = 10, token_beam: int = 10,
                 blank_id: int = 0, blank_penalty: float = 0.0):
        if beam_size < 1 or token_beam < 1:
            raise ValueError(f"beam_size and token_beam must be >= 1, got {beam_size}, {token_beam}")
        self.beam_size = beam_size
        self.token_beam = token_beam
        super().__init__(log_posteriors, blank_id, blank_penalty)

    def reset(self) -> None:
        super().reset()
        self._beam: Dict[Tuple[int, ...], _Prefix] = {(): _Prefix(blank=0.0)}

    def _per_frame(self, log_probs: np.ndarray):
        k = min(self.token_beam, log_probs.shape[-1])
        top_ids = np.argpartition(-log_probs, k - 1, axis=-1)[:, :k] if k < log_probs.shape[-1] \
            else np.broadcast_to(np.arange(k), log_probs.shape)
        top_lp = np.take_along_axis(log_probs, top_ids, axis=-1)
        return [list(zip(ids, lps)) for ids, lps in zip(top_ids.tolist(), top_lp.tolist())]

    def _step(self, candidates, t: int) -> None:
        """candidates: [(token, log-prob), ...] of frame ``t``."""
        nxt: Dict[Tuple[int, ...], _Prefix] = {}

        def entry(prefix: Tuple[int, ...], frames: Tuple[int, ...]) -> _Prefix:
            if prefix not in nxt:
                nxt[prefix] = _Prefix(frames=frames)
            return nxt[prefix]

        for prefix, p in self._beam.items():
            last = prefix[-1] if prefix else None
            total = p.total
            for token, lp in candidates:
                if token == self.blank_id:
                    e = entry(prefix, p.frames)
                    e.blank = _logaddexp(e.blank, total + lp)
                    continue
                extended = prefix + (token,)
                if token == last:
                    # a repeat extends only after a blank; without one it stays the same token
                    e = entry(extended, p.frames + (t,))
                    e.nonblank = _logaddexp(e.nonblank, p.blank + lp)
                    same = entry(prefix, p.frames)
                    same.nonblank = _logaddexp(same.nonblank, p.nonblank + lp)
                else:
                    e = entry(extended, p.frames + (t,))
                    e.nonblank = _logaddexp(e.nonblank, total + lp)
        # a repeat with no blank path before it gives an impossible (-inf) prefix: drop those
        scored = [(e.total, prefix) for prefix, e in nxt.items()]
        best = sorted((kv for kv in scored if kv[0] > NEG_INF), key=lambda kv: kv[0], reverse=True)
        self._beam = {prefix: nxt[prefix] for _, prefix in best[: self.beam_size]}

    def _best(self) -> Tuple[Tuple[int, ...], _Prefix]:
        return max(self._beam.items(), key=lambda kv: kv[1].total)

    def partial(self) -> List[int]:
        return list(self._best()[0])

    def partial_token_frames(self) -> List[int]:
        return list(self._best()[1].frames)

    def finalize(self) -> List[Hypothesis]:
        ranked = sorted(self._beam.items(), key=lambda kv: kv[1].total, reverse=True)
        return [Hypothesis(list(prefix), p.total, list(p.frames)) for prefix, p in ranked]
