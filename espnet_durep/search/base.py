"""The contract every streaming search follows: encoder frames in, hypotheses out.

A search is fed the encoder output of each streaming step (one or more chunks) with
:meth:`StreamingSearch.advance`; :meth:`partial` is the current best token sequence
(what a live display shows) and :meth:`finalize` the n-best at end of utterance.
The same object decodes a whole utterance in one ``advance`` call, so full-context
and streaming decoding share one search implementation per model family.
"""
from __future__ import annotations

import abc
import math
from dataclasses import dataclass, field
from typing import Any, List


def log_add(a: float, b: float) -> float:
    """log(exp(a) + exp(b)) of two log-probabilities (either may be -inf)."""
    if a < b:
        a, b = b, a
    if b == -math.inf:
        return a
    return a + math.log1p(math.exp(b - a))


@dataclass
class Hypothesis:
    """A decoded token sequence.

    tokens: token ids (no blank, no sos/eos).
    score: log-domain score used for ranking (higher is better).
    token_frames: per token, the encoder frame index at which the search emitted it.
    """

    tokens: List[int]
    score: float = 0.0
    token_frames: List[int] = field(default_factory=list)


@dataclass
class RecognitionResult:
    """text, its tokens and ids, the search score, and per token a time in ms.

    Streaming: the audio time at which the recogniser emitted the token (end of the
    audio it had received).  Full context: the end of the token's first frame in the
    CTC forced alignment of the hypothesis (empty for models without CTC).
    """

    text: str
    tokens: List[str]
    token_ids: List[int]
    score: float
    token_times_ms: List[float] = field(default_factory=list)


class StreamingSearch(abc.ABC):
    """Incremental search over encoder frames of one utterance (batch size 1)."""

    @abc.abstractmethod
    def reset(self) -> None:
        """Forget everything: ready for a new utterance."""

    @abc.abstractmethod
    def advance(self, enc: Any) -> None:
        """Consume the next encoder frames ``enc`` (T, D) (T may be 0; a tensor or an array)."""

    @abc.abstractmethod
    def partial(self) -> List[int]:
        """Token ids of the current best hypothesis."""

    @abc.abstractmethod
    def partial_token_frames(self) -> List[int]:
        """Per token of :meth:`partial`, the encoder frame at which it was emitted."""

    @abc.abstractmethod
    def finalize(self) -> List[Hypothesis]:
        """N-best hypotheses (best first) after the last frame."""

    @property
    @abc.abstractmethod
    def frames_seen(self) -> int:
        """Encoder frames consumed since :meth:`reset`."""
