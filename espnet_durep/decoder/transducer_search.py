"""Frame-synchronous transducer search for a stateless (tied-and-reduced) prediction network.

The beam is kept between :meth:`TransducerSearch.advance` calls, so chunk-by-chunk
decoding gives exactly the result of one call over all frames.  At each encoder frame
every hypothesis is expanded by at most ``max_symbols_per_frame`` labels:

* step ``s`` scores all extensions (blank and every label) of the hypotheses still
  active on this frame and keeps the ``beam_size`` best;
* an extension by blank is done with the frame; an extension by a label stays active
  for step ``s + 1`` (after the last step it moves to the next frame as it is);
* hypotheses that end the frame with the same token sequence are merged (log-add).

With ``beam_size`` 1 this is greedy decoding (the argmax at every step).  All hypotheses
of a step are scored with one batched joint call; their predictions depend only on their
last ``context_size`` labels and are looked up per distinct context.
"""
from __future__ import annotations

from typing import Dict, List, NamedTuple, Tuple

import torch

from espnet_durep.decoder.tied_reduced import TiedJointNetwork, TiedReducedPredictionNetwork
from espnet_durep.search.base import Hypothesis, StreamingSearch, log_add
from espnet_durep.search.trie import Frames, PrefixTrie, frame_list


class _Hyp(NamedTuple):
    node: int  # token prefix, a node of the search's PrefixTrie
    score: float
    frames: Frames  # token frames, last token first


class TransducerSearch(StreamingSearch):
    """Greedy (``beam_size`` 1) or beam search over a tied-and-reduced transducer.

    Hypotheses are nodes of a token trie, so extending and merging them costs the same
    whatever their length.  The prediction network's joint-space output depends only on a
    hypothesis' last ``context_size`` labels; it is computed once per distinct context in an
    utterance (a batched call for the new contexts of a step) and looked up afterwards.

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
        self._trie = PrefixTrie()
        self._context: List[Tuple[int, ...]] = [(self.blank_id,) * self.prediction_network.context_size]  # per node
        self._pred_proj: Dict[Tuple[int, ...], torch.Tensor] = {}  # context -> (E,) joint-space prediction
        self._beam: List[_Hyp] = [_Hyp(PrefixTrie.ROOT, 0.0, None)]
        self._frames = 0

    @property
    def frames_seen(self) -> int:
        return self._frames

    def _extend(self, node: int, token: int) -> int:
        child = self._trie.extend(node, token)
        if child == len(self._context):  # a new node: its context drops the oldest label
            self._context.append(self._context[node][1:] + (token,))
        return child

    def _predictions(self, contexts: List[Tuple[int, ...]], device: torch.device) -> torch.Tensor:
        """(K, E) joint-space predictions of K label contexts."""
        new = [c for c in dict.fromkeys(contexts) if c not in self._pred_proj]
        if new:
            pred = self.prediction_network.score_context(torch.tensor(new, dtype=torch.long, device=device))
            self._pred_proj.update(zip(new, self.joint_network.project_prediction(pred)))
        return torch.stack([self._pred_proj[c] for c in contexts])

    def _step(self, enc_proj: torch.Tensor, hyps: List[_Hyp]) -> torch.Tensor:
        """Log-probabilities (K, V) of extending each of K hypotheses at one frame (E,)."""
        pred = self._predictions([self._context[h.node] for h in hyps], enc_proj.device)
        logits = self.joint_network.logits(self.joint_network.hidden(enc_proj, pred))
        return torch.log_softmax(logits, dim=-1)

    def _frame(self, enc_proj: torch.Tensor, frame: int) -> None:
        done: Dict[int, _Hyp] = {}
        active = self._beam
        for _ in range(self.max_symbols_per_frame):
            logp = self._step(enc_proj, active)
            scores = logp + logp.new_tensor([h.score for h in active])[:, None]
            best, index = scores.flatten().topk(min(self.beam_size, scores.numel()))
            width = logp.size(1)
            active_next = []
            for score, flat in zip(best.tolist(), index.tolist()):
                hyp, token = active[flat // width], flat % width
                if token == self.blank_id:
                    _merge(done, _Hyp(hyp.node, score, hyp.frames))
                else:
                    active_next.append(_Hyp(self._extend(hyp.node, token), score, (frame, hyp.frames)))
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
        return self._trie.tokens(self._beam[0].node)

    def partial_token_frames(self) -> List[int]:
        return frame_list(self._beam[0].frames)

    def finalize(self) -> List[Hypothesis]:
        return [Hypothesis(self._trie.tokens(h.node), h.score, frame_list(h.frames)) for h in self._beam[: self.nbest]]


def _merge(pool: Dict[int, _Hyp], hyp: _Hyp) -> None:
    """Add ``hyp`` to ``pool``; equal token sequences (one trie node) add their probabilities."""
    other = pool.get(hyp.node)
    if other is None:
        pool[hyp.node] = hyp
        return
    best = hyp if hyp.score > other.score else other
    pool[hyp.node] = _Hyp(best.node, log_add(hyp.score, other.score), best.frames)
