"""Second pass at the end of an utterance: attention-decoder rescoring of CTC n-best (U2).

The CTC prefix beam search of the streaming pass gives n hypotheses with CTC scores;
the attention decoder reads the whole encoder output once and scores every hypothesis
(teacher forcing, one batched call).  The combined score is
``ctc_weight * ctc + (1 - ctc_weight) * attention``.
"""
from __future__ import annotations

from dataclasses import replace
from typing import List

import torch
from torch import nn

from espnet_durep.streaming.search import Hypothesis


@torch.no_grad()
def attention_rescore(
    decoder: nn.Module,
    enc: torch.Tensor,
    hyps: List[Hypothesis],
    sos: int,
    eos: int,
    ctc_weight: float = 0.3,
) -> List[Hypothesis]:
    """Rescore ``hyps`` with ``decoder`` over ``enc`` (T, D); returns them re-ranked.

    The attention score of a hypothesis is log p(y_1..y_U, <eos> | enc).
    """
    if not hyps or enc.size(0) == 0:
        return list(hyps)
    n = len(hyps)
    lengths = torch.tensor([len(h.tokens) + 1 for h in hyps])
    ys_in = torch.full((n, int(lengths.max())), eos, dtype=torch.long)
    ys_out = torch.full_like(ys_in, -1)
    for i, h in enumerate(hyps):
        tokens = torch.tensor(h.tokens, dtype=torch.long)
        ys_in[i, 0], ys_in[i, 1: len(h.tokens) + 1] = sos, tokens
        ys_out[i, : len(h.tokens)], ys_out[i, len(h.tokens)] = tokens, eos
    memory = enc[None].expand(n, -1, -1)
    memory_lens = torch.full((n,), enc.size(0), dtype=torch.long)
    logits, _ = decoder(memory, memory_lens, ys_in.to(enc.device), lengths.to(enc.device))
    log_probs = torch.log_softmax(logits.float(), dim=-1).cpu()
    valid = ys_out >= 0
    picked = log_probs.gather(-1, ys_out.clamp(min=0)[..., None]).squeeze(-1)
    att_scores = (picked * valid).sum(-1)
    rescored = [replace(h, score=ctc_weight * h.score + (1 - ctc_weight) * float(a))
                for h, a in zip(hyps, att_scores)]
    return sorted(rescored, key=lambda h: h.score, reverse=True)
