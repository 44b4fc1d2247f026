#!/usr/bin/env python3
"""Encoder speed side by side: ESPnet's Conformer and contextual-block Conformer next to ours.

One process, random weights, eval mode, no autograd, random 80-dim features, one CPU thread
by default. All encoders have the same architecture (default 12 blocks, d=256, FFN 2048,
4 heads, conv kernel 31, conv2d x4: ~33 M parameters). Ours is the encoder of a random
dual-mode ASR model built by the task, so that the same weights also run in our ONNX
export. Streaming uses ``--chunk_size`` encoder frames (16 = 640 ms); ESPnet's
contextual-block encoder gets our chunk as its hop, one more chunk of look-ahead and a
block of 2.5 chunks (its 40 / 16 / 16 default ratio).

Systems, for each audio length (default 10 s and 60 s):

* ``espnet full``: ``ConformerEncoder.forward`` over the whole utterance;
* ``ours full``: ``DualModeConformerEncoder.forward(mode="full")``;
* ``espnet contextual-block``: its streaming inference (``infer_mode=True``), one hop of
  features per call;
* ``ours stream left N`` / ``unlimited``: ``accept_feats`` with one chunk of features per call;
* ``ours torchscript left N``: the tensor chunk step ``forward_chunk`` traced, frozen and
  optimised for inference (``torch.jit.optimize_for_inference``) once the left context has
  filled (the first chunks run eagerly; two warm-up calls of the compiled step are not timed);
* ``ours batched B=k``: ``EncoderStreamBatch`` advancing k streams of that length in lockstep;
  its RTF is per stream (compute / (k x audio));
* ``onnx full`` / ``onnx stream left N`` / ``onnx batched B=k``: the same weights exported by
  ``export_onnx`` and run by the PyTorch-free runtime on ONNX Runtime (``OnnxModel.encode_full``,
  ``OnnxEncoderStream.accept`` one chunk of features per call, and ``batched_chunk_step`` over k
  ``OnnxEncoderStream`` s, as the server runs them);
* ``ours int8 ...`` / ``espnet int8 ...``: copies whose linear weights are int8, dynamically
  quantised in PyTorch (``quantize_linear_weights``, the ``--quantize int8`` decoding option;
  other numerics, a quarter of the weight bytes); ESPnet's pointwise convolutions stay float;
* ``onnx int8 ...``: the same three on the ``export_onnx --quantize int8`` export (dynamic int8
  quantisation of the weights: a quarter of the bytes to read per chunk, other numerics; the
  README measures its accuracy on a trained model).

ESPnet's encoders run in PyTorch only, so the like-for-like comparison with them is ours in
PyTorch; the ONNX rows show what our deployed runtime does with the same weights, and their
ratios are against ESPnet in PyTorch (a cross-backend ratio, labelled as such).

Every system runs ``--repeats`` times, interleaved with the others, and its fastest run
counts (on a shared machine, the fastest run is the one least disturbed by other load).

Printed: RTF (compute / audio time), the median and p90 compute per chunk call (ms), the
ratios against the targets of the streaming work, a breakdown of where one streaming
chunk's time goes (per component, timed with forward hooks; the rest is glue code), and
the encoder's matrix products alone at the streaming step's rows and at the full pass's,
with PyTorch's default path and int8: a step reads every weight for one chunk's frames,
the full pass once for the utterance, so where the weights do not fit in the cache, their
ratio bounds the streaming / full-context ratio that float32 products on that path allow,
however the rest of the step is written (int8 weights: a quarter of the bytes to read).

Example::

    python tools/bench/streaming_speed.py                 # ~33 M parameters, a few minutes
    python tools/bench/streaming_speed.py --quick         # tiny models, smoke check
"""
from __future__ import annotations

import argparse
import copy
import tempfile
import time
from pathlib import Path
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from bench_common import median_p90, model_config, print_table, save_experiment, write_tokens
from espnet_durep._offline import import_offline
from espnet_durep.encoder.dual_mode_conformer import DualModeConformerEncoder
from espnet_durep.export.onnx import export_onnx
from espnet_durep.inference.recognizer import Speech2TextDualMode
from espnet_durep.inference.stream_batch import EncoderStreamBatch
from espnet_durep.layers.quantized_linear import quantize_linear_weights
from espnet_durep.runtime.batching import batched_chunk_step
from espnet_durep.runtime.recognizer import OnnxSpeech2Text
from espnet_durep.tasks.durep import DurepTask

FEATURE_DIM = 80
FRAME_SHIFT_S = 0.01
MODEL = dict(output_size=256, attention_heads=4, linear_units=2048, num_blocks=12, cnn_module_kernel=31)
QUICK_MODEL = dict(output_size=32, attention_heads=2, linear_units=64, num_blocks=2, cnn_module_kernel=5)
DECODER = dict(attention_heads=2, linear_units=64, num_blocks=1)  # not timed; the export needs one
# Copies of an encoder with another matrix-product path for its linear maps (in place, given the chunk).
WEIGHT_VARIANTS: Dict[str, Callable[[torch.nn.Module, int], int]] = {
    "int8": lambda module, chunk: quantize_linear_weights(module),
}


@dataclass
class Result:
    system: str
    seconds: float         # audio per stream
    compute_s: float       # total compute
    streams: int = 1
    calls_ms: Optional[List[float]] = None  # compute per chunk call

    @property
    def rtf(self) -> float:
        return self.compute_s / (self.streams * self.seconds)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, nargs="+", default=[10.0, 60.0], help="audio lengths (s)")
    p.add_argument("--chunk_size", type=int, default=16, help="chunk in encoder frames (16 = 640 ms)")
    p.add_argument("--left_chunks", type=int, default=4, help="bounded left context in chunks")
    p.add_argument("--batch_sizes", type=int, nargs="+", default=[1, 4, 16], help="streams per batched step")
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    p.add_argument("--repeats", type=int, default=3,
                   help="runs of every system (interleaved); the fastest counts, as timeit does")
    p.add_argument("--quick", action="store_true", help="tiny models, 3 s of audio (smoke check)")
    args = p.parse_args(argv)
    if args.quick:
        args.seconds, args.batch_sizes, args.repeats = [3.0], [1, 4], 1
    return args


def timed(fn: Callable, *a):
    tic = time.perf_counter()
    out = fn(*a)
    return out, time.perf_counter() - tic


def espnet_encoders(model: dict, chunk: int):
    import_offline("espnet2.tasks.asr")
    from espnet2.asr.encoder.conformer_encoder import ConformerEncoder
    from espnet2.asr.encoder.contextual_block_conformer_encoder import ContextualBlockConformerEncoder

    common = dict(output_size=model["output_size"], attention_heads=model["attention_heads"],
                  linear_units=model["linear_units"], num_blocks=model["num_blocks"],
                  cnn_module_kernel=model["cnn_module_kernel"], dropout_rate=0.0, positional_dropout_rate=0.0,
                  attention_dropout_rate=0.0, input_layer="conv2d", macaron_style=True, use_cnn_module=True)
    full = ConformerEncoder(FEATURE_DIM, pos_enc_layer_type="rel_pos", selfattention_layer_type="rel_selfattn",
                            rel_pos_type="latest", **common).eval()
    block = ContextualBlockConformerEncoder(FEATURE_DIM, block_size=round(2.5 * chunk), hop_size=chunk,
                                            look_ahead=chunk, **common).eval()
    return full, block


def run_espnet_block(enc, feats: torch.Tensor, hop_frames: int, name: str = "espnet") -> Result:
    states, calls = None, []
    n = feats.size(1)
    for start in range(0, n, hop_frames):
        piece = feats[:, start:start + hop_frames]
        final = start + hop_frames >= n
        (_, _, states), dt = timed(enc, piece, torch.tensor([piece.size(1)]), states, final, True)
        calls.append(1000 * dt)
    return Result(f"{name} contextual-block", n * FRAME_SHIFT_S, sum(calls) / 1000, calls_ms=calls)


def run_ours_stream(enc: DualModeConformerEncoder, feats: torch.Tensor, chunk: int, left: int,
                    name: str = "ours") -> Result:
    cache, calls = enc.init_cache(1, chunk, left), []
    step, n = chunk * enc.subsampling, feats.size(1)
    for start in range(0, n, step):
        _, dt = timed(enc.accept_feats, feats[:, start:start + step], cache, start + step >= n)
        calls.append(1000 * dt)
    context = f"left {left}" if left >= 0 else "unlimited"
    return Result(f"{name} stream {context}", n * FRAME_SHIFT_S, sum(calls) / 1000, calls_ms=calls)


class ChunkStep(torch.nn.Module):
    def __init__(self, enc: DualModeConformerEncoder, required_cache_size: int):
        super().__init__()
        self.enc, self.required_cache_size = enc, required_cache_size

    def forward(self, xs, att_cache, cnn_cache):
        return self.enc.forward_chunk(xs, self.required_cache_size, att_cache, cnn_cache)


def run_ours_torchscript(enc: DualModeConformerEncoder, feats: torch.Tensor, chunk: int, left: int) -> Result:
    """Eager until the left context is full, then the traced, frozen and optimised step (fixed cache shape)."""
    keep, window, hop = left * chunk, enc.chunk_window(chunk), chunk * enc.subsampling
    cache = enc.init_cache(1, chunk, left)
    att, cnn = cache.att_cache, cache.cnn_cache
    starts = list(range(0, feats.size(1) - window + 1, hop))
    calls, step = [], ChunkStep(enc, keep)
    for i, start in enumerate(starts):
        xs = feats[:, start:start + window]
        if i == left:
            traced = torch.jit.trace(step, (xs, att, cnn), check_trace=False)
            step = torch.jit.optimize_for_inference(torch.jit.freeze(traced.eval()))
            for _ in range(2):  # the first calls of a compiled module run its optimisation passes
                step(xs, att, cnn)
        (_, att, cnn), dt = timed(step, xs, att, cnn)
        calls.append(1000 * dt)
    return Result(f"ours torchscript left {left}", feats.size(1) * FRAME_SHIFT_S, sum(calls) / 1000, calls_ms=calls)


def run_onnx_full(name: str, onnx: OnnxSpeech2Text, feats: np.ndarray) -> Result:
    return Result(f"{name} full", feats.shape[0] * FRAME_SHIFT_S, timed(onnx.model.encode_full, feats)[1])


def run_onnx_stream(name: str, onnx: OnnxSpeech2Text, feats: np.ndarray, chunk: int, left: int) -> Result:
    stream, calls = onnx.new_encoder_stream(chunk, left), []
    step, n = chunk * onnx.geometry.subsampling, feats.shape[0]
    for start in range(0, n, step):
        _, dt = timed(stream.accept, feats[start:start + step], start + step >= n)
        calls.append(1000 * dt)
    return Result(f"{name} stream left {left}", n * FRAME_SHIFT_S, sum(calls) / 1000, calls_ms=calls)


def run_onnx_batched(name: str, onnx: OnnxSpeech2Text, feats: np.ndarray, chunk: int, left: int, k: int) -> Result:
    """k streams of the same length advanced in lockstep by batched chunk steps (as the server does)."""
    streams = [onnx.new_encoder_stream(chunk, left) for _ in range(k)]
    inputs = [feats + 0.01 * i for i in range(k)]
    step, n, total = chunk * onnx.geometry.subsampling, feats.shape[0], 0.0

    def advance(is_final: bool) -> None:
        while True:
            windows = [s.next_window(is_final) for s in streams]
            if any(w is None for w in windows):
                return
            outs = batched_chunk_step(onnx.model, windows, [s.att_cache for s in streams],
                                      [s.cnn_cache for s in streams])
            for s, out in zip(streams, outs):
                s.complete(*out)

    for start in range(0, n, step):
        for s, x in zip(streams, inputs):
            s.push(x[start:start + step])
        total += timed(advance, start + step >= n)[1]
    return Result(f"{name} batched B={k} left {left}", n * FRAME_SHIFT_S, total, streams=k)


def run_ours_batched(enc: DualModeConformerEncoder, feats: torch.Tensor, chunk: int, left: int, k: int,
                     name: str = "ours") -> Result:
    batch = EncoderStreamBatch(enc, chunk, left)
    streams = [feats[0] + 0.01 * i for i in range(k)]  # k different streams of the same length
    for i in range(k):
        batch.add(i)
    step, n, total = chunk * enc.subsampling, feats.size(1), 0.0

    def advance():
        while batch.ready():
            batch.step()

    for start in range(0, n, step):
        for i, x in enumerate(streams):
            batch.accept(i, x[start:start + step])
        total += timed(advance)[1]
    total += sum(timed(batch.finish, i)[1] for i in range(k))
    return Result(f"{name} batched B={k} left {left}", n * FRAME_SHIFT_S, total, streams=k)


def breakdown(enc: DualModeConformerEncoder, feats: torch.Tensor, chunk: int, left: int) -> List[List[str]]:
    """Compute per streaming chunk by component (each component's streaming method wrapped
    with a timer); the rest is glue code outside them (buffering, cache slicing and
    stacking, Python per layer)."""
    parts = {"subsampling": [(enc.embed, "forward")], "positions": [(enc.rel_pos, "forward")]}
    for name in ("ff_macaron", "self_attn", "ff"):
        parts[name] = [(getattr(layer, name), "forward") for layer in enc.encoders if getattr(layer, name) is not None]
    parts["conv"] = [(layer.conv, "forward_chunk") for layer in enc.encoders]
    norms = [m for layer in enc.encoders for m in (layer.norm_ff_macaron, layer.norm_mha, layer.norm_conv,
                                                  layer.norm_ff, layer.norm_final) if m is not None]
    parts["layer norms"] = [(m, "forward") for m in norms + [enc.after_norm]]
    spent = {name: 0.0 for name in parts}

    def timer(name: str, method: Callable) -> Callable:
        def timed_method(*a, **kw):
            tic = time.perf_counter()
            out = method(*a, **kw)
            spent[name] += time.perf_counter() - tic
            return out
        return timed_method

    wrapped = [(m, attr) for targets in parts.values() for m, attr in targets]
    for name, targets in parts.items():
        for m, attr in targets:
            setattr(m, attr, timer(name, getattr(m, attr)))
    try:
        run = run_ours_stream(enc, feats, chunk, left)
    finally:
        for m, attr in wrapped:
            delattr(m, attr)  # back to the class method
    n_calls, total = len(run.calls_ms), run.compute_s
    rows = [[name, f"{1000 * t / n_calls:.2f}", f"{100 * t / total:.0f} %"] for name, t in spent.items()]
    rest = total - sum(spent.values())
    rows.append(["glue (outside the components)", f"{1000 * rest / n_calls:.2f}", f"{100 * rest / total:.0f} %"])
    rows.append(["total (timers included)", f"{1000 * total / n_calls:.2f}", "100 %"])
    return rows


def frame_weights(enc: DualModeConformerEncoder) -> List[Tuple[torch.Tensor, Optional[torch.Tensor]]]:
    """(weight (out, in), bias) of every linear map the encoder applies to each frame, in model
    order: the blocks' feed-forward and attention projections and the convolution modules'
    kernel-1 (pointwise) convolutions, and the subsampling's output projection."""
    maps = [(m.weight, m.bias) for m in enc.embed.modules() if isinstance(m, torch.nn.Linear)]
    for layer in enc.encoders:
        for m in layer.modules():
            if isinstance(m, torch.nn.Linear) and m is not layer.self_attn.linear_pos:
                maps.append((m.weight, m.bias))
            elif isinstance(m, torch.nn.Conv1d) and m.kernel_size == (1,):
                maps.append((m.weight.squeeze(-1), m.bias))
    return maps


def linear_floor(enc: DualModeConformerEncoder, chunk: int, full_frames: int, repeats: int = 5,
                 variant: Optional[str] = None) -> List[List[str]]:
    """The matrix products alone: every per-frame weight once, in model order, for ``chunk`` rows
    (one streaming step) and for ``full_frames`` rows (one full-context pass), timed the same
    way (``variant``: from copies of the weights on a :data:`WEIGHT_VARIANTS` path).  A
    streaming step reads every weight for ``chunk`` frames, the full pass for all of them, so
    with weights larger than the cache this bounds what any chunk step on that path can reach."""
    maps = torch.nn.ModuleList()
    with torch.inference_mode(False), torch.no_grad():  # packing needs weights made outside inference mode
        for w, b in frame_weights(enc):
            linear = torch.nn.Linear(w.size(1), w.size(0), bias=b is not None)
            linear.weight.copy_(w)
            if b is not None:
                linear.bias.copy_(b)
            maps.append(linear)
        flops_per_row = 2 * sum(m.weight.numel() for m in maps)
        if variant is not None:
            WEIGHT_VARIANTS[variant](maps, chunk)
    label = f" {variant}" if variant else ""
    rows, per_chunk = [], []
    for name, n in ((f"streaming step{label}", chunk), (f"full pass{label}", full_frames)):
        inputs = {m.in_features: torch.randn(1, n, m.in_features) for m in maps}
        spent = []
        with torch.inference_mode():
            for _ in range(repeats + 1):
                tic = time.perf_counter()
                for m in maps:
                    m(inputs[m.in_features])
                spent.append(time.perf_counter() - tic)
        per_call = float(np.median(spent[1:]))
        per_chunk.append(per_call * chunk / n)
        rows.append([name, str(n), f"{1000 * per_chunk[-1]:.2f}", f"{flops_per_row * n / per_call / 1e9:.0f}"])
    rows.append([f"ratio, streaming / full{label}", "", f"{per_chunk[0] / per_chunk[1]:.2f}", ""])
    return rows


def build_ours(model: dict, chunk: int, tmp: Path) -> Tuple[Speech2TextDualMode, Dict[str, OnnxSpeech2Text]]:
    """A random dual-mode ASR model with our encoder of size ``model``, and its fp32 and int8 ONNX exports."""
    tokens = write_tokens(tmp / "tokens.txt", 8)
    config = model_config("dual_mode_conformer", {**model, "conv_mode": "chunk", "chunk_size": chunk}, DECODER,
                          "dual_mode", 0.3)
    save_experiment(tmp / "exp", DurepTask, config, tokens, seed=0)
    s2t = Speech2TextDualMode(tmp / "exp" / "config.yaml", tmp / "exp" / "model.pth")
    exports = {}
    for name, quantize in (("onnx", None), ("onnx int8", "int8")):
        export_onnx(s2t, tmp / name.replace(" ", "_"), quantize=quantize)
        exports[name] = OnnxSpeech2Text(tmp / name.replace(" ", "_"))
    return s2t, exports


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Result]:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = QUICK_MODEL if args.quick else MODEL
    chunk, left = args.chunk_size, args.left_chunks
    with tempfile.TemporaryDirectory(prefix="streaming_speed_") as tmp:
        s2t, exports = build_ours(model, chunk, Path(tmp))
    ours = s2t.encoder.eval()
    torch.manual_seed(0)
    espnet_full, espnet_block = espnet_encoders(model, chunk)
    copies = {}  # (variant, encoder): the same weights, the linear maps on another path
    for variant, convert in WEIGHT_VARIANTS.items():
        for name, enc in (("ours", ours), ("espnet full", espnet_full), ("espnet block", espnet_block)):
            copies[variant, name] = copy.deepcopy(enc)
            convert(copies[variant, name], chunk)
    sizes = {name: sum(p.numel() for p in m.parameters())
             for name, m in (("ours", ours), ("espnet full", espnet_full), ("espnet block", espnet_block))}
    print(f"model {model}, chunk {chunk} frames = {ours.chunk_ms(chunk):.0f} ms, left {left} chunks, "
          f"threads {torch.get_num_threads()}; parameters: "
          + ", ".join(f"{k} {v / 1e6:.1f} M" for k, v in sizes.items()))
    results: Dict[str, Result] = {}
    hop = chunk * ours.subsampling
    with torch.inference_mode():
        warm = torch.randn(1, 3 * hop + 20, FEATURE_DIM)
        for enc in [espnet_full] + [copies[v, "espnet full"] for v in WEIGHT_VARIANTS]:
            enc(warm, torch.tensor([warm.size(1)]))
        for enc in [ours] + [copies[v, "ours"] for v in WEIGHT_VARIANTS]:
            run_ours_stream(enc, warm, chunk, left)
        for name, onnx in exports.items():
            run_onnx_stream(name, onnx, warm[0].numpy(), chunk, left)
        for seconds in args.seconds:
            feats = torch.randn(1, round(seconds / FRAME_SHIFT_S), FEATURE_DIM)
            lens = torch.tensor([feats.size(1)])
            for _ in range(args.repeats):  # interleaved, so that a slow spell of the machine hits every system
                runs = [Result("espnet full", seconds, timed(espnet_full, feats, lens)[1]),
                        Result("ours full", seconds, timed(ours, feats, lens, None, "full")[1]),
                        run_espnet_block(espnet_block, feats, hop),
                        run_ours_stream(ours, feats, chunk, left),
                        run_ours_stream(ours, feats, chunk, -1),
                        run_ours_torchscript(ours, feats, chunk, left)]
                runs += [run_ours_batched(ours, feats, chunk, left, k) for k in args.batch_sizes]
                for v in WEIGHT_VARIANTS:
                    theirs, mine = copies[v, "espnet full"], copies[v, "ours"]
                    runs += [Result(f"espnet {v} full", seconds, timed(theirs, feats, lens)[1]),
                             Result(f"ours {v} full", seconds, timed(mine, feats, lens, None, "full")[1]),
                             run_espnet_block(copies[v, "espnet block"], feats, hop, f"espnet {v}"),
                             run_ours_stream(mine, feats, chunk, left, f"ours {v}"),
                             run_ours_stream(mine, feats, chunk, -1, f"ours {v}")]
                    runs += [run_ours_batched(mine, feats, chunk, left, k, f"ours {v}") for k in args.batch_sizes]
                for name, onnx in exports.items():
                    x = feats[0].numpy()
                    runs += [run_onnx_full(name, onnx, x), run_onnx_stream(name, onnx, x, chunk, left)]
                    runs += [run_onnx_batched(name, onnx, x, chunk, left, k) for k in args.batch_sizes]
                for r in runs:
                    key = f"{r.system} @{seconds:g}s"
                    if key not in results or r.compute_s < results[key].compute_s:
                        results[key] = r  # the fastest of the repeats
        lines = []
        for key, r in results.items():
            med, p90 = median_p90(r.calls_ms) if r.calls_ms else (None, None)
            lines.append([r.system, f"{r.seconds:g}", f"{r.rtf:.4f}", "-" if med is None else f"{med:.1f}",
                          "-" if p90 is None else f"{p90:.1f}"])
        print()
        print_table(["system", "audio (s)", "RTF", "chunk med (ms)", "chunk p90 (ms)"], lines)
        print()
        report_targets(results, args, left)
        for name, enc in [("ours", ours)] + [(f"ours {v}", copies[v, "ours"]) for v in WEIGHT_VARIANTS]:
            print(f"\nwhere one streaming chunk's time goes ({name} stream left {left}, {args.seconds[0]:g} s):")
            print_table(["component", "ms per chunk", "share"],
                        breakdown(enc, torch.randn(1, round(args.seconds[0] / FRAME_SHIFT_S), FEATURE_DIM), chunk, left))
        full_frames = round(args.seconds[0] / FRAME_SHIFT_S) // ours.subsampling
        weight_mb = 4 * sum(w.numel() for w, _ in frame_weights(ours)) / 1e6
        print(f"\nthe linear maps alone ({weight_mb:.1f} MB of weights, each read once per call), per "
              f"{chunk} frames, against the same products over the full pass's {full_frames} frames:")
        print_table(["products", "rows", f"ms per {chunk} frames", "GFLOP/s"],
                    [row for v in (None, *WEIGHT_VARIANTS) for row in linear_floor(ours, chunk, full_frames, variant=v)])
    return results


def report_targets(results: Dict[str, Result], args: argparse.Namespace, left: int) -> None:
    """The streaming targets for ours in PyTorch (default linear maps and each of
    :data:`WEIGHT_VARIANTS`), on our ONNX runtime, and on its int8 export. ESPnet's
    contextual-block encoder is the reference of each, in PyTorch as it ships; each PyTorch
    variant is also compared with ESPnet's encoder on the same variant (like with like)."""
    def r(system: str, seconds: float) -> Result:
        return results[f"{system} @{seconds:g}s"]

    short, long_ = args.seconds[0], args.seconds[-1]
    biggest = max(args.batch_sizes)
    checks = []
    backends = [("pytorch", "ours", None)] + [(f"pytorch {v}", f"ours {v}", f"espnet {v}") for v in WEIGHT_VARIANTS]
    backends += [("onnx", "onnx", None), ("onnx int8", "onnx int8", None)]
    for backend, ours, same_variant_espnet in backends:
        full, stream, batched = f"{ours} full", f"{ours} stream left {left}", f"{ours} batched"
        checks.append((f"{backend}: stream / full RTF at {short:g} s", r(stream, short).rtf / r(full, short).rtf, 1.3))
        for s in args.seconds:
            checks.append((f"{backend}: stream / espnet contextual-block (pytorch) RTF at {s:g} s",
                           r(stream, s).rtf / r("espnet contextual-block", s).rtf, 0.33))
            if same_variant_espnet:
                checks.append((f"{backend}: stream / {same_variant_espnet} contextual-block RTF at {s:g} s",
                               r(stream, s).rtf / r(f"{same_variant_espnet} contextual-block", s).rtf, 0.33))
        if long_ != short:  # flat latency needs two audio lengths
            checks.append((f"{backend}: stream chunk median {long_:g} s / {short:g} s",
                           median_p90(r(stream, long_).calls_ms)[0] / median_p90(r(stream, short).calls_ms)[0], 1.1))
        checks.append((f"{backend}: batched B={biggest} / B=1 cost per stream at {short:g} s",
                       r(f"{batched} B={biggest} left {left}", short).rtf / r(f"{batched} B=1 left {left}", short).rtf,
                       0.5))
    print_table(["ratio", "measured", "target", "met"],
                [[name, f"{value:.2f}", f"<= {target:g}", "yes" if value <= target else "NO"]
                 for name, value, target in checks])


if __name__ == "__main__":
    main()
