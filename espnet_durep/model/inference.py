"""The inference contract: what a recogniser asks of a model, for both model families.

A model that decodes (:class:`~espnet_durep.model.dual_mode_asr.DualModeASRModel`, the
transducer models) provides, per mode ("full" or "streaming"; the names of
:mod:`espnet_durep.modes`, the legacy "stream" accepted with a deprecation warning):

* ``searches(mode)``: the names of the incremental searches it runs, its default first;
* ``streaming_encoder``: the encoder that runs chunk by chunk (``init_cache`` / ``accept_feats``);
* ``encode_for_decoding(feats, lens, mode, chunk_size, num_left_chunks) -> (enc, lens)``;
* ``make_search(mode, name, options) -> StreamingSearch``;
* ``second_pass(mode, name, hyps, enc, options) -> hyps`` (re-ranking at the end, or none);
* ``alignment_log_probs(enc) -> (T, V) or None``: full-context CTC log-posteriors, for forced
  alignments (None without a CTC head);
* ``joint_search_heads() -> (ctc, decoder) or None``: the full-context heads ESPnet's joint
  CTC/attention beam search scores with (None: the model has no such search);
* ``blank_id``.

The adapters below give the PyTorch-free searches (:mod:`espnet_durep.search`) what they need
of a PyTorch head.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Protocol, Tuple

import numpy as np
import torch

from espnet_durep.modes import MODES, canonical_mode
from espnet_durep.search.base import Hypothesis, StreamingSearch


@dataclass(frozen=True)
class SearchOptions:
    """beam_size: hypotheses kept; token_beam: tokens per frame tried by the CTC prefix search;
    blank_penalty: subtracted from the CTC blank log-posterior (CTC searches); ctc_weight: CTC
    weight of attention rescoring."""

    beam_size: int = 10
    token_beam: int = 10
    blank_penalty: float = 0.0
    ctc_weight: float = 0.3


class InferenceModel(Protocol):
    blank_id: int

    def searches(self, mode: str) -> Tuple[str, ...]: ...

    @property
    def streaming_encoder(self): ...

    def encode_for_decoding(self, feats: torch.Tensor, feats_lengths: torch.Tensor, mode: str,
                            chunk_size: Optional[int] = None,
                            num_left_chunks: Optional[int] = None) -> Tuple[torch.Tensor, torch.Tensor]: ...

    def make_search(self, mode: str, name: str, options: SearchOptions) -> StreamingSearch: ...

    def second_pass(self, mode: str, name: str, hyps: List[Hypothesis], enc: torch.Tensor,
                    options: SearchOptions) -> List[Hypothesis]: ...

    def alignment_log_probs(self, enc: torch.Tensor) -> Optional[torch.Tensor]: ...

    def joint_search_heads(self) -> Optional[Tuple[torch.nn.Module, torch.nn.Module]]: ...


def check_search(model: InferenceModel, mode: str, name: str) -> str:
    """The canonical name of ``mode``, once ``name`` is known to be one of its searches."""
    mode = canonical_mode(mode, "mode", MODES)
    if name not in model.searches(mode):
        raise ValueError(f"{type(model).__name__} decodes {mode} mode with {', '.join(model.searches(mode))}; "
                         f"got {name!r}")
    return mode


def ctc_log_posteriors(ctc: torch.nn.Module):
    """The searches' ``log_posteriors`` for an ESPnet CTC head: (T, D) tensor -> (T, V) array."""
    @torch.no_grad()
    def log_posteriors(enc: torch.Tensor) -> np.ndarray:
        return torch.log_softmax(ctc.ctc_lo(enc), dim=-1).cpu().numpy()

    return log_posteriors


class RescoringDecoder(torch.nn.Module):
    """ESPnet's Transformer decoder scoring N hypotheses of one utterance under teacher forcing.

    The hypotheses of an n-best list share most of their prefixes, and a causal decoder's
    state at a position depends only on the prefix up to it, so every distinct prefix is
    decoded once: the distinct (hypothesis, position) pairs are packed into one sequence of M
    positions, each attending to its own prefix (its ancestors in the prefix tree) and to the
    encoder output, which every layer projects to keys and values once.  On speechocean762
    n-best lists (10 hypotheses) M is about a third of the N x U positions.  The result is
    the (N, U, V) log-probabilities of decoding each hypothesis alone.  Everything is tensor
    operations (no ``int(max(lengths))`` as in ``decoder.forward``), so it traces for ONNX.
    """

    def __init__(self, decoder: torch.nn.Module):
        super().__init__()
        problem = self.unsupported(decoder)
        if problem:
            raise ValueError(problem)
        self.decoder = decoder

    @staticmethod
    def unsupported(decoder: torch.nn.Module) -> Optional[str]:
        """Why ``decoder`` is not an ESPnet Transformer decoder this module runs (None: it is)."""
        for name in ("embed", "decoders", "normalize_before", "output_layer"):
            if not hasattr(decoder, name):
                return (f"prefix-shared attention rescoring supports ESPnet's Transformer decoders; "
                        f"{type(decoder).__name__} has no {name!r}")
        for layer in decoder.decoders:
            if getattr(layer, "sequential_attn", None) is not None:
                return "prefix-shared attention rescoring does not support decoders with sequential attention"
        return None

    def forward(self, enc: torch.Tensor, ys_in: torch.Tensor, ys_in_lens: torch.Tensor) -> torch.Tensor:
        """enc (1, T, D), ys_in (N, U) (sos + tokens, padded), ys_in_lens (N,) -> log-probs (N, U, V)
        (rows beyond a hypothesis' length are those of another position: not to be used)."""
        n, u = ys_in.shape
        steps = torch.arange(u, device=ys_in.device)
        valid = steps[None, :] < ys_in_lens[:, None]  # (N, U)
        differs = (ys_in[:, None, :] != ys_in[None, :, :]) | ~(valid[:, None, :] & valid[None, :, :])
        shared = torch.cumsum(differs.to(torch.int64), dim=2) == 0  # (N, N, U): rows i, j agree up to u
        owner = torch.argmax(shared.to(torch.int64), dim=1)  # (N, U): first row with the same prefix
        distinct = valid & (owner == torch.arange(n, device=ys_in.device)[:, None])
        rows, cols = torch.nonzero(distinct, as_tuple=True)  # the M packed positions, in (row, col) order
        # position a sees position b iff b's prefix is a prefix of a's (b is a's ancestor or a itself)
        sees = (cols[None, :] <= cols[:, None]) & shared[rows[:, None], rows[None, :], cols[None, :]]
        x = self.decoder.embed(ys_in)[rows, cols][None]  # (1, M, D): token embedding + position = depth
        memory_mask = torch.ones_like(enc[:, None, :, 0], dtype=torch.bool)
        mask = sees[None]
        for layer in self.decoder.decoders:
            x, mask, _, _ = layer(x, mask, enc, memory_mask)
        if self.decoder.normalize_before:
            x = self.decoder.after_norm(x)
        log_probs = torch.log_softmax(self.decoder.output_layer(x[0]).float(), dim=-1)  # (M, V)
        packed = torch.cumsum(distinct.flatten().to(torch.int64), dim=0).view(n, u) - 1  # (N, U) -> packed index
        return log_probs[packed.gather(0, owner).clamp(min=0)]


def decoder_log_probs(decoder: torch.nn.Module, enc: torch.Tensor):
    """Attention rescoring's ``decoder_log_probs`` for an ESPnet decoder over ``enc`` (T, D).

    Transformer decoders run as :class:`RescoringDecoder`; any other ESPnet decoder runs its
    own ``forward`` over N copies of ``enc``.
    """
    rescoring = None if RescoringDecoder.unsupported(decoder) else RescoringDecoder(decoder)

    @torch.no_grad()
    def log_probs(ys_in: np.ndarray, ys_in_lens: np.ndarray) -> np.ndarray:
        ys_in, ys_in_lens = torch.from_numpy(ys_in).to(enc.device), torch.from_numpy(ys_in_lens).to(enc.device)
        if rescoring is not None:
            return rescoring(enc[None], ys_in, ys_in_lens).cpu().numpy()
        n = ys_in.shape[0]
        memory_lens = torch.full((n,), enc.size(0), dtype=torch.long, device=enc.device)
        logits, _ = decoder(enc[None].expand(n, -1, -1), memory_lens, ys_in, ys_in_lens)
        return torch.log_softmax(logits.float(), dim=-1).cpu().numpy()

    return log_probs

