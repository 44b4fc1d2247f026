#!/usr/bin/env python3
"""CPU latency benchmark of the dual-mode Conformer encoder in streaming and full mode.

Random weights, eval mode, no autograd, one utterance of random 80-dim features.
Per-chunk latency of the cached ``accept_feats`` / ``forward_chunk`` path is measured for chunks emitted
around two points of the utterance (default 10 s and 60 s), with bounded and unlimited
left context, next to a naive baseline that re-encodes the whole prefix with the masked
streaming ``forward`` for every chunk.  Encoder real-time factors (compute time / audio
time) are given for the cached streaming pass and for one full-context ``forward``.

Example::

    python tools/bench/encoder_streaming.py                # ~30M params, about 1-2 min
    python tools/bench/encoder_streaming.py --quick        # tiny model, smoke check
"""
from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import torch

from bench_common import median_p90, print_table as print_aligned
from espnet_durep.encoder.dual_mode_conformer import DualModeConformerEncoder

FEATURE_DIM = 80
FRAME_SHIFT_S = 0.01
# ~30M parameters: 18 blocks of d=256, 4 heads, macaron FFN 1024, conv kernel 15, conv2d (x4)
DEFAULT_MODEL = dict(output_size=256, attention_heads=4, linear_units=1024, num_blocks=18,
                     cnn_module_kernel=15, input_layer="conv2d", conv_mode="chunk")
QUICK_MODEL = dict(output_size=32, attention_heads=2, linear_units=64, num_blocks=2,
                   cnn_module_kernel=5, input_layer="conv2d", conv_mode="chunk")


@dataclass
class Row:
    """One line of the result table; latencies in ms, None where not measured."""

    method: str
    left: str
    early: Optional[Tuple[float, float]] = None  # (median, p90)
    late: Optional[Tuple[float, float]] = None
    rtf: Optional[float] = None


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--utt_seconds", type=float, default=62.0,
                   help="length of the random utterance in seconds (must reach the late point + window)")
    p.add_argument("--chunk_size", type=int, default=16, help="chunk size in encoder frames (16 = 640 ms)")
    p.add_argument("--left_chunks", type=int, default=4,
                   help="bounded left context in chunks (the unlimited case is always measured too)")
    p.add_argument("--points", type=float, nargs=2, default=(10.0, 60.0), metavar=("EARLY", "LATE"),
                   help="positions in the utterance (s) around which per-chunk latency is reported")
    p.add_argument("--window", type=float, default=1.5,
                   help="chunks emitted within +-WINDOW seconds of a point count for that point")
    p.add_argument("--repeats", type=int, default=3,
                   help="streaming passes, full-context forwards and naive calls per point")
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    p.add_argument("--seed", type=int, default=0, help="seed of the random weights and features")
    p.add_argument("--quick", action="store_true", help="tiny model and one repeat (smoke check)")
    args = p.parse_args(argv)
    if args.quick:
        args.repeats = 1
    if args.chunk_size < 1 or args.repeats < 1 or args.threads < 1:
        p.error("--chunk_size, --repeats and --threads must be >= 1")
    early, late = args.points
    if not 0 < early < late or late + args.window > args.utt_seconds:
        p.error(f"need 0 < EARLY < LATE and LATE + window <= utt_seconds; got points {args.points}, "
                f"window {args.window}, utt_seconds {args.utt_seconds}")
    return args


def chunk_end_seconds(enc: DualModeConformerEncoder, index: int, chunk: int) -> float:
    """Audio time at which chunk ``index`` is complete (its own span, without look-ahead)."""
    return (index + 1) * enc.chunk_ms(chunk) / 1000.0


def stream_pass(enc: DualModeConformerEncoder, feats: torch.Tensor, chunk: int, left: int):
    """Feed one chunk of features per call. Returns ([(chunk end s, latency ms)], total s)."""
    cache = enc.init_cache(1, chunk, left)
    step = chunk * enc.subsampling
    samples, total, emitted = [], 0.0, 0
    for start in range(0, feats.size(1), step):
        tic = time.perf_counter()
        out, cache = enc.accept_feats(feats[:, start:start + step], cache,
                                      is_final=start + step >= feats.size(1))
        elapsed = time.perf_counter() - tic
        total += elapsed
        n_chunks = -(-out.size(1) // chunk)
        if n_chunks == 1:  # calls that emit one chunk measure that chunk's latency
            samples.append((chunk_end_seconds(enc, emitted, chunk), 1000.0 * elapsed))
        emitted += n_chunks
    return samples, total


def around(samples: List[Tuple[float, float]], point: float, window: float) -> List[float]:
    return [ms for t, ms in samples if abs(t - point) <= window]


def naive_latency(enc, feats, chunk: int, left: int, point: float, repeats: int) -> List[float]:
    """Masked streaming ``forward`` over the whole prefix up to the chunks nearest ``point``."""
    per_chunk_s = enc.chunk_ms(chunk) / 1000.0
    first = max(0, round(point / per_chunk_s) - 1 - repeats // 2)
    latencies = []
    for index in range(first, first + repeats):
        n = (index + 1) * chunk * enc.subsampling + enc.embed.lookahead_frames
        prefix = feats[:, :n]
        tic = time.perf_counter()
        enc(prefix, torch.tensor([n]), mode="streaming", chunk_size=chunk, num_left_chunks=left)
        latencies.append(1000.0 * (time.perf_counter() - tic))
    return latencies


def full_forward_seconds(enc, feats, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        tic = time.perf_counter()
        enc(feats, torch.tensor([feats.size(1)]), mode="full")
        times.append(time.perf_counter() - tic)
    return statistics.median(times)


def fmt(pair: Optional[Tuple[float, float]]) -> List[str]:
    return ["-", "-"] if pair is None else [f"{pair[0]:.1f}", f"{pair[1]:.1f}"]


def print_table(rows: List[Row], points: Sequence[float]) -> None:
    early, late = points
    header = ["method", "left", f"{early:g}s med", f"{early:g}s p90", f"{late:g}s med", f"{late:g}s p90",
              f"{late:g}s/{early:g}s", "RTF"]
    lines = []
    for r in rows:
        ratio = f"{r.late[0] / r.early[0]:.2f}" if r.early and r.late else "-"
        rtf = "-" if r.rtf is None else f"{r.rtf:.3f}"
        lines.append([r.method, r.left, *fmt(r.early), *fmt(r.late), ratio, rtf])
    print_aligned(header, lines, left=2)


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Row]:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    model = QUICK_MODEL if args.quick else DEFAULT_MODEL
    enc = DualModeConformerEncoder(FEATURE_DIM, dropout_rate=0.0, positional_dropout_rate=0.0, **model).eval()
    n_params = sum(p.numel() for p in enc.parameters())
    n_frames = round(args.utt_seconds / FRAME_SHIFT_S)
    feats = torch.randn(1, n_frames, FEATURE_DIM)
    chunk, window = args.chunk_size, args.window
    print(f"encoder: {model}  parameters: {n_params:,}")
    print(f"utterance {args.utt_seconds:g} s ({n_frames} feature frames), chunk {chunk} frames = "
          f"{enc.chunk_ms(chunk):.0f} ms + {enc.lookahead_ms:.0f} ms look-ahead, threads {torch.get_num_threads()}, "
          f"repeats {args.repeats}, latency window +-{window:g} s")
    rows = {}
    with torch.inference_mode():
        stream_pass(enc, feats[:, : 20 * chunk * enc.subsampling], chunk, args.left_chunks)  # warm-up
        for left in (args.left_chunks, -1):
            samples, total = [], 0.0
            for _ in range(args.repeats):
                pass_samples, pass_total = stream_pass(enc, feats, chunk, left)
                samples += pass_samples
                total += pass_total
            name = "bounded" if left >= 0 else "unlimited"
            rows[name] = Row("cached accept_feats", "unlimited" if left < 0 else str(left),
                             median_p90(around(samples, args.points[0], window)),
                             median_p90(around(samples, args.points[1], window)),
                             total / args.repeats / args.utt_seconds)
        rows["naive"] = Row("naive prefix re-encode", str(args.left_chunks),
                            *(median_p90(naive_latency(enc, feats, chunk, args.left_chunks, p, args.repeats))
                              for p in args.points))
        rows["full"] = Row("full-context forward", "all",
                           rtf=full_forward_seconds(enc, feats, args.repeats) / args.utt_seconds)
    print()
    print_table(list(rows.values()), args.points)
    print(f"\nlatency: ms of compute per {enc.chunk_ms(chunk):.0f} ms chunk (median / p90); "
          "RTF: compute seconds per audio second.\nThe naive baseline's cost per chunk grows with the prefix, "
          "so a single RTF does not describe it.")
    return rows


if __name__ == "__main__":
    main()
