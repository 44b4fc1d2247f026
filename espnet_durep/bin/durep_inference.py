#!/usr/bin/env python3
"""Decode a data set in full-context or streaming mode; write ESPnet's 1best_recog and metrics.

    python -m espnet_durep.bin.durep_inference --asr_train_config exp/student/config.yaml \\
        --asr_model_file exp/student/valid.acc.ave.pth \\
        --data_path_and_name_and_type dump/raw/test/wav.scp,speech,sound \\
        --output_dir exp/student/decode_streaming_chunk16_left-1/test \\
        --decode_mode streaming --chunk_size 16 --num_left_chunks -1 [--ref_text dump/raw/test/text]

Streaming mode feeds the audio in pieces of one chunk (``--feed_ms`` to change) through the
incremental recogniser (:mod:`espnet_durep.inference.recognizer`); ``--simulate_streaming``
decodes the same setting with one masked pass instead, for comparison.

Output directory:
    1best_recog/{text,token,token_int,score}  ESPnet's layout (what scoring reads)
    1best_recog/token_times   per token, emission time (streaming) or aligned time (full), ms
    timing        per utterance: audio s, wall s, RTF, first-token and final latency (ms)
    failed_utts   utterances that could not be decoded and why (they get an empty hypothesis)
    metrics.json  RTF, algorithmic latency, first-token / final latency, emission delay

Bad input never stops the run: unreadable audio, several channels, no samples, NaN/inf
samples or audio shorter than the subsampling needs give the utterance an empty hypothesis
and a line in ``failed_utts`` (and a warning in the log).  Audio at another sample rate is
resampled to the model's rate with a warning.
"""
from __future__ import annotations

import argparse
import io
import json
import logging
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import soundfile
import torch

from espnet_durep.modes import FULL, MODES, STREAMING


class BadUtterance(Exception):
    """The utterance cannot be decoded; the message says why."""


def read_table(path: Path) -> Dict[str, str]:
    """Kaldi-style ``<key> <value>`` file (value may be empty)."""
    table = {}
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            key, _, value = line.rstrip("\n").partition(" ")
            if key in table:
                raise ValueError(f"{path}:{n}: duplicate key {key!r}")
            table[key] = value.strip()
    return table


def read_audio(spec: str) -> Tuple[np.ndarray, int]:
    """(samples (n, channels) float32, rate) of a wav.scp value: a file or a ``command |`` pipe."""
    if spec.endswith("|"):
        proc = subprocess.run(spec[:-1], shell=True, capture_output=True)
        if proc.returncode != 0:
            raise BadUtterance(f"command '{spec[:-1].strip()}' failed: {proc.stderr.decode(errors='replace').strip()}")
        source = io.BytesIO(proc.stdout)
    elif not Path(spec).is_file():
        raise BadUtterance(f"audio file not found: {spec}")
    else:
        source = spec
    try:
        samples, rate = soundfile.read(source, dtype="float32", always_2d=True)
    except (RuntimeError, OSError, soundfile.LibsndfileError) as e:
        raise BadUtterance(f"cannot read audio {spec}: {e}") from None
    return samples, rate


def checked_waveform(samples: np.ndarray, rate: int, model_rate: int, min_samples: int, utt: str) -> torch.Tensor:
    """Mono float waveform at ``model_rate`` or :class:`BadUtterance`."""
    if samples.shape[1] != 1:
        raise BadUtterance(f"has {samples.shape[1]} channels; the model takes mono audio "
                           f"(convert it, e.g. sox IN -c 1 OUT, or with the recipe's stage 3)")
    if samples.shape[0] == 0:
        raise BadUtterance("has no samples (empty audio)")
    if not np.isfinite(samples).all():
        raise BadUtterance("contains NaN or infinite samples")
    wave = torch.from_numpy(samples[:, 0].copy())
    if rate != model_rate:
        import torchaudio

        logging.warning("%s: resampling from %d Hz to the model's %d Hz", utt, rate, model_rate)
        wave = torchaudio.functional.resample(wave, rate, model_rate)
    if wave.numel() < min_samples:
        raise BadUtterance(f"is too short: {1000 * wave.numel() / model_rate:.0f} ms; the model needs at least "
                           f"{1000 * min_samples / model_rate:.0f} ms ({min_samples} samples)")
    return wave


def get_parser() -> argparse.ArgumentParser:
    from espnet2.utils import config_argparse
    from espnet2.utils.types import str2bool, str2triple_str, str_or_none

    from espnet_durep.inference.recognizer import FULL_SEARCHES, STREAMING_SEARCHES

    parser = config_argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--log_level", default="INFO", choices=("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"))
    parser.add_argument("--output_dir", type=str, required=True)
    parser.add_argument("--ngpu", type=int, default=0, help="0: CPU; 1: decode on the GPU")
    parser.add_argument("--num_threads", type=int, default=1, help="CPU threads (torch.set_num_threads)")
    parser.add_argument("--quantize", type=str_or_none, default=None, choices=[None, "int8"],
                        help="CPU only: int8 linear weights (dynamic quantisation; slightly different output)")
    parser.add_argument("--seed", type=int, default=0)
    group = parser.add_argument_group("Input data")
    group.add_argument("--data_path_and_name_and_type", type=str2triple_str, action="append", required=True,
                       help="e.g. dump/raw/test/wav.scp,speech,sound (type 'sound' only)")
    group.add_argument("--key_file", type=str_or_none, help="decode only the utterances listed (first column)")
    group.add_argument("--ref_text", type=str_or_none,
                       help="reference transcripts (Kaldi text) for emission delay and first-token latency")
    group = parser.add_argument_group("Model")
    group.add_argument("--asr_train_config", type=str, required=True)
    group.add_argument("--asr_model_file", type=str, required=True)
    group = parser.add_argument_group("Mode")
    group.add_argument("--decode_mode", choices=MODES, default="full")
    group.add_argument("--chunk_size", type=int, default=None,
                       help="streaming chunk in encoder frames (default: the model's chunk_size)")
    group.add_argument("--num_left_chunks", type=int, default=None, help="left context in chunks (-1: unlimited)")
    group.add_argument("--simulate_streaming", type=str2bool, default=False,
                       help="streaming mode by one masked pass instead of incremental decoding")
    group.add_argument("--feed_ms", type=float, default=None,
                       help="audio per accept_waveform call in streaming mode (default: one chunk)")
    group = parser.add_argument_group("Search")
    group.add_argument("--beam_size", type=int, default=10)
    group.add_argument("--ctc_weight", type=float, default=0.3, help="CTC weight (joint search, attention rescoring)")
    group.add_argument("--full_search", choices=FULL_SEARCHES, default="joint")
    group.add_argument("--streaming_search", choices=STREAMING_SEARCHES, default="attention_rescoring")
    group.add_argument("--token_beam", type=int, default=10, help="tokens per frame in CTC prefix search")
    group.add_argument("--blank_penalty", type=float, default=0.0,
                       help="subtracted from the CTC blank log-posterior per frame (CTC prefix/greedy searches; "
                            "> 0 trades deletions for insertions)")
    group.add_argument("--penalty", type=float, default=0.0, help="length bonus (joint search)")
    group.add_argument("--maxlenratio", type=float, default=0.0)
    group.add_argument("--minlenratio", type=float, default=0.0)
    return parser


def _utterances(args) -> Iterator[Tuple[str, str]]:
    if len(args.data_path_and_name_and_type) != 1 or args.data_path_and_name_and_type[0][2] != "sound":
        raise ValueError("give exactly one --data_path_and_name_and_type PATH,speech,sound")
    scp = Path(args.data_path_and_name_and_type[0][0])
    table = read_table(scp)
    keys = list(table) if args.key_file is None else list(read_table(Path(args.key_file)))
    missing = [k for k in keys if k not in table]
    if missing:
        raise ValueError(f"{args.key_file}: {len(missing)} keys not in {scp}, e.g. {missing[0]}")
    for key in keys:
        yield key, table[key]


class Writer:
    """The output files of a decoding job."""

    NAMES = ("text", "token", "token_int", "score", "token_times")

    def __init__(self, output_dir: Path):
        (output_dir / "1best_recog").mkdir(parents=True, exist_ok=True)
        self.files = {n: open(output_dir / "1best_recog" / n, "w", encoding="utf-8") for n in self.NAMES}
        self.timing = open(output_dir / "timing", "w", encoding="utf-8")
        self.timing.write("# utt audio_s wall_s rtf first_token_latency_ms final_latency_ms\n")
        self.failed = open(output_dir / "failed_utts", "w", encoding="utf-8")

    def result(self, utt, result) -> None:
        values = {"text": result.text, "token": " ".join(result.tokens),
                  "token_int": " ".join(map(str, result.token_ids)), "score": f"{result.score:.4f}",
                  "token_times": " ".join(f"{t:.0f}" for t in result.token_times_ms)}
        for name, value in values.items():
            self.files[name].write(f"{utt} {value}".rstrip() + "\n")

    def failure(self, utt, reason) -> None:
        for f in self.files.values():
            f.write(f"{utt}\n")
        self.failed.write(f"{utt} {reason}\n")

    def timing_row(self, utt, audio_s, wall_s, first_ms, final_ms) -> None:
        fmt = lambda v: "-" if v is None else f"{v:.1f}"  # noqa: E731
        self.timing.write(f"{utt} {audio_s:.3f} {wall_s:.4f} {wall_s / audio_s:.4f} {fmt(first_ms)} {fmt(final_ms)}\n")

    def close(self) -> None:
        for f in [*self.files.values(), self.timing, self.failed]:
            f.close()


@dataclass
class DecodeSetting:
    """How every utterance of a run is decoded."""

    mode: str                       # "full" or "streaming"
    simulate: bool = False          # streaming by one masked pass
    chunk: Optional[int] = None     # encoder frames (streaming)
    left: Optional[int] = None      # left chunks (streaming)
    feed_samples: Optional[int] = None  # audio per accept_waveform call (streaming)

    @property
    def incremental(self) -> bool:
        return self.mode == STREAMING and not self.simulate


@dataclass
class Decoded:
    """One utterance's result and timing (seconds)."""

    result: object
    wall_s: float
    final_latency_s: float
    first_token_s: Optional[float] = None  # audio-clock time the first token was out (incremental)


def decode_streaming(s2t, wave: torch.Tensor, chunk: int, left: Optional[int], feed_samples: int) -> Decoded:
    """Incremental decode against a real-time clock (audio arrives at its own pace)."""
    from espnet_durep.metrics.latency import RealTimeClock

    stream = s2t.stream(chunk_size=chunk, num_left_chunks=left)
    clock = RealTimeClock(s2t.sample_rate)
    first_token_s = None
    for start in range(0, wave.numel(), feed_samples):
        piece = wave[start:start + feed_samples]
        stream.accept_waveform(piece)
        finish = clock.step(piece.numel(), stream.compute_s[-1])
        if first_token_s is None and stream.first_token_call is not None:
            first_token_s = finish
    result = stream.finalize()
    final_latency_s = clock.finish_s - clock.audio_s + stream.finalize_s
    return Decoded(result, clock.compute_s + stream.finalize_s, final_latency_s, first_token_s)


def decode_utterance(s2t, wave: torch.Tensor, setting: DecodeSetting) -> Decoded:
    if setting.incremental:
        return decode_streaming(s2t, wave, setting.chunk, setting.left, setting.feed_samples)
    start = time.perf_counter()
    if setting.mode == FULL:
        result = s2t.decode_full(wave)
    else:
        result = s2t.decode_simulated_streaming(wave, setting.chunk, setting.left)
    wall = time.perf_counter() - start
    return Decoded(result, wall, wall)


class Metrics:
    """Counts, times and latencies of a run, written as ``metrics.json``."""

    def __init__(self):
        self.n_utts = self.n_failed = 0
        self.audio_s = self.wall_s = 0.0
        self.first_latencies: List[float] = []
        self.final_latencies: List[float] = []
        self.delays: List[float] = []

    def failed(self) -> None:
        self.n_utts += 1
        self.n_failed += 1

    def add(self, audio_s: float, decoded: Decoded, first_token_ms: Optional[float], delays: List[float]) -> None:
        self.n_utts += 1
        self.audio_s += audio_s
        self.wall_s += decoded.wall_s
        self.final_latencies.append(1000 * decoded.final_latency_s)
        if first_token_ms is not None:
            self.first_latencies.append(first_token_ms)
        self.delays += delays

    def as_dict(self, s2t, setting: DecodeSetting, num_threads: int, device: str) -> dict:
        from espnet_durep.metrics.latency import summarise

        streaming = setting.mode == STREAMING
        latency = s2t.algorithmic_latency(setting.chunk) if streaming else None
        return {
            "decode_mode": setting.mode + ("_simulated" if setting.simulate else ""),
            "search": s2t.search_name(setting.mode),
            "chunk_size_frames": setting.chunk,
            "chunk_ms": s2t.chunk_ms(setting.chunk) if streaming else None,
            "num_left_chunks": setting.left if streaming else None,
            "num_threads": num_threads,
            "quantize": s2t.quantize,
            "device": device,
            "algorithmic_latency_ms": latency.worst_ms if latency else None,
            "algorithmic_latency_avg_ms": latency.average_ms if latency else None,
            "num_utts": self.n_utts,
            "num_failed_utts": self.n_failed,
            "audio_seconds": self.audio_s,
            "wall_seconds": self.wall_s,
            "rtf": self.wall_s / self.audio_s if self.audio_s > 0 else None,
            "first_token_latency_ms_mean": float(np.mean(self.first_latencies)) if self.first_latencies else None,
            "final_latency_ms_mean": float(np.mean(self.final_latencies)) if self.final_latencies else None,
            "emission_delay_ms": summarise(self.delays),
        }


def reference_times(s2t, wave: torch.Tensor, ref_text: str) -> Tuple[List[int], Optional[List[float]]]:
    """Reference token ids and their forced-alignment times (ms) on the full-context CTC."""
    from espnet_durep.metrics.latency import forced_alignment_times_ms

    ref_ids = s2t.text_to_ids(ref_text)
    return ref_ids, forced_alignment_times_ms(s2t.ctc_log_probs(s2t.encode(wave, FULL)), ref_ids, s2t.frame_ms)


def build_setting(args, s2t) -> DecodeSetting:
    if args.decode_mode == FULL:
        return DecodeSetting(FULL)
    chunk = s2t.chunk_frames(chunk_size=args.chunk_size)
    left = args.num_left_chunks if args.num_left_chunks is not None else s2t.encoder.num_left_chunks
    feed_ms = args.feed_ms or s2t.chunk_ms(chunk)
    logging.info("streaming: chunk %d frames = %.0f ms, left chunks %s, fed %.0f ms at a time%s",
                 chunk, s2t.chunk_ms(chunk), left, feed_ms,
                 " (simulated with one masked pass)" if args.simulate_streaming else "")
    return DecodeSetting(STREAMING, args.simulate_streaming, chunk, left,
                         max(1, int(round(feed_ms * s2t.sample_rate / 1000))))


def main(cmd: Optional[Sequence[str]] = None) -> int:
    parser = get_parser()
    args = parser.parse_args(cmd)
    logging.basicConfig(level=args.log_level,
                        format="%(asctime)s (%(module)s:%(lineno)d) %(levelname)s: %(message)s")
    torch.set_num_threads(args.num_threads)
    torch.manual_seed(args.seed)
    device = "cuda" if args.ngpu > 0 else "cpu"

    from espnet_durep.metrics.latency import emission_delays_ms
    from espnet_durep.inference.recognizer import Speech2TextDualMode

    s2t = Speech2TextDualMode(
        args.asr_train_config, args.asr_model_file, device=device, beam_size=args.beam_size,
        ctc_weight=args.ctc_weight, full_search=args.full_search, streaming_search=args.streaming_search,
        token_beam=args.token_beam, blank_penalty=args.blank_penalty, penalty=args.penalty, maxlenratio=args.maxlenratio,
        minlenratio=args.minlenratio, quantize=args.quantize)
    setting = build_setting(args, s2t)
    refs = read_table(Path(args.ref_text)) if args.ref_text else {}
    # warm-up (excluded from timing): one second of low noise through the chosen path
    decode_utterance(s2t, 0.01 * torch.randn(s2t.sample_rate, generator=torch.Generator().manual_seed(0)), setting)

    out = Path(args.output_dir)
    writer, metrics = Writer(out), Metrics()
    try:
        for utt, spec in _utterances(args):
            try:
                samples, rate = read_audio(spec)
                wave = checked_waveform(samples, rate, s2t.sample_rate, s2t.min_samples(), utt)
            except BadUtterance as e:
                logging.warning("%s: %s; empty hypothesis", utt, e)
                writer.failure(utt, str(e))
                metrics.failed()
                continue
            duration = wave.numel() / s2t.sample_rate
            decoded = decode_utterance(s2t, wave, setting)
            first_ms, delays = None, []
            if utt in refs and setting.incremental and s2t.has_ctc:  # latencies against a forced alignment
                ref_ids, ref_ms = reference_times(s2t, wave, refs[utt])
                if ref_ms is not None:
                    delays = emission_delays_ms(decoded.result.token_ids, decoded.result.token_times_ms, ref_ids,
                                                ref_ms)
                    if decoded.first_token_s is not None and ref_ms:
                        first_ms = 1000 * decoded.first_token_s - ref_ms[0]
            metrics.add(duration, decoded, first_ms, delays)
            writer.result(utt, decoded.result)
            writer.timing_row(utt, duration, decoded.wall_s, first_ms, 1000 * decoded.final_latency_s)
            logging.info("%s (%.2f s, RTF %.3f): %s", utt, duration, decoded.wall_s / duration, decoded.result.text)
    finally:
        writer.close()

    summary = metrics.as_dict(s2t, setting, args.num_threads, device)
    (out / "metrics.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    logging.info("decoded %d utterances (%d failed), RTF %s", metrics.n_utts, metrics.n_failed,
                 f"{summary['rtf']:.3f}" if summary["rtf"] is not None else "-")
    return 0


if __name__ == "__main__":
    sys.exit(main())
