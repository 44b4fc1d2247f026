"""CTC searches that advance chunk by chunk: greedy (best path) and prefix beam search.

Both keep their whole state between :meth:`advance` calls, so feeding an utterance in
chunks gives exactly the result of feeding it at once.  Each token remembers the
encoder frame at which the search first emitted it (``Hypothesis.token_frames``).

A search is given ``log_posteriors``: a function from encoder frames (T, D) to CTC
log-posteriors, a (T, V) NumPy array (a PyTorch model's CTC head, or an ONNX session).
"""
from __future__ import annotations

import math
from typing import Any, Callable, List

import numpy as np

from espnet_durep.search.base import Hypothesis, StreamingSearch
from espnet_durep.search.trie import Frames, PrefixTrie, frame_list

NEG_INF = -math.inf


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


class CTCPrefixBeamSearch(_CTCSearch):
    """CTC prefix beam search (Graves 2012; Hannun et al. 2014).

    The beam is held as arrays (log-probabilities of each prefix ending in blank / in its last
    token, and its last token), so one frame costs a few array operations: every (prefix,
    candidate token) extension is scored at once, and only the extensions that enter the beam
    become Python objects.  Prefixes are nodes of a token trie (an integer per distinct prefix)
    and token frames are linked lists sharing their heads, so a frame's work does not grow with
    the length of the prefixes.  An extension can only merge with a prefix already in the beam
    (its one parent is then in the beam too), which is looked up through the trie.  A merged
    prefix takes its token frames from the likelier of the two: the parent's, with the last
    token at this frame, when the parent ranked above it.

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
        self._trie = PrefixTrie()
        # the beam, one row per prefix, ranked when it was formed
        self._nodes: List[int] = [PrefixTrie.ROOT]
        self._token_frames: List[Frames] = [None]  # token frames, last token first
        self._blank = np.zeros(1)  # (B,) log p(prefix, path ends in blank)
        self._nonblank = np.full(1, NEG_INF)  # (B,) log p(prefix, path ends in its last token)
        self._last = np.full(1, -1)  # (B,) last token of each prefix (-1: empty)

    def _per_frame(self, log_probs: np.ndarray):
        k = min(self.token_beam, log_probs.shape[-1])
        top_ids = np.argpartition(-log_probs, k - 1, axis=-1)[:, :k] if k < log_probs.shape[-1] \
            else np.broadcast_to(np.arange(k), log_probs.shape)
        top_lp = np.take_along_axis(log_probs, top_ids, axis=-1).astype(np.float64)
        is_blank = top_ids == self.blank_id
        blank_lp = np.where(is_blank, top_lp, NEG_INF).max(axis=-1)  # -inf where blank is not a candidate
        token_lp = np.where(is_blank, NEG_INF, top_lp)  # blank extends no prefix
        return zip(top_ids, token_lp, blank_lp.tolist())

    def _step(self, candidates, t: int) -> None:
        """candidates of frame ``t``: token ids (K,), their log-probs (K,) (-inf for the blank),
        and the blank's log-prob (-inf when it is not a candidate)."""
        ids, lps, blank_lp = candidates
        blank, nonblank, last = self._blank, self._nonblank, self._last
        total = np.logaddexp(blank, nonblank)
        # a repeated token extends a prefix only from its blank-ending paths; other tokens from all
        repeat = ids[None, :] == last[:, None]  # (B, K)
        extended = np.where(repeat, blank[:, None], total[:, None]) + lps[None, :]
        new_blank = total + blank_lp
        # the repeat without a blank in between stays the same prefix
        same = np.where(repeat, nonblank[:, None] + lps[None, :], NEG_INF).max(axis=1)
        new_nonblank = same
        column = dict(zip(ids.tolist(), range(len(ids))))
        row_of = {node: row for row, node in enumerate(self._nodes)}
        merged_into, merged_from = [], []
        frames_of = list(self._token_frames)
        trie = self._trie
        for child, node in enumerate(self._nodes):
            col = column.get(trie.token[node])
            parent = row_of.get(trie.parent[node]) if col is not None else None
            if parent is not None:
                merged_into.append(child)
                merged_from.append((parent, col))
                if parent < child:  # rows are ranked: the likelier parent times the last token now
                    frames_of[child] = (t, self._token_frames[parent])
        if merged_into:
            rows, cols = np.array(merged_from).T
            new_nonblank = same.copy()
            new_nonblank[merged_into] = np.logaddexp(same[merged_into], extended[rows, cols])
            extended[rows, cols] = NEG_INF  # counted in the existing prefix
        scores = np.concatenate([np.logaddexp(new_blank, new_nonblank), extended.ravel()])
        order = np.argsort(-scores, kind="stable")[: self.beam_size]
        order = order[scores[order] > NEG_INF]  # a repeat with no blank path before it is impossible
        width, n = len(ids), len(self._nodes)
        nodes, frames = [], []
        for i in order.tolist():
            if i < n:
                nodes.append(self._nodes[i])
                frames.append(frames_of[i])
            else:
                row, col = divmod(i - n, width)
                nodes.append(trie.extend(self._nodes[row], int(ids[col])))
                frames.append((t, self._token_frames[row]))
        keep_old = order < n
        old = np.where(keep_old, order, 0)
        self._blank = np.where(keep_old, new_blank[old], NEG_INF)
        self._nonblank = np.where(keep_old, new_nonblank[old], scores[order])
        self._last = np.array([trie.token[node] for node in nodes])
        self._nodes, self._token_frames = nodes, frames

    def _ranked(self) -> List[int]:
        return np.argsort(-np.logaddexp(self._blank, self._nonblank), kind="stable").tolist()

    def partial(self) -> List[int]:
        return self._trie.tokens(self._nodes[self._ranked()[0]])

    def partial_token_frames(self) -> List[int]:
        return frame_list(self._token_frames[self._ranked()[0]])

    def finalize(self) -> List[Hypothesis]:
        totals = np.logaddexp(self._blank, self._nonblank)
        return [Hypothesis(self._trie.tokens(self._nodes[i]), float(totals[i]),
                           frame_list(self._token_frames[i])) for i in self._ranked()]
