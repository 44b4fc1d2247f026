"""DuRep dual-mode Conformer encoder: one set of weights, full-context or chunked streaming.

``forward`` runs a whole padded batch in either mode (streaming is simulated exactly with
chunk attention masks and streaming convolutions). Streaming inference has two levels, as
in WeNet:

* :meth:`DualModeConformerEncoder.forward_chunk` is one chunk step over stacked tensor
  caches (attention keys/values and convolution context of every block): tensors in,
  tensors out, no Python state, so it scripts with TorchScript, traces to ONNX and runs
  on a batch of streams (``forward`` itself is not scripted);
* :meth:`DualModeConformerEncoder.accept_feats` is the buffering layer on top: any number
  of feature frames in, the encoder frames of every completed chunk out.

Both return the same frames as the masked streaming ``forward``. Chunk sizes are in encoder
frames; ``chunk_ms`` converts.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from espnet.nets.pytorch_backend.transformer.subsampling import TooShortUttError
from espnet2.asr.encoder.abs_encoder import AbsEncoder
from torch import nn

from espnet_durep.layers.chunk_mask import chunk_attention_mask, frames_to_ms
from espnet_durep.layers.conformer_layer import ConformerLayer
from espnet_durep.layers.masking import length_mask
from espnet_durep.layers.rel_attention import RelativePositions
from espnet_durep.layers.subsampling import SUBSAMPLING_LAYOUTS, ConvSubsampling
from espnet_durep.modes import FULL, MODES, canonical_mode


@dataclass
class StreamingCache:
    """State carried between :meth:`DualModeConformerEncoder.accept_feats` calls.

    feats: (B, n, idim) feature frames not yet consumed (fewer than one chunk step reads).
    att_cache: (L, B, H, Tc, 2 * d_k) keys | values of every block's cached left context.
    cnn_cache: (L, B, D, K') left context of every block's depthwise convolution.
    return_layers: block outputs to collect (0 = subsampling, k = block k), as in ``forward``.
    layers: {layer: [(B, c, D) per emitted chunk]} collected so far (the caller may pop them).
    """

    chunk_size: int
    num_left_chunks: int
    feats: torch.Tensor
    att_cache: torch.Tensor
    cnn_cache: torch.Tensor
    return_layers: Tuple[int, ...] = ()
    layers: Dict[int, List[torch.Tensor]] = field(default_factory=dict)

    @property
    def required_cache_size(self) -> int:
        """Encoder frames of left context kept between chunks (-1: all)."""
        return self.num_left_chunks * self.chunk_size if self.num_left_chunks >= 0 else -1


class DualModeConformerEncoder(AbsEncoder):
    """Conformer encoder (rel-pos MHSA, macaron FFN, dual-mode conv) for both modes.

    Args (ESPnet conformer names where they exist):
        input_size: feature dimension.
        output_size, attention_heads, linear_units, num_blocks: model size.
        dropout_rate, positional_dropout_rate, attention_dropout_rate: dropouts.
        input_layer: "conv2d" (x4), "conv2d6" (x6) or "conv2d8" (x8) subsampling.
        macaron_style: half-step FFN before attention.
        cnn_module_kernel: odd depthwise kernel size.
        conv_mode: "causal" | "dual" | "chunk" (see :mod:`espnet_durep.layers.dual_mode_conv`).
        chunk_size: default streaming chunk (encoder frames) for eval / decoding.
        num_left_chunks: default left context in chunks (-1 = unlimited).
        dynamic_chunk_training: sample the chunk per batch when training in streaming mode.
        dynamic_chunk_range: [min, max] chunk size sampled uniformly (encoder frames).
        full_context_prob: probability that a sampled "streaming" batch uses full context
            (U2-style single-pass training; keep 0 when full mode is trained explicitly).
        dynamic_left_chunks: also sample the left context per batch.
        left_chunks_range: [min, max] left chunks sampled when dynamic_left_chunks.
        default_mode: mode of ``forward`` when none is given ("full" or "streaming").
        frame_shift_ms: feature frame shift, to report chunk sizes in milliseconds.
    """

    def __init__(
        self,
        input_size: int,
        output_size: int = 256,
        attention_heads: int = 4,
        linear_units: int = 1024,
        num_blocks: int = 12,
        dropout_rate: float = 0.1,
        positional_dropout_rate: float = 0.1,
        attention_dropout_rate: float = 0.0,
        input_layer: str = "conv2d",
        macaron_style: bool = True,
        cnn_module_kernel: int = 15,
        conv_mode: str = "chunk",
        chunk_size: int = 16,
        num_left_chunks: int = -1,
        dynamic_chunk_training: bool = True,
        dynamic_chunk_range: Sequence[int] = (1, 25),
        full_context_prob: float = 0.0,
        dynamic_left_chunks: bool = False,
        left_chunks_range: Sequence[int] = (0, 8),
        default_mode: str = "full",
        frame_shift_ms: float = 10.0,
    ):
        super().__init__()
        if input_layer not in SUBSAMPLING_LAYOUTS:
            raise ValueError(f"input_layer must be one of {sorted(SUBSAMPLING_LAYOUTS)}, got {input_layer!r}")
        default_mode = canonical_mode(default_mode, "default_mode", MODES)
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1 encoder frame, got {chunk_size}")
        lo, hi = dynamic_chunk_range
        if not 1 <= lo <= hi:
            raise ValueError(f"dynamic_chunk_range must satisfy 1 <= min <= max, got {dynamic_chunk_range}")
        self.input_size = input_size
        self._output_size = output_size
        self.embed = ConvSubsampling(input_size, output_size, SUBSAMPLING_LAYOUTS[input_layer], dropout_rate)
        self.rel_pos = RelativePositions(output_size, positional_dropout_rate)
        self.encoders = nn.ModuleList(
            ConformerLayer(output_size, attention_heads, linear_units, cnn_module_kernel, conv_mode,
                           dropout_rate, attention_dropout_rate, macaron_style)
            for _ in range(num_blocks)
        )
        self.after_norm = nn.LayerNorm(output_size)
        self.chunk_size = chunk_size
        self.num_left_chunks = num_left_chunks
        self.dynamic_chunk_training = dynamic_chunk_training
        self.dynamic_chunk_range = (int(lo), int(hi))
        self.full_context_prob = full_context_prob
        self.dynamic_left_chunks = dynamic_left_chunks
        self.left_chunks_range = tuple(int(v) for v in left_chunks_range)
        self.default_mode = default_mode
        self.frame_shift_ms = frame_shift_ms

    # ------------------------------------------------------------------ sizes
    def output_size(self) -> int:
        return self._output_size

    @property
    def subsampling(self) -> int:
        return self.embed.subsampling

    def chunk_ms(self, chunk_size: int) -> float:
        """Duration of ``chunk_size`` encoder frames in milliseconds."""
        return frames_to_ms(chunk_size, self.subsampling, self.frame_shift_ms)

    @property
    def lookahead_ms(self) -> float:
        """Audio the subsampling convs read beyond a chunk's own span (ms)."""
        return self.embed.lookahead_frames * self.frame_shift_ms

    # --------------------------------------------------------------- chunking
    def sample_chunking(self) -> Tuple[int, int]:
        """Dynamic chunk training draw: (chunk_size, num_left_chunks); chunk 0 = full context."""
        if self.full_context_prob > 0 and torch.rand(()) < self.full_context_prob:
            return 0, -1
        lo, hi = self.dynamic_chunk_range
        chunk = int(torch.randint(lo, hi + 1, ()))
        left = self.num_left_chunks
        if self.dynamic_left_chunks:
            left = int(torch.randint(self.left_chunks_range[0], self.left_chunks_range[1] + 1, ()))
        return chunk, left

    def resolve_chunking(
        self, mode: str, chunk_size: Optional[int], num_left_chunks: Optional[int]
    ) -> Tuple[int, int]:
        """Chunking actually used by ``forward``: (chunk_size, left); chunk 0 = full context."""
        if mode not in MODES:
            mode = canonical_mode(mode, "mode", MODES)
        if mode == FULL:
            return 0, -1
        if chunk_size is None and self.training and self.dynamic_chunk_training:
            sampled, sampled_left = self.sample_chunking()
            return sampled, sampled_left if num_left_chunks is None else num_left_chunks
        chunk = self.chunk_size if chunk_size is None else int(chunk_size)
        left = self.num_left_chunks if num_left_chunks is None else int(num_left_chunks)
        if chunk < 1:
            raise ValueError(f"streaming chunk_size must be >= 1, got {chunk}")
        return chunk, left

    # ---------------------------------------------------------------- forward
    def _check_length(self, num_frames: int) -> None:
        if num_frames < self.embed.receptive_field:
            raise TooShortUttError(
                f"has {num_frames} frames < {self.embed.receptive_field} needed by subsampling "
                f"x{self.subsampling}", num_frames, self.embed.receptive_field)

    @torch.jit.unused  # training and whole-utterance encoding; TorchScript covers the chunk step
    def forward(
        self,
        xs_pad: torch.Tensor,
        ilens: torch.Tensor,
        prev_states: Optional[torch.Tensor] = None,
        mode: Optional[str] = None,
        chunk_size: Optional[int] = None,
        num_left_chunks: Optional[int] = None,
        return_layers: Sequence[int] = (),
    ):
        """Encode a padded batch.

        Args:
            xs_pad: (B, T, idim) features; ilens: (B,) lengths.
            mode: "full" or "streaming" (default: ``default_mode``).
            chunk_size, num_left_chunks: streaming chunking; None = configured default
                (sampled per batch when training with dynamic chunks).
            return_layers: block indices to return (0 = subsampling output, k = output of
                block k, 1-based), e.g. for layer-wise distillation.
        Returns:
            (B, T', D) output, (B,) output lengths, and a dict {layer: (B, T', D)} of the
            requested layers (None when none were requested; ESPnet's "states" slot).
        """
        mode = mode or self.default_mode
        self._check_length(int(ilens.min()))  # every utterance, not only the padded length
        chunk, left = self.resolve_chunking(mode, chunk_size, num_left_chunks)
        x = self.embed(xs_pad)
        olens = self.embed.output_lengths(ilens)
        t = x.size(1)
        valid = length_mask(olens, t)
        att_mask = valid[:, None, :] & chunk_attention_mask(t, chunk, left, device=x.device)[None]
        pos = self.rel_pos(t, t)
        wanted = self._check_layers(return_layers)
        layers = {0: x} if 0 in wanted else {}
        for i, layer in enumerate(self.encoders, start=1):
            x = layer(x, att_mask, valid, pos, streaming=chunk > 0, chunk_size=chunk)
            if i in wanted:
                layers[i] = x
        return self.after_norm(x), olens, (layers if wanted else None)

    def _check_layers(self, return_layers: Sequence[int]) -> set:
        wanted = set(return_layers)
        bad = sorted(i for i in wanted if not 0 <= i <= len(self.encoders))
        if bad:
            raise ValueError(f"return_layers {bad} outside 0..{len(self.encoders)}")
        return wanted

    # -------------------------------------------------------------- streaming
    def chunk_window(self, chunk_size: int) -> int:
        """Feature frames one :meth:`forward_chunk` step reads to emit ``chunk_size`` frames."""
        return self.embed.geometry.window(chunk_size)

    def init_cache(
        self, batch_size: int = 1, chunk_size: Optional[int] = None, num_left_chunks: Optional[int] = None,
        return_layers: Sequence[int] = (),
    ) -> StreamingCache:
        """Empty cache for a new utterance (chunking defaults to the configured one);
        ``accept_feats`` collects the outputs of ``return_layers`` in ``cache.layers``."""
        p = next(self.parameters())
        chunk = self.chunk_size if chunk_size is None else int(chunk_size)
        if chunk < 1:
            raise ValueError(f"streaming chunk_size must be >= 1, got {chunk}")
        attn = self.encoders[0].self_attn
        return StreamingCache(
            chunk_size=chunk,
            num_left_chunks=self.num_left_chunks if num_left_chunks is None else int(num_left_chunks),
            feats=p.new_zeros(batch_size, 0, self.input_size),
            att_cache=p.new_zeros(len(self.encoders), batch_size, attn.h, 0, 2 * attn.d_k),
            cnn_cache=p.new_zeros(len(self.encoders), batch_size, self._output_size,
                                  self.encoders[0].conv.cache_frames),
            return_layers=tuple(sorted(self._check_layers(return_layers))),
        )

    def forward_chunk(
        self,
        xs: torch.Tensor,
        required_cache_size: int,
        att_cache: torch.Tensor,
        cnn_cache: torch.Tensor,
        att_cache_mask: Optional[torch.Tensor] = None,
    ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One streaming step: a chunk of features and the caches in, its encoder frames out.

        There is no ``offset`` argument: positions are relative (distances between the
        chunk's queries and the cached keys), so a step does not depend on where the chunk
        lies in the stream.

        Args:
            xs: (B, F, idim) features of one chunk with its subsampling context:
                F = ``chunk_window(c)`` gives c encoder frames (a shorter last chunk, fewer).
            required_cache_size: encoder frames of left context to keep for the next step
                (``num_left_chunks * chunk_size``; < 0 keeps all).
            att_cache: (L, B, H, Tc, 2 * d_k) keys | values of the left context (Tc >= 0).
            cnn_cache: (L, B, D, K') convolution left context.
            att_cache_mask: (B, Tc) bool, False where a stream's cache is padding (streams
                of a batch with less history are left-padded); None: all valid.
        Returns:
            (B, c, D) encoder frames, the new att_cache (L, B, H, Tc', 2 * d_k) with
            Tc' = Tc + c, or at most ``required_cache_size``, and the new cnn_cache.
        """
        ys, att_cache, cnn_cache, _ = self._chunk_step(xs, required_cache_size, att_cache, cnn_cache, att_cache_mask,
                                                       [])
        return ys, att_cache, cnn_cache

    def _chunk_step(
        self, xs: torch.Tensor, required_cache_size: int, att_cache: torch.Tensor, cnn_cache: torch.Tensor,
        att_cache_mask: Optional[torch.Tensor], return_layers: List[int],
    ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, Dict[int, torch.Tensor]]:
        """:meth:`forward_chunk`, plus {layer: (B, c, D)} of ``return_layers``."""
        x = self.embed(xs)
        layers: Dict[int, torch.Tensor] = {}
        if 0 in return_layers:
            layers[0] = x
        n_cached = att_cache.size(3)
        pos = self.rel_pos(x.size(1), n_cached + x.size(1))
        att_mask = x.new_ones(1, x.size(1), n_cached + x.size(1), dtype=torch.bool)
        if att_cache_mask is not None:
            att_mask = torch.cat([att_cache_mask[:, None, :].expand(-1, x.size(1), -1),
                                  att_mask[:, :, n_cached:].expand(x.size(0), -1, -1)], dim=2)
        new_att, new_cnn = [], []
        for i, layer in enumerate(self.encoders):
            k, v = att_cache[i].chunk(2, dim=-1)
            x, (k, v), cnn = layer.forward_chunk(x, att_mask, pos, (k, v), cnn_cache[i])
            kv = torch.cat([k, v], dim=-1)
            if required_cache_size >= 0:
                kv = kv[:, :, -required_cache_size:] if required_cache_size > 0 else kv[:, :, :0]
            new_att.append(kv)
            new_cnn.append(cnn)
            if i + 1 in return_layers:
                layers[i + 1] = x
        return self.after_norm(x), torch.stack(new_att), torch.stack(new_cnn), layers

    def accept_feats(
        self, feats: torch.Tensor, cache: StreamingCache, is_final: bool = False
    ) -> Tuple[torch.Tensor, StreamingCache]:
        """Feed new feature frames; emit the encoder frames of every completed chunk.

        Args:
            feats: (B, n, idim) new feature frames (any n >= 0).
            cache: state from :meth:`init_cache` or the previous call (updated in place
                and returned).
            is_final: end of utterance: also flush a last partial chunk.
        Returns:
            (B, k * chunk_size [+ partial], D) encoder output for the completed chunks.
        """
        buf = torch.cat([cache.feats, feats], dim=1)
        steps, consumed = self.embed.geometry.steps(buf.size(1), cache.chunk_size, is_final)
        outputs = []
        for start, stop in steps:
            ys, cache.att_cache, cache.cnn_cache, layers = self._chunk_step(
                buf[:, start:stop], cache.required_cache_size, cache.att_cache, cache.cnn_cache, None,
                list(cache.return_layers))
            for k, v in layers.items():
                cache.layers.setdefault(k, []).append(v)
            outputs.append(ys)
        cache.feats = buf[:, consumed:]
        if not outputs:
            return buf.new_zeros(buf.size(0), 0, self._output_size), cache
        return torch.cat(outputs, dim=1), cache

    def streaming_forward(
        self,
        xs: torch.Tensor,
        chunk_size: Optional[int] = None,
        num_left_chunks: Optional[int] = None,
        feed_frames: Optional[int] = None,
    ) -> torch.Tensor:
        """Run a whole (unpadded) utterance batch (B, T, idim) through ``accept_feats``.

        ``feed_frames`` is how many feature frames arrive per call (default: one chunk's
        worth, ``chunk_size * subsampling``).
        """
        self._check_length(xs.size(1))
        cache = self.init_cache(xs.size(0), chunk_size, num_left_chunks)
        step = feed_frames or cache.chunk_size * self.subsampling
        outs = []
        for start in range(0, xs.size(1), step):
            y, cache = self.accept_feats(xs[:, start:start + step], cache, is_final=start + step >= xs.size(1))
            outs.append(y)
        return torch.cat(outs, dim=1)
