#!/usr/bin/env python3
"""Stage 2: speed-perturbed copies of a training data directory (sox ``speed``).

For each factor f != 1 every utterance gets a copy ``sp<f>-<utt>`` whose audio is
resampled by sox to play f times faster (pitch and tempo change together), spoken by
``sp<f>-<speaker>``; transcripts are unchanged. Factor 1.0 keeps the original utterances
(their audio is referenced in place, or cut into files when the source has segments).

Audio is written in parallel parts, then the data directory is written::

    speed_perturb.py audio SRC DST --factors "0.9 1.0 1.1" --job 2 --num_jobs 4
    speed_perturb.py data  SRC DST --factors "0.9 1.0 1.1"
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path
from typing import List, Optional, Tuple

from kaldi_dir import DataDir, DataDirError, validate
from split_scp import split_evenly


def parse_factors(text: str) -> List[float]:
    try:
        factors = [float(f) for f in text.split()]
    except ValueError:
        raise ValueError(f"speed factors must be numbers, got '{text}'") from None
    if not factors or any(f <= 0 for f in factors) or len(set(factors)) != len(factors):
        raise ValueError(f"speed factors must be distinct positive numbers, got '{text}'")
    return factors


def prefix(factor: float) -> str:
    """``sp0.9-`` for 0.9; empty for 1.0 (the original utterances keep their ids)."""
    return "" if factor == 1.0 else f"sp{factor:g}-"


def output_audio(dst: Path, factor: float, utt: str) -> Path:
    return (dst / "audio" / f"sp{factor:g}" / f"{utt}.flac").resolve()


def needs_audio(data: DataDir, factor: float) -> bool:
    return factor != 1.0 or data.segments is not None


def perturb(src_audio: str, dst: Path, factor: float, start_end: Optional[Tuple[float, float]]) -> None:
    if shutil.which("sox") is None:
        raise RuntimeError("sox not found: install it (Debian/Ubuntu: apt-get install sox)")
    dst.parent.mkdir(parents=True, exist_ok=True)
    argv = ["sox", src_audio, "-b", "16", str(dst)]
    if start_end is not None:
        argv += ["trim", f"{start_end[0]:.3f}", f"={start_end[1]:.3f}"]
    if factor != 1.0:
        argv += ["speed", f"{factor:g}"]  # sox resamples back to the input rate
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"sox failed on {src_audio}: {done.stderr.strip()}")


def write_audio(src: Path, dst: Path, factors: List[float], job: int, num_jobs: int) -> None:
    data = validate(src)
    problems = []
    for utt in split_evenly(data.utterances, num_jobs)[job - 1]:
        audio = data.wav_scp[data.recording_of(utt)]
        seg = data.segments[utt] if data.segments is not None else None
        for factor in factors:
            if not needs_audio(data, factor):
                continue
            try:
                perturb(audio, output_audio(dst, factor, utt), factor, (seg.start, seg.end) if seg else None)
            except RuntimeError as e:
                problems.append(f"{src / 'wav.scp'}: utterance '{utt}' (speed {factor:g}): {e}")
    if problems:
        raise DataDirError(problems)


def write_data(src: Path, dst: Path, factors: List[float]) -> DataDir:
    data = validate(src)
    out = DataDir()
    for factor in factors:
        for utt in data.utterances:
            audio = output_audio(dst, factor, utt)
            if needs_audio(data, factor) and not audio.is_file():
                raise DataDirError([f"{audio}: missing; run 'speed_perturb.py audio' for every job first"])
            out.add(prefix(factor) + utt, prefix(factor) + data.utt2spk[utt], data.text[utt],
                    str(audio) if needs_audio(data, factor) else data.wav_scp[utt])
    out.save(dst)
    return out


def _main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (("audio", "write the perturbed audio of one part"),
                            ("data", "write the perturbed data directory")):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("src", type=Path, help="input data directory")
        p.add_argument("dst", type=Path, help="output data directory")
        p.add_argument("--factors", required=True, help='speed factors, e.g. "0.9 1.0 1.1"')
        if name == "audio":
            p.add_argument("--job", type=int, required=True, help="part number, 1..num_jobs")
            p.add_argument("--num_jobs", type=int, required=True, help="number of parts")
    args = parser.parse_args(argv)
    try:
        factors = parse_factors(args.factors)
        if args.command == "audio":
            write_audio(args.src, args.dst, factors, args.job, args.num_jobs)
        else:
            out = write_data(args.src, args.dst, factors)
            print(f"{args.dst}: {len(out.text)} utterances (speed factors {args.factors})")
    except (DataDirError, ValueError) as e:
        print(f"ERROR: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(_main())
