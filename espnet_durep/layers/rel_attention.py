"""Multi-head self-attention with relative positions that works with a key/value cache.

Scores follow Transformer-XL / Conformer: ``(q + u) k^T + (q + v) r_{i-j}^T`` where
``r_d`` is a projected sinusoidal embedding of the distance ``d = pos(i) - pos(j)``.
Because only distances matter, a chunk attending cached keys needs no absolute offset:
the distances of its queries to the cached keys are formed explicitly.
"""
from __future__ import annotations

import math
from typing import Optional, Tuple

import torch
from torch import nn


# score of a blocked query-key pair: exp() of it is exactly 0 in float32/16 next to any real score,
# and it fits in float16 (torch.finfo(...).min would not script, nor fit every dtype)
BLOCKED_SCORE = -1.0e4


class RelativePositions(nn.Module):
    """Sinusoidal embeddings of the query-key distances of one attention call."""

    def __init__(self, d_model: int, dropout_rate: float):
        super().__init__()
        self.d_model = d_model
        self.dropout = nn.Dropout(dropout_rate)
        self.register_buffer(
            "inv_freq",
            torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * -(math.log(10000.0) / d_model)),
            persistent=False,
        )

    def forward(self, num_queries: int, num_keys: int) -> Tuple[torch.Tensor, torch.Tensor]:
        """Queries are the last ``num_queries`` of ``num_keys`` positions.

        Returns:
            pos_emb: (R, d_model) embeddings of distances ``d_min .. d_max``.
            rel_index: (num_queries, num_keys) long, row of ``pos_emb`` for each pair.
        """
        q_pos = torch.arange(num_keys - num_queries, num_keys, device=self.inv_freq.device)
        k_pos = torch.arange(num_keys, device=self.inv_freq.device)
        dist = q_pos[:, None] - k_pos[None, :]
        d_min = -(num_queries - 1) if num_queries > 0 else 0
        d_max = num_keys - 1
        values = torch.arange(d_min, d_max + 1, device=self.inv_freq.device, dtype=torch.float32)
        angles = values[:, None] * self.inv_freq[None, :]
        pos_emb = torch.stack([angles.sin(), angles.cos()], dim=-1).flatten(1)
        return self.dropout(pos_emb), dist - d_min


class RelPositionSelfAttention(nn.Module):
    """Self-attention over ``cache + new`` keys with relative positional scores."""

    def __init__(self, n_head: int, d_model: int, dropout_rate: float):
        super().__init__()
        if d_model % n_head:
            raise ValueError(f"output_size={d_model} is not divisible by attention_heads={n_head}")
        self.h, self.d_k = n_head, d_model // n_head
        self.blocked_score = BLOCKED_SCORE
        self.linear_q = nn.Linear(d_model, d_model)
        self.linear_k = nn.Linear(d_model, d_model)
        self.linear_v = nn.Linear(d_model, d_model)
        self.linear_out = nn.Linear(d_model, d_model)
        self.linear_pos = nn.Linear(d_model, d_model, bias=False)
        self.pos_bias_u = nn.Parameter(torch.zeros(n_head, self.d_k))
        self.pos_bias_v = nn.Parameter(torch.zeros(n_head, self.d_k))
        nn.init.xavier_uniform_(self.pos_bias_u)
        nn.init.xavier_uniform_(self.pos_bias_v)
        self.dropout = nn.Dropout(dropout_rate)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        return x.view(b, t, self.h, self.d_k).transpose(1, 2)  # (B, H, T, d_k)

    def forward(
        self,
        x: torch.Tensor,
        mask: torch.Tensor,
        pos_emb: torch.Tensor,
        rel_index: torch.Tensor,
        kv_cache: Optional[Tuple[torch.Tensor, torch.Tensor]] = None,
    ) -> Tuple[torch.Tensor, Tuple[torch.Tensor, torch.Tensor]]:
        """Attend.

        Args:
            x: (B, Tq, D) new frames.
            mask: (B or 1, Tq, Tk) bool, True = may attend; Tk = cached + Tq.
            pos_emb, rel_index: from :class:`RelativePositions` for (Tq, Tk).
            kv_cache: keys and values (B, H, Tc, d_k) of earlier frames, or None.
        Returns:
            (B, Tq, D) output and the keys/values (B, H, Tk, d_k) including the new frames.
        """
        q, k, v = self._heads(self.linear_q(x)), self._heads(self.linear_k(x)), self._heads(self.linear_v(x))
        if kv_cache is not None:
            k = torch.cat([kv_cache[0], k], dim=2)
            v = torch.cat([kv_cache[1], v], dim=2)
        p = self.linear_pos(pos_emb).view(-1, self.h, self.d_k).transpose(0, 1)  # (H, R, d_k)
        content = torch.matmul(q + self.pos_bias_u[:, None], k.transpose(-2, -1))
        position = torch.matmul(q + self.pos_bias_v[:, None], p.transpose(-2, -1))  # (B, H, Tq, R)
        position = position.gather(-1, rel_index.expand(q.size(0), self.h, -1, -1))
        scores = (content + position) / math.sqrt(self.d_k)
        blocked = ~mask.unsqueeze(1)
        scores = scores.masked_fill(blocked, self.blocked_score)
        attn = torch.softmax(scores, dim=-1).masked_fill(blocked, 0.0)  # rows with no key -> 0
        out = torch.matmul(self.dropout(attn), v).transpose(1, 2).reshape(x.size(0), -1, self.h * self.d_k)
        return self.linear_out(out), (k, v)
