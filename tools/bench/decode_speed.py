#!/usr/bin/env python3
"""CPU decoding speed: our streaming and full-context recogniser next to ESPnet's streaming one.

Both models are built with random weights (the hypotheses are garbage, only speed is
measured) from configs of matching size: our ``dual_mode_conformer`` (12 x d=256, 4 heads,
FFN 2048, conv kernel 15, as conf/train_student.yaml) and ESPnet's ``contextual_block_conformer``
with the same dimensions, each with a 6-block transformer decoder, the same token list and
the same 80-dim log-mel frontend (no feature normalisation).  Audio is the mini_an4 speech
shipped in egs2/mini_an4/durep1/corpus, concatenated.  Everything runs on one CPU thread.

Systems (all with the same beam and CTC weight 0.3):

* ``ours stream``: ``Speech2TextDualMode.stream(chunk_size, num_left_chunks)``, one chunk of
  audio per ``accept_waveform`` call, then ``finalize()`` (CTC prefix beam search, attention
  rescoring of its n-best at the end).
* ``ours full joint`` / ``ours full rescoring``: ``s2t(wave)`` with ``full_search`` "joint"
  (ESPnet's joint CTC/attention beam search) or "attention_rescoring".
* ``espnet stream``: ESPnet's ``Speech2TextStreaming`` (contextual block encoder, blockwise
  synchronous beam search), one chunk of audio per ``is_final=False`` call, then the rest of
  the audio with ``is_final=True``.  Its hop is our chunk, its look-ahead one more chunk and its
  block 2.5 chunks (ESPnet's defaults 16 / 16 / 40 frames at ``--chunk_size 16``).

Numbers (one warm-up decode of a short clip per system is excluded):

* RTF: wall time of the whole decode / audio duration.
* chunk med / p90: compute time of one ``accept_waveform`` (or ``is_final=False``) call per
  chunk of audio, median and 90th percentile, in ms.
* final: time of the ``finalize()`` (or ``is_final=True``) call, in ms.
* tokens: length of the best hypothesis.  With random weights the attention decoder rarely
  predicts <sos/eos>, so attention-driven searches run up to their maximum length (about one
  token per encoder frame) while a trained model emits a few tokens per second; beam search
  cost grows with this length, so compare token counts before comparing times.
* ratios: RTF of ESPnet's streaming decoder and of our full-context decoding over the RTF of
  our streaming decoder, and ESPnet's median per-chunk time over ours.
* long utterance: per-chunk latency of our streaming decoder around 10 s and 30 s into one
  long utterance; with bounded left context the work per chunk stays constant.

With random weights the searches do not emit equal output (see ``tokens``), so the ratios
against ESPnet bound the encoders' and the searches' machinery, not the speed at equal
quality.  ``--model_dir`` decodes with TRAINED weights instead (one or more of a recipe's
experiment directories, e.g. ``exp/student``, or a teacher and its compressed student), on the
real utterances of ``--data_dir``, so that streaming and full context are compared at the
accuracy each model has (sclite CER/WER per row).  It prints, per backend (each model in
PyTorch, with
``--quantize int8`` also with int8 linear weights, and each ONNX export given with ``--exports``),
all timed in one process one after the other:

* parameters (PyTorch models);
* streaming: CER / WER, RTF, and the time per chunk spent in features, encoder and search
  (the incremental search + partial result: CTC prefix beam, or a transducer's beam), with the
  end-of-utterance work per utterance (attention rescoring; a transducer's final step); the
  target is search + end <= 20 % of the encoder's time;
* full context with the same search as streaming (CTC prefix beam + attention rescoring, or the
  transducer's beam over its full-context, look-ahead encoder): CER / WER, RTF.

(ESPnet's streaming recogniser needs its own trained contextual-block model, which the
recipes do not train, so it is not in this mode.)

Example::

    python tools/bench/decode_speed.py            # ~43M-parameter models, 10 s + 33 s of audio, ~1-2 min
    python tools/bench/decode_speed.py --quick    # tiny models, smoke check (< 30 s)
    # trained weights, from a recipe directory:
    python ../../../tools/bench/decode_speed.py --model_dir exp/student --data_dir dump/raw/test \
        --exports exp/student/onnx --out_dir exp/student/decode_speed
    # a cascaded transducer teacher and its compressed student, side by side:
    python ../../../tools/bench/decode_speed.py --model_dir exp_grid/cascade_teacher_seed0 \
        exp_grid/cascade_student_kd_seed0 --data_dir dump/raw/test --out_dir exp_grid/decode_speed
"""
from __future__ import annotations

import argparse
import logging
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence

import numpy as np
import soundfile
import torch

from bench_common import median_p90, model_config, print_table, save_experiment, write_tokens
from espnet_durep._offline import import_offline
from espnet_durep.inference.recognizer import Speech2TextDualMode
from espnet_durep.tasks.durep import DurepTask

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / "egs2" / "mini_an4" / "durep1" / "corpus"
SAMPLE_RATE = 16000
FRAME_MS = 40.0  # 10 ms features, x4 conv2d subsampling in both encoders
CTC_WEIGHT = 0.3
WARMUP_SECONDS = 3.0
LONG_POINTS = (10.0, 30.0)  # seconds into the long utterance where per-chunk latency is read
LONG_WINDOW = 1.5  # chunks ending within +-LONG_WINDOW s of a point count for it
# (encoder, decoder) sizes; the encoder options are shared by both encoder types
DEFAULT_MODEL = (dict(output_size=256, attention_heads=4, linear_units=1024, num_blocks=12, cnn_module_kernel=15),
                 dict(attention_heads=4, linear_units=2048, num_blocks=6))
QUICK_MODEL = (dict(output_size=64, attention_heads=2, linear_units=128, num_blocks=2, cnn_module_kernel=5),
               dict(attention_heads=2, linear_units=128, num_blocks=1))


@dataclass
class Run:
    """One timed decode: per-chunk call times and final call time in s, hypothesis length."""

    seconds: float
    total_s: float
    chunk_s: List[float]
    final_s: Optional[float]
    tokens: int

    @property
    def rtf(self) -> float:
        return self.total_s / self.seconds

    @property
    def chunk_ms(self) -> List[float]:
        return [1000 * s for s in self.chunk_s]


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--chunk_size", type=int, default=16, help="streaming chunk in encoder frames (16 = 640 ms)")
    p.add_argument("--num_left_chunks", type=int, default=4,
                   help="left context of our streaming encoder in chunks (-1 = unlimited)")
    p.add_argument("--beam_size", type=int, default=10, help="beam of every search")
    p.add_argument("--seconds", type=float, default=10.0, help="length of the utterance decoded by every system")
    p.add_argument("--vocab_size", type=int, default=300, help="tokens in the shared token list")
    p.add_argument("--seed", type=int, default=0, help="seed of the random weights")
    p.add_argument("--quick", action="store_true", help="tiny models and 3 s of audio (smoke check)")
    p.add_argument("--model_dir", type=Path, nargs="+", help="trained experiment directories (trained-weights mode)")
    p.add_argument("--data_dir", type=Path, help="data directory (wav.scp, text, utt2spk) of the trained mode")
    p.add_argument("--exports", type=Path, nargs="*", default=[], help="ONNX exports to time too")
    p.add_argument("--quantize", choices=["int8"],
                   help="trained mode: also time each model with its linear weights quantised (dynamic int8)")
    p.add_argument("--max_utts", type=int, default=200, help="utterances of --data_dir decoded (0: all)")
    p.add_argument("--out_dir", type=Path, help="where the trained mode writes hypotheses and sclite reports")
    args = p.parse_args(argv)
    if args.model_dir is not None and (args.data_dir is None or args.out_dir is None):
        p.error("--model_dir needs --data_dir and --out_dir")
    if args.quick:
        args.seconds = 3.0
    if args.chunk_size < 1 or args.beam_size < 1 or args.seconds <= 0 or args.vocab_size < 4:
        p.error("need --chunk_size >= 1, --beam_size >= 1, --seconds > 0 and --vocab_size >= 4")
    return args


def load_speech(seconds: float) -> np.ndarray:
    """The corpus' 16 kHz utterances concatenated (repeated if needed) and cut to ``seconds``."""
    waves = [soundfile.read(f, dtype="float32")[0] for f in sorted(CORPUS.rglob("*.wav"))]
    if not waves:
        raise SystemExit(f"no .wav files under {CORPUS}")
    speech = np.concatenate(waves)
    n = round(seconds * SAMPLE_RATE)
    return np.tile(speech, -(-n // speech.size))[:n]


def chunk_samples(chunk_size: int) -> int:
    return round(chunk_size * FRAME_MS * SAMPLE_RATE / 1000)


def timed(fn, *args):
    tic = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - tic


def decode_ours_stream(s2t: Speech2TextDualMode, speech: np.ndarray, chunk_size: int, left: int) -> Run:
    step = chunk_samples(chunk_size)
    tic = time.perf_counter()
    session = s2t.stream(chunk_size=chunk_size, num_left_chunks=left)
    chunk_s = [timed(session.accept_waveform, speech[i:i + step])[1] for i in range(0, speech.size, step)]
    result, final_s = timed(session.finalize)
    return Run(speech.size / SAMPLE_RATE, time.perf_counter() - tic, chunk_s, final_s, len(result.token_ids))


def decode_ours_full(s2t: Speech2TextDualMode, speech: np.ndarray) -> Run:
    result, total_s = timed(s2t, speech)
    return Run(speech.size / SAMPLE_RATE, total_s, [], None, len(result.token_ids))


def decode_espnet_stream(s2t, speech: np.ndarray, chunk_size: int) -> Run:
    step = chunk_samples(chunk_size)
    n_full = speech.size // step
    tic = time.perf_counter()
    chunk_s = [timed(s2t, speech[i * step:(i + 1) * step], False)[1] for i in range(n_full)]
    results, final_s = timed(s2t, speech[n_full * step:], True)
    tokens = len(results[0][2]) if results else 0
    return Run(speech.size / SAMPLE_RATE, time.perf_counter() - tic, chunk_s, final_s, tokens)


def build_espnet_stream(exp: Path, beam_size: int):
    """ESPnet's streaming recogniser, its block search set to the encoder's block geometry."""
    import_offline("espnet2.tasks.asr")
    from espnet2.bin.asr_inference_streaming import Speech2TextStreaming

    s2t = Speech2TextStreaming(asr_train_config=exp / "config.yaml", asr_model_file=exp / "model.pth",
                               beam_size=beam_size, ctc_weight=CTC_WEIGHT, nbest=1)
    encoder, search = s2t.asr_model.encoder, s2t.beam_search
    # the recogniser leaves its search at ESPnet's default geometry whatever the encoder uses
    search.block_size, search.hop_size, search.look_ahead = encoder.block_size, encoder.hop_size, encoder.look_ahead
    return s2t


def espnet_block(chunk_size: int) -> dict:
    """ESPnet's default block / hop / look-ahead ratio (40 / 16 / 16) with our chunk as the hop."""
    return {"block_size": round(2.5 * chunk_size), "hop_size": chunk_size, "look_ahead": chunk_size}


def latency_around(run: Run, step_s: float, point: float) -> List[float]:
    """Call times (ms) of the chunks whose audio ends within LONG_WINDOW s of ``point``."""
    return [t for i, t in enumerate(run.chunk_ms) if abs((i + 1) * step_s - point) <= LONG_WINDOW]


def ms(values: Sequence[float]) -> List[str]:
    return [f"{v:.1f}" for v in values]


def report(runs: dict, ours_stream: str) -> None:
    lines = []
    for name, run in runs.items():
        chunk = ms(median_p90(run.chunk_ms)) if run.chunk_s else ["-", "-"]
        final = "-" if run.final_s is None else f"{1000 * run.final_s:.1f}"
        lines.append([name, f"{run.seconds:g}", f"{run.rtf:.3f}", *chunk, final, run.tokens])
    print_table(["system", "audio s", "RTF", "chunk med ms", "chunk p90 ms", "final ms", "tokens"], lines)
    base = runs[ours_stream].rtf
    print()
    for name, run in runs.items():
        if name != ours_stream:
            print(f"RTF {name} / {ours_stream}: {run.rtf / base:.2f}")


def report_targets(runs: dict, ours_stream: str, espnet_stream: str) -> None:
    rtf, speedup = runs[ours_stream].rtf, runs[espnet_stream].rtf / runs[ours_stream].rtf
    print(f"target: our streaming RTF <= 0.1 on one thread: {rtf:.3f} -> {'met' if rtf <= 0.1 else 'NOT met'}")
    print(f"target: >= 3x faster than ESPnet's streaming decoder: {speedup:.2f}x -> "
          f"{'met' if speedup >= 3 else 'NOT met'}")
    chunk_ratio = median_p90(runs[espnet_stream].chunk_ms)[0] / median_p90(runs[ours_stream].chunk_ms)[0]
    print(f"(per-chunk median alone, espnet / ours: {chunk_ratio:.2f}x; ESPnet's search does most of its work "
          f"in the final call, see 'final ms' and 'tokens')")


def report_long(run: Run, step_s: float, left: int) -> None:
    print(f"\nour streaming decoder on one {run.seconds:g} s utterance, num_left_chunks {left}: "
          f"per-chunk latency (ms) of chunks ending within +-{LONG_WINDOW:g} s of each point")
    pairs = [median_p90(latency_around(run, step_s, p)) for p in LONG_POINTS]
    header = [*(f"{p:g}s {q}" for p in LONG_POINTS for q in ("med", "p90")), "late/early med"]
    print_table(header, [[*ms(pairs[0]), *ms(pairs[1]), f"{pairs[1][0] / pairs[0][0]:.2f}"]], left=0)


def build_recognisers(args: argparse.Namespace, enc_conf: dict, dec_conf: dict, block: dict):
    """Save both random models and load them: (ours, ours with rescoring full search, espnet, sizes)."""
    asr_task = import_offline("espnet2.tasks.asr").ASRTask
    ours_cfg = model_config("dual_mode_conformer", {**enc_conf, "conv_mode": "chunk", "chunk_size": args.chunk_size},
                            dec_conf, "dual_mode", CTC_WEIGHT)
    espnet_cfg = model_config("contextual_block_conformer", {**enc_conf, **block}, dec_conf, "espnet", CTC_WEIGHT)
    with tempfile.TemporaryDirectory(prefix="decode_speed_") as tmp:
        tmp = Path(tmp)
        tokens = write_tokens(tmp / "tokens.txt", args.vocab_size)
        sizes = (save_experiment(tmp / "ours", DurepTask, ours_cfg, tokens, args.seed),
                 save_experiment(tmp / "espnet", asr_task, espnet_cfg, tokens, args.seed))
        files = (tmp / "ours" / "config.yaml", tmp / "ours" / "model.pth")
        kw = dict(beam_size=args.beam_size, ctc_weight=CTC_WEIGHT)
        ours = Speech2TextDualMode(*files, **kw)
        ours_rescoring = Speech2TextDualMode(*files, full_search="attention_rescoring", **kw)
        espnet = build_espnet_stream(tmp / "espnet", args.beam_size)
    return ours, ours_rescoring, espnet, sizes


def print_setup(args: argparse.Namespace, ours: Speech2TextDualMode, sizes, block: dict) -> None:
    n_ours, n_espnet = sizes
    print(f"vocabulary {args.vocab_size}, beam {args.beam_size}, CTC weight {CTC_WEIGHT}, "
          f"threads {torch.get_num_threads()}")
    print(f"parameters: ours {n_ours:,}  espnet {n_espnet:,}  (ours / espnet = {n_ours / n_espnet:.3f})")
    latency = ours.algorithmic_latency(args.chunk_size)
    print(f"ours: chunk {args.chunk_size} frames = {ours.chunk_ms(args.chunk_size):.0f} ms, num_left_chunks "
          f"{args.num_left_chunks}, algorithmic latency {latency.average_ms:.0f} ms average / "
          f"{latency.worst_ms:.0f} ms worst")
    frames = [block[k] for k in ("block_size", "hop_size", "look_ahead")]
    print(f"espnet: block_size / hop_size / look_ahead = {' / '.join(map(str, frames))} frames = "
          f"{' / '.join(f'{n * FRAME_MS:.0f}' for n in frames)} ms")
    print(f"audio: {args.seconds:g} s of mini_an4 speech, fed {args.chunk_size * FRAME_MS:.0f} ms per call; "
          f"warm-up on {min(WARMUP_SECONDS, args.seconds):g} s excluded\n")


@dataclass
class Breakdown:
    """Seconds spent per part of streaming decodes; ``chunks`` calls of one chunk of audio each."""

    features: float = 0.0
    encoder: float = 0.0
    search: float = 0.0
    rescoring: float = 0.0
    chunks: int = 0
    utterances: int = 0

    @property
    def total(self) -> float:
        return self.features + self.encoder + self.search + self.rescoring


def stream_with_breakdown(s2t, wave: np.ndarray, chunk_size: int, left: int, spent: Breakdown):
    """Decode ``wave`` fed one chunk of audio per step, timing each part of the session's steps."""
    session = s2t.stream(chunk_size=chunk_size, num_left_chunks=left)
    step = round(chunk_size * s2t.frame_ms * s2t.sample_rate / 1000)
    for i in range(0, wave.size + 1, step):
        last = i + step > wave.size
        t0 = time.perf_counter()
        session.push_audio(wave[i:i + step])
        if last:
            session.end_audio()
        t1 = time.perf_counter()
        enc = session.encoder.run(is_final=last)
        t2 = time.perf_counter()
        session.advance(enc)
        session.search.partial()
        t3 = time.perf_counter()
        spent.features += t1 - t0
        spent.encoder += t2 - t1
        spent.search += t3 - t2
        spent.chunks += 1
        if last:
            break
    t0 = time.perf_counter()
    result = session.finish_segment()
    spent.rescoring += time.perf_counter() - t0
    spent.utterances += 1
    return result


def safe(name: str) -> str:
    """A backend name ("pytorch:exp", "onnx:dir") as a directory name."""
    return name.replace(":", "_").replace(" ", "_")


def same_search_recogniser(model_dir: Path, **kw) -> Speech2TextDualMode:
    """A trained model decoding full context with its streaming search: CTC prefix beam + attention
    rescoring for CTC/attention models, the transducer beam (the only one) for transducers."""
    s2t = Speech2TextDualMode.from_pretrained(model_dir, **kw)
    streaming = s2t.search_name("streaming")
    if s2t.search_name("full") == streaming:
        return s2t
    return Speech2TextDualMode.from_pretrained(model_dir, full_search=streaming, **kw)


def trained(args: argparse.Namespace) -> dict:
    """Trained-weights mode: streaming (with the per-chunk breakdown) and full context per backend."""
    from bench_common import load_waves, score
    from espnet_durep.runtime.recognizer import OnnxSpeech2Text

    kw = dict(beam_size=args.beam_size, ctc_weight=CTC_WEIGHT)
    backends = {f"pytorch:{d.name}": same_search_recogniser(d, **kw) for d in args.model_dir}
    if args.quantize:
        backends.update({f"pytorch-{args.quantize}:{d.name}": same_search_recogniser(d, quantize=args.quantize, **kw)
                         for d in args.model_dir})
    for export in args.exports:
        backends[f"onnx:{export.name}"] = OnnxSpeech2Text(export, num_threads=1, **kw)
    waves = load_waves(args.data_dir, next(iter(backends.values())), args.max_utts)
    audio_s = sum(w.size for w in waves.values()) / SAMPLE_RATE
    print(f"{len(waves)} utterances ({audio_s / 60:.1f} min) of {args.data_dir}; chunk "
          f"{args.chunk_size} frames, {args.num_left_chunks} left chunks, beam {args.beam_size}, 1 thread")
    for name, s2t in backends.items():
        if isinstance(s2t, Speech2TextDualMode):
            size = (f"{s2t.quantize} linear weights" if s2t.quantize  # its int8 weights are no Parameters
                    else f"{sum(p.numel() for p in s2t.model.parameters()) / 1e6:.2f} M parameters")
            print(f"  {name}: {size}, search {s2t.search_name('streaming')}")
    print()
    lines, parts, out = [], [], {}
    for name, s2t in backends.items():
        s2t(next(iter(waves.values())))  # warm-up
        spent = Breakdown()
        results = {u: stream_with_breakdown(s2t, w, args.chunk_size, args.num_left_chunks, spent)
                   for u, w in waves.items()}
        rates = score(results, args.data_dir, args.out_dir / f"{safe(name)}_streaming")
        tic = time.perf_counter()
        full = {u: s2t(w) for u, w in waves.items()}
        full_s = time.perf_counter() - tic
        full_rates = score(full, args.data_dir, args.out_dir / f"{safe(name)}_full")
        lines += [[name, "streaming", f"{rates['char']:.1f}", f"{rates['word']:.1f}", f"{spent.total / audio_s:.4f}"],
                  [name, "full", f"{full_rates['char']:.1f}", f"{full_rates['word']:.1f}", f"{full_s / audio_s:.4f}"]]
        per_chunk = [1000 * getattr(spent, k) / spent.chunks for k in ("features", "encoder", "search")]
        share = (spent.search + spent.rescoring) / spent.encoder
        parts.append([name, spent.chunks, *(f"{v:.2f}" for v in per_chunk),
                      f"{1000 * spent.rescoring / spent.utterances:.1f}", f"{100 * share:.0f} %",
                      "yes" if share <= 0.2 else "NO"])
        out[name] = {"streaming": rates, "full": full_rates, "breakdown": spent, "full_s": full_s}
    print_table(["backend", "mode", "CER %", "WER %", "RTF"], lines, left=2)
    print(f"\nstreaming, per chunk of {args.chunk_size * FRAME_MS:.0f} ms (search: the incremental search + "
          f"partial result; end: attention rescoring, or a transducer's final step, per utterance); "
          f"target: search + end <= 20 % of encoder")
    print_table(["backend", "chunks", "features ms", "encoder ms", "search ms", "end ms/utt",
                 "(search + end) / encoder", "met"], parts)
    return out


def main(argv: Optional[Sequence[str]] = None) -> dict:
    args = parse_args(argv)
    torch.set_num_threads(1)
    if args.model_dir is not None:
        logging.disable(logging.WARNING)
        return trained(args)
    logging.disable(logging.WARNING)  # ESPnet's search warns after every block in which no hypothesis ended
    enc_conf, dec_conf = QUICK_MODEL if args.quick else DEFAULT_MODEL
    block = espnet_block(args.chunk_size)
    print(f"encoder {enc_conf}, decoder {dec_conf}")
    ours, ours_rescoring, espnet, sizes = build_recognisers(args, enc_conf, dec_conf, block)
    print_setup(args, ours, sizes, block)
    systems = {
        "ours stream": lambda x: decode_ours_stream(ours, x, args.chunk_size, args.num_left_chunks),
        "ours full joint": lambda x: decode_ours_full(ours, x),
        "ours full rescoring": lambda x: decode_ours_full(ours_rescoring, x),
        "espnet stream": lambda x: decode_espnet_stream(espnet, x, args.chunk_size),
    }
    speech = load_speech(args.seconds)
    runs = {}
    for name, decode in systems.items():
        decode(speech[:round(WARMUP_SECONDS * SAMPLE_RATE)])
        runs[name] = decode(speech)
    report(runs, "ours stream")
    report_targets(runs, "ours stream", "espnet stream")
    runs["ours stream long"] = systems["ours stream"](load_speech(LONG_POINTS[1] + 2 * LONG_WINDOW))
    report_long(runs["ours stream long"], chunk_samples(args.chunk_size) / SAMPLE_RATE, args.num_left_chunks)
    return runs


if __name__ == "__main__":
    main()
