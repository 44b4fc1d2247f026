#!/usr/bin/env python3
"""Stage 3: turn a data directory into a dump directory of per-utterance audio files.

Every utterance of the output has its own audio file at the target sample rate, mono,
listed in ``wav.scp`` with an absolute path, and its length in ``utt2num_samples``.
Files that already qualify are referenced in place (no copy); segments of long
recordings are cut, other rates or channel counts converted, and the output of Kaldi
``command |`` entries (``sox f.wav -t wav - |``, ``flac -c -d -s f.flac |``) written, with
sox into ``DST/audio/<utt>.flac``. Each audio file is opened (readability check): a missing,
corrupt or empty file stops the stage, naming the wav.scp line and the utterance.

Run in parallel parts, then merge::

    format_audio.py part SRC DST --fs 16000 --job 3 --num_jobs 8   # writes DST/parts/*.3
    format_audio.py merge SRC DST --num_jobs 8                      # writes DST/{wav.scp,...}
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional

import soundfile

from kaldi_dir import DataDir, DataDirError, Segment, audio_info, is_pipe, read_pipe, read_table, validate, write_table
from split_scp import split_evenly


def sox_convert(src: str, dst: Path, fs: int, segment: Optional[Segment] = None) -> None:
    """Write ``src`` (or a segment of it) to ``dst`` at ``fs`` Hz, mono."""
    if shutil.which("sox") is None:
        raise RuntimeError("sox not found: install it (Debian/Ubuntu: apt-get install sox)")
    dst.parent.mkdir(parents=True, exist_ok=True)
    argv = ["sox", src, "-r", str(fs), "-c", "1", "-b", "16", str(dst)]
    if segment is not None:
        argv += ["trim", f"{segment.start:.3f}", f"={segment.end:.3f}"]
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"sox failed on {src}: {done.stderr.strip()}")


def format_utterance(data: DataDir, utt: str, dst: Path, fs: int) -> str:
    """Absolute path of a per-utterance audio file for ``utt`` at ``fs`` Hz, mono.

    A ``command |`` recording is run once per utterance and its output written to a file.
    """
    rec = data.recording_of(utt)
    audio = data.wav_scp[rec]
    segment = data.segments[utt] if data.segments is not None else None
    out = dst / "audio" / f"{utt}.flac"
    if is_pipe(audio):
        samples, rate = read_pipe(audio)
        raw = dst / "audio" / f"{utt}.pipe.wav"
        raw.parent.mkdir(parents=True, exist_ok=True)
        soundfile.write(raw, samples, rate, subtype="FLOAT")
        try:
            sox_convert(str(raw), out, fs, segment)
        finally:
            raw.unlink()
        return str(out.resolve())
    info = audio_info(audio)
    if segment is None and info.samplerate == fs and info.channels == 1:
        return str(Path(audio).resolve())
    sox_convert(audio, out, fs, segment)
    return str(out.resolve())


def format_part(src: Path, dst: Path, fs: int, job: int, num_jobs: int) -> None:
    data = validate(src)
    _, wav_lines = read_table(src / "wav.scp")
    utts = split_evenly(data.utterances, num_jobs)[job - 1]
    wav_scp: Dict[str, str] = {}
    num_samples: Dict[str, str] = {}
    problems: List[str] = []
    for utt in utts:
        rec = data.recording_of(utt)
        try:
            path = format_utterance(data, utt, dst, fs)
            frames = audio_info(path).frames
        except (ValueError, RuntimeError) as e:
            problems.append(f"{src / 'wav.scp'}:{wav_lines[rec]}: utterance '{utt}': {e}")
            continue
        wav_scp[utt] = path
        num_samples[utt] = str(frames)
    if problems:
        raise DataDirError(problems)
    parts = dst / "parts"
    parts.mkdir(parents=True, exist_ok=True)
    write_table(parts / f"wav.scp.{job}", wav_scp)
    write_table(parts / f"utt2num_samples.{job}", num_samples)


def merge(src: Path, dst: Path, num_jobs: int) -> DataDir:
    data = validate(src)
    out = DataDir(text=data.text, utt2spk=data.utt2spk)
    num_samples: Dict[str, str] = {}
    for job in range(1, num_jobs + 1):
        out.wav_scp.update(read_table(dst / "parts" / f"wav.scp.{job}")[0])
        num_samples.update(read_table(dst / "parts" / f"utt2num_samples.{job}")[0])
    missing = [u for u in data.utterances if u not in out.wav_scp]
    if missing:
        raise DataDirError([f"{dst / 'parts'}: no audio written for utterance '{u}'" for u in missing])
    out.save(dst)
    write_table(dst / "utt2num_samples", num_samples)
    shutil.rmtree(dst / "parts")
    return validate(dst)


def _main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("part", help="format one part of the utterances")
    p.add_argument("src", type=Path, help="input data directory")
    p.add_argument("dst", type=Path, help="output dump directory")
    p.add_argument("--fs", type=int, default=16000, help="target sample rate in Hz")
    p.add_argument("--job", type=int, required=True, help="part number, 1..num_jobs")
    p.add_argument("--num_jobs", type=int, required=True, help="number of parts")
    p = sub.add_parser("merge", help="collect the parts into the output dump directory")
    p.add_argument("src", type=Path)
    p.add_argument("dst", type=Path)
    p.add_argument("--num_jobs", type=int, required=True)
    p.add_argument("--fs", type=int, default=16000, help="sample rate, for the summary line")
    args = parser.parse_args(argv)
    try:
        if args.command == "part":
            format_part(args.src, args.dst, args.fs, args.job, args.num_jobs)
        else:
            out = merge(args.src, args.dst, args.num_jobs)
            total = sum(int(v) for v in read_table(args.dst / "utt2num_samples")[0].values())
            print(f"{args.dst}: {len(out.text)} utterances, {total / args.fs:.1f} s ({total / args.fs / 3600:.2f} h)")
    except (DataDirError, ValueError) as e:
        print(f"ERROR: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(_main())
