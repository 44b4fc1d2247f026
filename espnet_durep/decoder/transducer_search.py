"""Frame-synchronous transducer search for a stateless (tied-and-reduced) prediction network.

The beam is kept between :meth:`TransducerSearch.advance` calls, so chunk-by-chunk
decoding gives exactly the result of one call over all frames.  At each encoder frame
every hypothesis is expanded by at most ``max_symbols_per_frame`` labels:

* step ``s`` scores all extensions (blank and every label) of the hypotheses still
  active on this frame and keeps the ``beam_size`` best;
* an extension by blank is done with the frame; an extension by a label stays active
  for step ``s + 1`` (after the last step it moves to the next frame as it is);
* hypotheses that end the frame with the same token sequence are merged (log-add).

With ``beam_size`` 1 this is greedy decoding (the argmax at every step).  Because the
prediction depends only on the last ``context_size`` labels, all hypotheses are scored
with one batched call per step.
"""
from __future__ import annotations

import math

from dataclasses import dataclass, field
from typing import Dict, List, Tuple

import torch

from espnet_durep.decoder.tied_reduced import TiedJointNetwork, TiedReducedPredictionNetwork
from espnet_durep.search.base import Hypothesis, StreamingSearch


@dataclass
class _Hyp:
    tokens: Tuple[int, ...]
    score: float
    frames: Tuple[int, ...] = field(default=())


class TransducerSearch(StreamingSearch):
    """Greedy (``beam_size`` 1) or beam search over a tied-and-reduced transducer.

    Args:
        prediction_network, joint_network: the model's transducer decoder and joint.
        beam_size: hypotheses kept per step (1 = greedy).
        max_symbols_per_frame: labels one frame may emit (>= 1).
        nbest: hypotheses returned by :meth:`finalize` (at most ``beam_size``).
    """

    def __init__(
        self,
        prediction_network: TiedReducedPredictionNetwork,
        joint_network: TiedJointNetwork,
        beam_size: int = 4,
        max_symbols_per_frame: int = 3,
        nbest: int = 1,
    ):
        if beam_size < 1:
            raise ValueError(f"beam_size must be >= 1, got {beam_size}")
        if max_symbols_per_frame < 1:
            raise ValueError(f"max_symbols_per_frame must be >= 1, got {max_symbols_per_frame}")
        if not 1 <= nbest <= beam_size:
            raise ValueError(f"nbest must be in [1, beam_size={beam_size}], got {nbest}")
        self.prediction_network = prediction_network
        self.joint_network = joint_network
        self.beam_size = beam_size
        self.max_symbols_per_frame = max_symbols_per_frame
        self.nbest = nbest
        self.blank_id = prediction_network.blank_id
        self.reset()

    def reset(self) -> None:
        self._beam: List[_Hyp] = [_Hyp((), 0.0)]
        self._frames = 0

    @property
    def frames_seen(self) -> int:
        return self._frames

    def _contexts(self, hyps: List[_Hyp], device: torch.device) -> torch.Tensor:
        n = self.prediction_network.context_size
        rows = [((self.blank_id,) * n + h.tokens)[-n:] for h in hyps]
        return torch.tensor(rows, dtype=torch.long, device=device)

    def _step(self, enc_proj: torch.Tensor, hyps: List[_Hyp]) -> torch.Tensor:
        """Log-probabilities (K, V) of extending each of K hypotheses at one frame."""
        pred = self.prediction_network.score_context(self._contexts(hyps, enc_proj.device))
        logits = self.joint_network.logits(self.joint_network.hidden(enc_proj[None], pred))
        return torch.log_softmax(logits, dim=-1)

    def _frame(self, enc_proj: torch.Tensor, frame: int) -> None:
        done: Dict[Tuple[int, ...], _Hyp] = {}
        active = self._beam
        for step in range(self.max_symbols_per_frame):
            logp = self._step(enc_proj, active)
            scores = logp + torch.tensor([h.score for h in active], dtype=logp.dtype, device=logp.device)[:, None]
            k = min(self.beam_size, scores.numel())
            best, index = scores.flatten().topk(k)
            active_next = []
            for score, flat in zip(best.tolist(), index.tolist()):
                hyp, token = active[flat // logp.size(1)], flat % logp.size(1)
                if token == self.blank_id:
                    _merge(done, _Hyp(hyp.tokens, score, hyp.frames))
                else:
                    active_next.append(_Hyp(hyp.tokens + (token,), score, hyp.frames + (frame,)))
            active = active_next
            if not active:
                break
        for hyp in active:  # reached max_symbols_per_frame: move on without blank
            _merge(done, hyp)
        self._beam = sorted(done.values(), key=lambda h: h.score, reverse=True)[: self.beam_size]

    @torch.no_grad()
    def advance(self, enc: torch.Tensor) -> None:
        """Consume encoder frames (T, D) of this utterance."""
        if enc.dim() != 2:
            raise ValueError(f"advance expects (T, D) encoder frames of one utterance, got {tuple(enc.shape)}")
        enc_proj = self.joint_network.project_encoder(enc)
        for t in range(enc_proj.size(0)):
            self._frame(enc_proj[t], self._frames)
            self._frames += 1

    def partial(self) -> List[int]:
        return list(self._beam[0].tokens)

    def partial_token_frames(self) -> List[int]:
        return list(self._beam[0].frames)

    def finalize(self) -> List[Hypothesis]:
        return [Hypothesis(list(h.tokens), h.score, list(h.frames)) for h in self._beam[: self.nbest]]


def _merge(pool: Dict[Tuple[int, ...], _Hyp], hyp: _Hyp) -> None:
    """Add ``hyp`` to ``pool``; equal token sequences add their probabilities."""
    other = pool.get(hyp.tokens)
    if other is None:
        pool[hyp.tokens] = hyp
        return
    best = hyp if hyp.score > other.score else other
    total = max(hyp.score, other.score) + math.log1p(math.exp(-abs(hyp.score - other.score)))
    pool[hyp.tokens] = _Hyp(best.tokens, total, best.frames)
