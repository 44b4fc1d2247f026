#!/usr/bin/env python3
"""Kaldi-style data directories: read, write, validate, fix, combine and subset.

A data directory holds one utterance per line in each of these files, sorted by key:

* ``wav.scp``   ``<recording> <audio file>`` (one file per recording; with ``segments``
  a recording holds several utterances, without it recording == utterance)
* ``text``      ``<utt> <transcript>`` (UTF-8, never empty)
* ``utt2spk``   ``<utt> <speaker>``
* ``spk2utt``   ``<speaker> <utt> <utt> ...`` (derived from ``utt2spk``)
* ``segments``  ``<utt> <recording> <start s> <end s>`` (optional)

Every error names the file, the line and the utterance, so a broken corpus can be fixed
at its source. Command line::

    kaldi_dir.py validate DIR [--check_audio]   # exit 1 listing every problem
    kaldi_dir.py fix DIR                        # sort files, rebuild spk2utt, then validate
    kaldi_dir.py combine OUT_DIR IN_DIR...      # union; duplicate utterance ids are an error
    kaldi_dir.py subset SRC_DIR OUT_DIR --utt_list FILE
"""
from __future__ import annotations

import argparse
import io
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple

MAX_LISTED_PROBLEMS = 20


class DataDirError(ValueError):
    """A data directory (or a corpus file) is malformed; the message lists every problem."""

    def __init__(self, problems: List[str]):
        self.problems = problems
        shown = problems[:MAX_LISTED_PROBLEMS]
        more = len(problems) - len(shown)
        super().__init__("\n".join(shown + ([f"... and {more} more problems"] if more else [])))


@dataclass(frozen=True)
class Segment:
    """Part of a recording: ``start``/``end`` in seconds."""

    recording: str
    start: float
    end: float


def read_table(path: Path, *, allow_empty_value: bool = False) -> Tuple[Dict[str, str], Dict[str, int]]:
    """``key value`` lines of ``path`` -> ({key: value}, {key: line number}).

    Raises :class:`DataDirError` for non-UTF-8 bytes, duplicate keys and (unless
    ``allow_empty_value``) lines without a value, naming ``path:line`` and the key.
    """
    table: Dict[str, str] = {}
    lines: Dict[str, int] = {}
    problems: List[str] = []
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as e:
                key = raw.split(maxsplit=1)[0].decode("utf-8", "replace") if raw.strip() else "?"
                problems.append(f"{path}:{lineno}: utterance '{key}': not valid UTF-8 "
                                f"(byte 0x{raw[e.start]:02x} at column {e.start + 1})")
                continue
            if not line.strip():
                problems.append(f"{path}:{lineno}: empty line")
                continue
            parts = line.strip().split(maxsplit=1)
            key, value = parts[0], (parts[1].strip() if len(parts) > 1 else "")
            if not value and not allow_empty_value:
                what = "an empty transcript" if path.name == "text" else "no value"
                problems.append(f"{path}:{lineno}: utterance '{key}' has {what}")
            if key in table:
                problems.append(f"{path}:{lineno}: '{key}' repeats line {lines[key]}")
                continue
            table[key] = " ".join(value.split())
            lines[key] = lineno
    if problems:
        raise DataDirError(problems)
    return table, lines


def write_table(path: Path, table: Dict[str, str]) -> None:
    """Write ``key value`` lines sorted by key (byte order, as Kaldi's ``LC_ALL=C sort``)."""
    with open(path, "w", encoding="utf-8") as f:
        for key in sorted(table):
            f.write(f"{key} {table[key]}\n")


@dataclass
class DataDir:
    """In-memory data directory; ``segments`` is None when recordings are utterances."""

    wav_scp: Dict[str, str] = field(default_factory=dict)
    text: Dict[str, str] = field(default_factory=dict)
    utt2spk: Dict[str, str] = field(default_factory=dict)
    segments: Optional[Dict[str, Segment]] = None

    @property
    def utterances(self) -> List[str]:
        return sorted(self.text)

    def recording_of(self, utt: str) -> str:
        return self.segments[utt].recording if self.segments is not None else utt

    def add(self, utt: str, speaker: str, transcript: str, audio: str,
            segment: Optional[Segment] = None) -> None:
        """Add one utterance; ``segment`` (recording, times) when ``audio`` is a long recording."""
        if utt in self.text:
            raise DataDirError([f"utterance '{utt}' added twice"])
        self.text[utt] = " ".join(transcript.split())
        self.utt2spk[utt] = speaker
        if segment is None:
            self.wav_scp[utt] = audio
        else:
            if self.segments is None:
                self.segments = {}
            self.segments[utt] = segment
            self.wav_scp[segment.recording] = audio

    @classmethod
    def load(cls, directory: Path) -> "DataDir":
        directory = Path(directory)
        for name in ("wav.scp", "text"):
            if not (directory / name).is_file():
                raise DataDirError([f"{directory}: missing {name}"])
        data = cls(wav_scp=read_table(directory / "wav.scp")[0],
                   text=read_table(directory / "text")[0])
        if (directory / "utt2spk").is_file():
            data.utt2spk = read_table(directory / "utt2spk")[0]
        if (directory / "segments").is_file():
            data.segments = {}
            table, lines = read_table(directory / "segments")
            problems = []
            for utt, value in table.items():
                fields = value.split()
                try:
                    rec, start, end = fields[0], float(fields[1]), float(fields[2])
                    if len(fields) != 3 or not 0 <= start < end:
                        raise ValueError
                except (ValueError, IndexError):
                    problems.append(f"{directory / 'segments'}:{lines[utt]}: utterance '{utt}': "
                                    f"expected '<recording> <start> <end>' with 0 <= start < end, got '{value}'")
                    continue
                data.segments[utt] = Segment(rec, start, end)
            if problems:
                raise DataDirError(problems)
        return data

    def save(self, directory: Path) -> None:
        """Write every file sorted, with ``spk2utt`` derived from ``utt2spk``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        write_table(directory / "wav.scp", self.wav_scp)
        write_table(directory / "text", self.text)
        write_table(directory / "utt2spk", self.utt2spk)
        write_table(directory / "spk2utt", spk2utt(self.utt2spk))
        if self.segments is not None:
            write_table(directory / "segments",
                        {u: f"{s.recording} {s.start:.3f} {s.end:.3f}" for u, s in self.segments.items()})
        elif (directory / "segments").exists():
            (directory / "segments").unlink()

    def subset(self, utts: Iterable[str]) -> "DataDir":
        """The listed utterances (unknown ids are an error) and the recordings they use."""
        utts = sorted(set(utts))
        unknown = [u for u in utts if u not in self.text]
        if unknown:
            raise DataDirError([f"utterance '{u}' is not in the data directory" for u in unknown])
        out = DataDir(text={u: self.text[u] for u in utts},
                      utt2spk={u: self.utt2spk[u] for u in utts})
        if self.segments is not None:
            out.segments = {u: self.segments[u] for u in utts}
        out.wav_scp = {r: self.wav_scp[r] for r in {out.recording_of(u) for u in utts}}
        return out


def spk2utt(utt2spk: Dict[str, str]) -> Dict[str, str]:
    grouped: Dict[str, List[str]] = {}
    for utt in sorted(utt2spk):
        grouped.setdefault(utt2spk[utt], []).append(utt)
    return {spk: " ".join(utts) for spk, utts in grouped.items()}


def _check_sorted(path: Path) -> List[str]:
    keys = [line.split(maxsplit=1)[0] for line in path.read_text(encoding="utf-8").splitlines()]
    for i in range(1, len(keys)):
        if keys[i] < keys[i - 1]:
            return [f"{path}:{i + 1}: not sorted ('{keys[i]}' after '{keys[i - 1]}'); "
                    f"run 'kaldi_dir.py fix {path.parent}'"]
    return []


def is_pipe(audio: str) -> bool:
    """A Kaldi ``command |`` wav.scp entry (e.g. ``flac -c -d -s f.flac |``)."""
    return audio.rstrip().endswith("|")


def read_pipe(audio: str):
    """(samples (n, channels) float32, rate) written by a ``command |`` entry; ValueError
    naming the command when it fails, writes nothing or writes something that is not audio."""
    import soundfile

    command = audio.rstrip()[:-1].strip()
    done = subprocess.run(command, shell=True, capture_output=True)
    if done.returncode != 0:
        error = done.stderr.decode(errors="replace").strip().splitlines()
        raise ValueError(f"command failed (exit {done.returncode}{': ' + error[-1] if error else ''}): {command}")
    if not done.stdout:
        raise ValueError(f"command wrote no audio: {command}")
    try:
        samples, rate = soundfile.read(io.BytesIO(done.stdout), dtype="float32", always_2d=True)
    except Exception as e:  # soundfile raises several exception types for undecodable bytes
        raise ValueError(f"command output is not readable audio ({e}): {command}") from None
    if samples.shape[0] == 0:
        raise ValueError(f"command output has no samples: {command}")
    return samples, rate


@dataclass(frozen=True)
class AudioInfo:
    frames: int
    samplerate: int
    channels: int


def audio_info(audio: str) -> AudioInfo:
    """Length, rate and channels of an audio file or of a ``command |`` entry's output;
    ValueError saying why it cannot be used."""
    import soundfile

    if is_pipe(audio):
        samples, rate = read_pipe(audio)
        return AudioInfo(samples.shape[0], rate, samples.shape[1])
    if not Path(audio).is_file():
        raise ValueError(f"audio file not found: {audio}")
    try:
        info = soundfile.info(audio)
    except Exception as e:  # soundfile raises several exception types for corrupt files
        raise ValueError(f"audio file not readable ({e}): {audio}") from None
    if info.frames <= 0:
        raise ValueError(f"audio file has no samples: {audio}")
    return AudioInfo(info.frames, info.samplerate, info.channels)


def audio_problems(wav_scp_path: Path, data: DataDir) -> List[str]:
    """Missing, unreadable or empty audio files, and segments past the end of their file."""
    _, lines = read_table(wav_scp_path)
    problems = []
    durations: Dict[str, float] = {}
    for rec, audio in data.wav_scp.items():
        try:
            info = audio_info(audio)
        except ValueError as e:
            problems.append(f"{wav_scp_path}:{lines[rec]}: '{rec}': {e}")
            continue
        durations[rec] = info.frames / info.samplerate
    for utt, seg in (data.segments or {}).items():
        if seg.recording in durations and seg.end > durations[seg.recording] + 0.05:
            problems.append(f"{wav_scp_path.parent / 'segments'}: utterance '{utt}' ends at {seg.end:.3f} s, "
                            f"after the end of recording '{seg.recording}' ({durations[seg.recording]:.3f} s)")
    return problems


def validate(directory: Path, check_audio: bool = False) -> DataDir:
    """Load ``directory`` and check it is complete, consistent and sorted.

    Raises :class:`DataDirError` listing every problem found.
    """
    directory = Path(directory)
    data = DataDir.load(directory)
    problems: List[str] = []
    if not (directory / "utt2spk").is_file():
        problems.append(f"{directory}: missing utt2spk")
    _, text_lines = read_table(directory / "text")
    for utt in data.utterances:
        rec = data.recording_of(utt)
        if data.segments is not None and utt not in data.segments:
            problems.append(f"{directory / 'text'}:{text_lines[utt]}: utterance '{utt}' has no entry in "
                            f"{directory / 'segments'}")
        elif rec not in data.wav_scp:
            problems.append(f"{directory / 'text'}:{text_lines[utt]}: utterance '{utt}' has no audio in "
                            f"{directory / 'wav.scp'}" + (f" (recording '{rec}')" if rec != utt else ""))
        if data.utt2spk and utt not in data.utt2spk:
            problems.append(f"{directory / 'text'}:{text_lines[utt]}: utterance '{utt}' has no speaker in "
                            f"{directory / 'utt2spk'}")
    for name, keys in (("utt2spk", data.utt2spk), ("segments", data.segments or {})):
        problems += [f"{directory / name}: utterance '{u}' has no transcript in {directory / 'text'}"
                     for u in sorted(keys) if u not in data.text]
    used = {data.recording_of(u) for u in data.text}
    problems += [f"{directory / 'wav.scp'}: '{r}' is not used by any utterance in {directory / 'text'}"
                 for r in sorted(data.wav_scp) if r not in used]
    if (directory / "spk2utt").is_file():
        if read_table(directory / "spk2utt")[0] != spk2utt(data.utt2spk):
            problems.append(f"{directory / 'spk2utt'}: does not match utt2spk; run 'kaldi_dir.py fix {directory}'")
    elif data.utt2spk:
        problems.append(f"{directory}: missing spk2utt; run 'kaldi_dir.py fix {directory}'")
    for name in ("wav.scp", "text", "utt2spk", "spk2utt", "segments"):
        if (directory / name).is_file():
            problems += _check_sorted(directory / name)
    if check_audio and not problems:
        problems += audio_problems(directory / "wav.scp", data)
    if problems:
        raise DataDirError(problems)
    return data


def fix(directory: Path) -> DataDir:
    """Sort every file and rebuild ``spk2utt``; inconsistencies are reported, not dropped."""
    data = DataDir.load(directory)
    if not data.utt2spk:
        raise DataDirError([f"{directory}: missing utt2spk (one speaker per utterance: "
                            f"write '<utt> <utt>' lines if speakers are unknown)"])
    data.save(directory)
    return validate(directory)


def combine(out_dir: Path, in_dirs: List[Path]) -> DataDir:
    """Union of data directories; an utterance or recording id in two of them is an error."""
    out = DataDir()
    origin: Dict[str, Path] = {}
    problems = []
    for directory in in_dirs:
        data = validate(directory)
        for utt in data.utterances:
            if utt in origin:
                problems.append(f"utterance '{utt}' is in both {origin[utt]} and {directory}")
                continue
            origin[utt] = directory
            seg = data.segments[utt] if data.segments is not None else None
            rec = data.recording_of(utt)
            if rec in out.wav_scp and out.wav_scp[rec] != data.wav_scp[rec]:
                problems.append(f"recording '{rec}' points to different audio in {directory} and earlier dirs")
            out.add(utt, data.utt2spk[utt], data.text[utt], data.wav_scp[rec], seg)
    if problems:
        raise DataDirError(problems)
    if out.segments is not None and len(out.segments) != len(out.text):
        raise DataDirError([f"cannot combine directories with and without segments: {in_dirs}"])
    out.save(out_dir)
    return out


def _main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("validate", help="check a data directory; exit 1 listing every problem")
    p.add_argument("dir", type=Path)
    p.add_argument("--check_audio", action="store_true", help="also open every audio file")
    p = sub.add_parser("fix", help="sort files and rebuild spk2utt, then validate")
    p.add_argument("dir", type=Path)
    p = sub.add_parser("combine", help="union of data directories")
    p.add_argument("out_dir", type=Path)
    p.add_argument("in_dirs", type=Path, nargs="+")
    p = sub.add_parser("subset", help="keep the utterances listed (first column) in --utt_list")
    p.add_argument("src_dir", type=Path)
    p.add_argument("out_dir", type=Path)
    p.add_argument("--utt_list", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        if args.command == "validate":
            data = validate(args.dir, check_audio=args.check_audio)
            print(f"{args.dir}: OK ({len(data.text)} utterances, {len(set(data.utt2spk.values()))} speakers)")
        elif args.command == "fix":
            data = fix(args.dir)
            print(f"{args.dir}: sorted, spk2utt rebuilt ({len(data.text)} utterances)")
        elif args.command == "combine":
            data = combine(args.out_dir, args.in_dirs)
            print(f"{args.out_dir}: {len(data.text)} utterances from {len(args.in_dirs)} directories")
        else:
            keys = [line.split()[0] for line in args.utt_list.read_text(encoding="utf-8").splitlines() if line.strip()]
            validate(args.src_dir).subset(keys).save(args.out_dir)
            print(f"{args.out_dir}: {len(keys)} utterances from {args.src_dir}")
    except DataDirError as e:
        print(f"ERROR: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(_main())
