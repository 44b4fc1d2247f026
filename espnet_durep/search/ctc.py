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

from espnet_durep.search.base import Hypothesis, StreamingSearch, log_add
from espnet_durep.search.trie import PrefixTrie, frame_list

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

    Each frame scores every prefix of the beam (its paths ending in blank and in its last
    token) and its extensions by the frame's candidate tokens, and keeps the ``beam_size``
    best.  An extension can only enter the beam if it beats the ``beam_size``-th best prefix
    already scored; since the beam is ranked and the candidates are sorted, the scan of
    (prefix, token) pairs stops at the first one that cannot, so a frame costs little more than
    its beam.  An extension equal to a prefix already in the beam (its one parent is in the
    beam too) adds to that prefix.  A merged prefix takes its token frames from the likelier
    of the two: the parent's, with the last token at this frame, when the parent ranked above
    it.  Prefixes are nodes of a token trie (an integer per distinct prefix) and token frames
    are linked lists sharing their tails, so a frame's work does not grow with the length of
    the prefixes.  Equal scores rank in a fixed order: kept prefixes first, by rank, then
    extensions by prefix rank and candidate position.

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
        # the beam, best first; per prefix a tuple (node, parent node, last token (-1: none),
        # log p(paths ending in blank), log p(paths ending in the last token), their log-sum,
        # token frames)
        self._beam: List[tuple] = [(PrefixTrie.ROOT, -1, -1, 0.0, NEG_INF, 0.0, None)]
        self._parent_row: List[int] = [-1]  # per prefix, the row of its parent in the beam (-1: none)

    def _per_frame(self, log_probs: np.ndarray):
        """Per frame: the token candidates as (position, token, log-prob), most probable first
        (blank excluded), their {token: log-prob}, the blank's log-prob (-inf when it is not a
        candidate) and the number of candidates."""
        k = min(self.token_beam, log_probs.shape[-1])
        top_ids = np.argpartition(-log_probs, k - 1, axis=-1)[:, :k] if k < log_probs.shape[-1] \
            else np.broadcast_to(np.arange(k), log_probs.shape)
        top_lp = np.take_along_axis(log_probs, top_ids, axis=-1).astype(np.float64)
        rank = np.argsort(-top_lp, axis=-1, kind="stable")
        ids = np.take_along_axis(top_ids, rank, axis=-1).tolist()
        lps = np.take_along_axis(top_lp, rank, axis=-1).tolist()
        for frame_ids, frame_lps, positions in zip(ids, lps, rank.tolist()):
            blank_lp = NEG_INF
            candidates = []
            for position, token, lp in zip(positions, frame_ids, frame_lps):
                if token == self.blank_id:
                    blank_lp = lp
                else:
                    candidates.append((position, token, lp))
            yield candidates, {token: lp for _, token, lp in candidates}, blank_lp, k

    def _step(self, frame, t: int) -> None:
        candidates, lp_of, blank_lp, width = frame
        beam, parent_row = self._beam, self._parent_row
        # 1. the prefixes of the beam, including their parent's extension by their last token
        scored, merged = [], set()
        for row, (node, parent, last, blank, nonblank, total, frames) in enumerate(beam):
            lp = lp_of.get(last)
            new_nonblank = NEG_INF if lp is None else nonblank + lp  # the repeat without a blank
            p = parent_row[row]
            if lp is not None and p >= 0:
                p_last, p_blank, p_total, p_frames = beam[p][2], beam[p][3], beam[p][5], beam[p][6]
                # a repeated token extends a prefix only from its blank-ending paths
                new_nonblank = log_add(new_nonblank, (p_blank if p_last == last else p_total) + lp)
                merged.add((p, last))
                if p < row:  # the parent ranked above: it times the last token now
                    frames = (t, p_frames)
            new_blank = total + blank_lp
            score = log_add(new_blank, new_nonblank)
            if score > NEG_INF:
                scored.append((-score, row, (node, parent, last, new_blank, new_nonblank, score, frames)))
        # 2. extensions that beat the beam_size-th prefix of step 1
        threshold = -sorted(scored)[self.beam_size - 1][0] if len(scored) >= self.beam_size else NEG_INF
        best_lp = candidates[0][2] if candidates else NEG_INF
        for row, (node, _, last, blank, _, total, frames) in enumerate(beam):
            if total + best_lp <= threshold:
                break  # rows are ranked: no later one can do better
            for position, token, lp in candidates:
                score = total + lp
                if score <= threshold:
                    break  # candidates are sorted
                if token == last:
                    score = blank + lp
                if score > threshold and (row, token) not in merged:
                    scored.append((-score, len(beam) + row * width + position,
                                   (node, node, token, NEG_INF, score, score, (t, frames))))
        # 3. the new beam; an extension's entry holds its parent's node until its own is made
        new_beam = []
        for _, index, entry in sorted(scored)[: self.beam_size]:
            if index >= len(beam):
                entry = (self._trie.extend(entry[0], entry[2]),) + entry[1:]
            new_beam.append(entry)
        row_of = {entry[0]: row for row, entry in enumerate(new_beam)}
        self._parent_row = [row_of.get(entry[1], -1) for entry in new_beam]
        self._beam = new_beam

    def partial(self) -> List[int]:
        return self._trie.tokens(self._beam[0][0])

    def partial_token_frames(self) -> List[int]:
        return frame_list(self._beam[0][6])

    def finalize(self) -> List[Hypothesis]:
        return [Hypothesis(self._trie.tokens(node), total, frame_list(frames))
                for node, _, _, _, _, total, frames in self._beam]
