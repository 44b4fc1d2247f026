"""Second pass at the end of an utterance: attention-decoder rescoring of CTC n-best (U2).

The CTC prefix beam search of the streaming pass gives n hypotheses with CTC scores;
the attention decoder reads the whole encoder output once and scores every hypothesis
(teacher forcing, one batched call).  The combined score is
``ctc_weight * ctc + (1 - ctc_weight) * attention``.

The decoder comes in as ``decoder_log_probs(ys_in, ys_in_lens) -> (N, U, V)`` log-posteriors
over the utterance's encoder output (a PyTorch decoder or an ONNX session).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Callable, List

import numpy as np

from espnet_durep.search.base import Hypothesis

DecoderLogProbs = Callable[[np.ndarray, np.ndarray], np.ndarray]


def attention_rescore(
    decoder_log_probs: DecoderLogProbs,
    hyps: List[Hypothesis],
    sos: int,
    eos: int,
    ctc_weight: float = 0.3,
) -> List[Hypothesis]:
    """Rescore ``hyps``; returns them re-ranked (best first).

    ``decoder_log_probs`` is called once with ys_in (N, U) int64 (``sos`` + tokens, padded
    with ``eos``) and ys_in_lens (N,) int64.  The attention score of a hypothesis is
    log p(y_1..y_U, <eos> | encoder output).
    """
    if not hyps:
        return list(hyps)
    n = len(hyps)
    lengths = np.array([len(h.tokens) + 1 for h in hyps], dtype=np.int64)
    ys_in = np.full((n, int(lengths.max())), eos, dtype=np.int64)
    ys_out = np.full_like(ys_in, -1)
    for i, h in enumerate(hyps):
        ys_in[i, 0], ys_in[i, 1: len(h.tokens) + 1] = sos, h.tokens
        ys_out[i, : len(h.tokens)], ys_out[i, len(h.tokens)] = h.tokens, eos
    log_probs = np.asarray(decoder_log_probs(ys_in, lengths), dtype=np.float64)
    valid = ys_out >= 0
    picked = np.take_along_axis(log_probs, np.maximum(ys_out, 0)[..., None], axis=-1)[..., 0]
    att_scores = (picked * valid).sum(-1)
    rescored = [replace(h, score=ctc_weight * h.score + (1 - ctc_weight) * float(a))
                for h, a in zip(hyps, att_scores)]
    return sorted(rescored, key=lambda h: h.score, reverse=True)
